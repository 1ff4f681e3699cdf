"""SQLite persistence: pipelines, executions and steps (`database`), row codecs, batch writes,
idempotency records, the platform inventory, and the schema.

May import `budai_async.models` and server leaf modules; never routes, the engine or the outbox.
"""
