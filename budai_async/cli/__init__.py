"""The `budai` command: one module per command group, `main` is the entry point.

May import anything in `budai_async`; the server only lazily, for `budai serve`.
"""

from budai_async.cli.main import (
    main,
)

__all__ = [
    "main",
]
