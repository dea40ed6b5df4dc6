"""The console as a messenger: lines in, the bot's messages printed out (no network)."""
