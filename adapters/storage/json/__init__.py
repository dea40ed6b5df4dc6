"""Accounts in data.json (the older bot's format), with a journal beside it."""
