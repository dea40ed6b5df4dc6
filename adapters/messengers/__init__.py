"""Messengers: one package per platform, each turning its events into the core's
``Incoming`` and rendering the core's replies."""
