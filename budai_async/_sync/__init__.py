"""The synchronous client: `BudClient` and the sync forms of pagers and streams it returns."""

from budai_async._sync._iterators import SyncPager, SyncStream
from budai_async._sync._loop import EventLoopError
from budai_async._sync.client import BudClient

__all__ = ["BudClient", "EventLoopError", "SyncPager", "SyncStream"]
