"""The HTTP face: the shop's till and web shop call the same core actions as the staff commands."""
