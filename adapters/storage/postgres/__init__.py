"""Accounts and reply chains in PostgreSQL, for bots that outgrow one machine.

Selected by ``DATABASE_URL``; data.json stays the default. See the README, "PostgreSQL".

- ``accounts.PostgresAccountStore``: balances, holds with a lease, totals (``AccountStore``).
- ``threads.PostgresThreadStore``: reply-chain nodes (``ThreadStore``).
- ``receiver.ReceiverLock``: one receiving process, any number of standbys.
- ``transfer.import_data_json`` / ``transfer.export_data_json``: data.json in and out.
- ``migrate.migrate``: the schema, from the SQL files in ``migrations/``.
"""
