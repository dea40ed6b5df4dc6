"""Stores: accounts (``AccountStore``) and reply-chain nodes (``ThreadStore``).

One package per store: ``json`` (accounts in data.json, the older bot's format, with a journal),
``sqlite`` (reply chains in a file beside data.json), ``postgres`` (both, for several
processes), ``memory`` (both, for tests and trying things out). The modules here are what they
share: in-memory holds, group commit, crash-safe file writing, the attachments column.
"""
