"""The Mini App in headless Chromium, launched as Telegram launches it (issue 16)."""
