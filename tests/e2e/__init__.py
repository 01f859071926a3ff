"""End to end: the real ``bashgah run`` process against the fake Bot API."""
