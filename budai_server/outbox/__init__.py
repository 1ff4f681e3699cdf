"""Signed callback delivery: which callbacks an ending execution owes (`rules`), their durable
rows (`store`) and the worker that delivers them (`delivery`).

May import `store/` and `budai_async.webhooks`; never routes.
"""
