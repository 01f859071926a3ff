"""Messages the bot sends on its own: to a member after a staff action, and scheduled ones."""
