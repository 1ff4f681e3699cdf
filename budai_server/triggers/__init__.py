"""Things that start executions without a client asking: schedules (cron, ``@every`` intervals,
one-time), inbound webhook triggers and event triggers (one pipeline's end starts another).

`timing` and `catchup` are pure (instants in, instants and decisions out); `schema` holds the
component's migrations; `schedule_store`, `webhook_store` and `event_store` are the SQLite rows;
`firing` is the schedule loop, `events` the terminal listener of event triggers, `launch` the one
transaction that claims a firing and stores its execution. May import `store/`, `scheduler` and
`budai_async`; never `routes/` (the HTTP side lives in ``routes/schedules.py`` and friends).
"""
