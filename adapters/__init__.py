"""Adapters: the outside world behind the core's ports (``core.ports``), one folder a family.

- ``messengers/``  one package per messenger (``telegram``, ``console``): platform events in as
  ``Incoming``, the core's replies out; a new messenger is a new package here.
- ``models/``      one package per model provider (``openai`` for every OpenAI-compatible
  server, ``offline``): chat, transcription, pictures, token counting, what is known of models.
- ``storage/``     one package per store (``json``, ``sqlite``, ``postgres``, ``memory``) and,
  beside them, the pieces they share (holds, group commit, crash-safe files, attachments).
- ``documents/``   files people send, read into text.
- ``media/``       what media bytes are (a picture's size, a recording's length): shared by the
  messengers and the providers, importing neither.
- ``clock.py``     the system clock and a fake one.

Families do not import each other (import-linter contracts in pyproject.toml); the composition
root (``entrypoints.bootstrap``) puts them together.
"""
