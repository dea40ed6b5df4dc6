"""The domain of the bot: no I/O, no SDKs, only the standard library and attrs."""
