"""`budai_async.__all__` is honest: every name exists, is the real object, and the list is complete."""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path

import budai_async
from budai_async import errors, models

INIT = Path(budai_async.__file__)


def test_all_names_exist_and_are_unique() -> None:
    assert len(budai_async.__all__) == len(set(budai_async.__all__))
    for name in budai_all():
        assert hasattr(budai_async, name), name


def budai_all() -> list[str]:
    return list(budai_async.__all__)


def test_all_lists_exactly_the_explicit_imports() -> None:
    tree = ast.parse(INIT.read_text())
    imported = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == set(budai_async.__all__)


def test_every_error_class_is_exported() -> None:
    for name in errors.__all__:
        if inspect.isclass(getattr(errors, name)):
            assert name in budai_async.__all__, name


def test_guide_imports_work() -> None:
    from budai_async import AsyncBudClient, NotFoundError, TimeoutError

    assert issubclass(TimeoutError, builtins.TimeoutError)
    assert issubclass(NotFoundError, budai_async.BudError)
    assert AsyncBudClient is budai_async._client.AsyncBudClient


def test_models_are_the_shared_ones() -> None:
    for name in ("Pipeline", "Execution", "StepRun", "LogEntry", "Action", "ValidationResult"):
        assert getattr(budai_async, name) is getattr(models, name)


def test_the_guide_import_line_gives_the_sync_client() -> None:
    from budai_async import BudClient, EventLoopError, NotFoundError, TimeoutError

    assert BudClient is budai_async._sync.client.BudClient
    assert issubclass(EventLoopError, budai_async.BudError) and issubclass(EventLoopError, RuntimeError)
    assert (NotFoundError, TimeoutError) == (errors.NotFoundError, errors.TimeoutError)
