"""Bashgah's Telegram face: the python-telegram-bot application, handlers and the CLI."""
