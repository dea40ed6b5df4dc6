"""Examples: messengers built on the core, each in one file, each tested (tests/e2e)."""
