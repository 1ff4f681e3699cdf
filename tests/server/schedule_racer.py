"""A separate process that ticks the schedule loop on a shared database (for the racing test).

Usage: ``python schedule_racer.py DB START_ISO STEP_MINUTES STEPS``; prints how many executions
this process launched. The scheduler is never started: the launched executions stay `pending`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from budai_server.scheduler import Scheduler
from budai_server.store.database import Store
from budai_server.triggers.clock import FakeClock
from budai_server.triggers.firing import ScheduleLoop
from budai_server.triggers.schema import TRIGGERS_COMPONENT, TRIGGERS_MIGRATIONS


def prepare(_definition: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    return dict(params)


async def main(db: str, start: str, step_minutes: int, steps: int) -> None:
    store = Store(db)
    store.register_migrations(TRIGGERS_COMPONENT, TRIGGERS_MIGRATIONS)
    async with store:
        clock = FakeClock(datetime.fromisoformat(start))
        loop = ScheduleLoop(store, Scheduler(store, max_concurrent=1), prepare, lambda: clock)
        launched = 0
        for step in range(1, steps + 1):
            launched += len(await loop.tick(clock.now() + timedelta(minutes=step * step_minutes)))
    print(launched)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
