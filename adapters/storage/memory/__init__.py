"""Stores that live in memory: tests, the benchmark and a bot with nothing to keep."""
