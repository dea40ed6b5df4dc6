"""Composition roots: read the settings, build the adapters, hand them to the core, run."""
