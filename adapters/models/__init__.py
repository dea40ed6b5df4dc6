"""Model providers: one package per provider, each implementing the core's model ports
(chat, transcription, pictures, token counting)."""
