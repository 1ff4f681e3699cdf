"""Execution logs and status fan-out: the durable log store, the in-process bus followers read
from, and the watch hub that pushes execution status changes.

May import `store/`; never routes.
"""
