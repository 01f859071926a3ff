"""Bashgah's loyalty domain: rules, storage and services, with no Telegram code."""
