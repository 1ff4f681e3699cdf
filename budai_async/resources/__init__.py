"""Resource groups hung off `AsyncBudClient`: `pipelines`, `executions`, `actions`."""

from budai_async.resources.actions import ActionsResource
from budai_async.resources.executions import ExecutionsResource
from budai_async.resources.pipelines import PipelinesResource

__all__ = ["ActionsResource", "ExecutionsResource", "PipelinesResource"]
