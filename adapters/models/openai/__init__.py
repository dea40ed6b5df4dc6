"""OpenAI and every OpenAI-compatible server, through the official SDK."""
