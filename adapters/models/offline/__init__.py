"""The offline model and media makers: no network, no key; the console's default."""
