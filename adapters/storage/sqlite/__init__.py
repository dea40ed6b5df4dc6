"""Reply-chain nodes in an SQLite file beside data.json."""
