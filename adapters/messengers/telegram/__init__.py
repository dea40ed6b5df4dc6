"""Telegram through Telethon: formatting, splitting, sending, reading and running the bot."""
