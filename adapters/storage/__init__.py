"""Storage adapters: data.json for accounts, a JSON-lines file for reply-chain nodes."""
