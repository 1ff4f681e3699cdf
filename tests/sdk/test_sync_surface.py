"""What type checkers see of `BudClient` and `with_raw_response`: the generated `budai_async/_surface`.

The run-time proxies wrap the async resources by inspection, so without the generated Protocols
``BudClient().executions`` would be `Any` to mypy and to editors. These tests check that the
generated files are current, list exactly the methods the proxies serve, and that mypy reads real
types (and real errors) off a user's code.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from budai_async import AsyncBudClient, BudClient
from budai_async._surface import AsyncRawResponses, SyncRawResponses, SyncResources
from budai_async._sync._proxy import is_resource

ROOT = Path(__file__).resolve().parents[2]


def test_the_generated_files_are_current() -> None:
    run = subprocess.run(
        [sys.executable, "tools/gen_sync_surface.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def public_methods(value: object) -> set[str]:
    return {name for name in dir(value) if not name.startswith("_") and callable(getattr(value, name))}


def declared_methods(view: type) -> set[str]:
    return {name for name, value in vars(view).items() if not name.startswith("_") and callable(value)}


def view(resource: str, prefix: str) -> type:
    name = prefix + "".join(part.title() for part in resource.split("_"))
    return getattr(importlib.import_module(f"budai_async._surface.{resource}"), name)  # type: ignore[no-any-return]


def parameters(function: object) -> list[tuple[str, inspect._ParameterKind]]:
    """Names and kinds of the parameters (an @overload-ed name is checked by the mypy test instead:
    at run time it is typing's placeholder)."""
    return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]  # type: ignore[arg-type]


def overloaded(view: type) -> set[str]:
    return {name for name in declared_methods(view) if getattr(view, name).__name__ == "_overload_dummy"}


def async_parameters(resource: object, name: str) -> list[tuple[str, inspect._ParameterKind]]:
    """The async method's parameters; a hook that hands its arguments to a batch function, that one's."""
    found = parameters(getattr(type(resource), name))
    if [n for n, _ in found] == ["self", "args", "kwargs"]:
        batch_function = getattr(importlib.import_module("budai_async.batch._fanout"), name)
        found = [("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *parameters(batch_function)[1:]]
    return found


async def test_every_resource_and_method_the_proxies_serve_is_declared(bud_client: AsyncBudClient) -> None:
    resources = {
        name
        for name in vars(bud_client)
        if not name.startswith("_") and is_resource(getattr(bud_client, name))
    }
    settings = set(SyncResources.__annotations__) - resources - {"with_raw_response"}
    assert set(SyncResources.__annotations__) >= resources | {"with_raw_response"}
    assert {"base_url", "timeout", "max_retries"} <= settings
    assert all(isinstance(getattr(AsyncBudClient, name), property) for name in settings)
    assert set(SyncRawResponses.__annotations__) == set(AsyncRawResponses.__annotations__) == resources
    assert set(vars(bud_client.with_raw_response)) == resources
    for name in resources:
        resource = getattr(bud_client, name)
        sync_view = view(name, "Sync")
        assert declared_methods(sync_view) == public_methods(resource), name
        for method in declared_methods(sync_view) - overloaded(sync_view):
            declared = parameters(getattr(sync_view, method))
            assert declared == async_parameters(resource, method), f"{name}.{method}"
            assert not inspect.iscoroutinefunction(getattr(sync_view, method))


def test_budclient_takes_and_shows_the_async_clients_options() -> None:
    assert inspect.signature(BudClient).parameters == inspect.signature(AsyncBudClient).parameters


@pytest.mark.parametrize("prefix", ["SyncRaw", "AsyncRaw"])
def test_raw_views_take_the_same_arguments_as_the_plain_calls(prefix: str) -> None:
    for name in SyncRawResponses.__annotations__:
        raw_view, sync_view = view(name, prefix), view(name, "Sync")
        assert declared_methods(raw_view) <= declared_methods(sync_view)
        assert "get" in declared_methods(raw_view)
        for method in declared_methods(raw_view) - overloaded(raw_view) - overloaded(sync_view):
            function = getattr(raw_view, method)
            assert parameters(function) == parameters(getattr(sync_view, method)), f"{name}.{method}"
            assert inspect.iscoroutinefunction(function) is (prefix == "AsyncRaw")


USER_CODE = """
from budai_async import AsyncBudClient, BudClient


def sync_calls(client: BudClient) -> None:
    reveal_type(client.executions.get("exec_1"))
    reveal_type(client.executions.create("pipe_1", params={"a": 1}, wait=True, timeout=5))
    reveal_type(client.executions.list(status="failed"))
    for execution in client.executions.list():
        reveal_type(execution)
    reveal_type(client.executions.logs("exec_1"))
    reveal_type(client.executions.logs("exec_1", follow=True))
    reveal_type(client.executions.logs("exec_1", follow=bool(len("x"))))
    reveal_type(client.executions.create_many("pipe_1", [{"a": 1}]))
    reveal_type(client.executions.as_completed(["exec_1"]))
    reveal_type(client.schedules.next_runs("sch_1"))
    reveal_type(client.with_raw_response.executions.get("exec_1"))
    reveal_type(client.with_raw_response.pipelines.list())
    reveal_type(client.with_options(max_retries=1).pipelines.get("pipe_1"))
    reveal_type(client.base_url)
    BudClient(base_url="http://127.0.0.1:8080", max_retries=1, timeot=3)
    client.executions.get(1)
    client.executions.nope()


async def async_calls(client: AsyncBudClient) -> None:
    reveal_type(await client.with_raw_response.webhooks.get("wh_1"))
"""

EXPECTED = [
    'note: Revealed type is "budai_async.models.Execution"',
    'note: Revealed type is "budai_async.models.Execution"',
    'note: Revealed type is "budai_async._sync._iterators.SyncPager[budai_async.models.Execution]"',
    'note: Revealed type is "budai_async.models.Execution"',
    'note: Revealed type is "list[budai_async.models.LogEntry]"',
    'note: Revealed type is "budai_async._sync._iterators.SyncStream[budai_async.models.LogEntry]"',
    'note: Revealed type is "list[budai_async.models.LogEntry] | '
    'budai_async._sync._iterators.SyncStream[budai_async.models.LogEntry]"',
    'note: Revealed type is "budai_async.batch.result.BatchResult"',
    'note: Revealed type is "budai_async._sync._iterators.SyncStream[budai_async.models.Execution]"',
    'note: Revealed type is "list[datetime.datetime]"',
    'note: Revealed type is "budai_async._raw.APIResponse[budai_async.models.Execution]"',
    'note: Revealed type is "budai_async._raw.APIResponse['
    'budai_async.pagination.PageList[budai_async.models.Pipeline]]"',
    'note: Revealed type is "budai_async.models.Pipeline"',
    'note: Revealed type is "str"',
    'error: Unexpected keyword argument "timeot" for "BudClient"  [call-arg]',
    'error: Argument 1 to "get" of "SyncExecutions" has incompatible type "int"; expected "str"  [arg-type]',
    'error: "SyncExecutions" has no attribute "nope"  [attr-defined]',
    'note: Revealed type is "budai_async._raw.APIResponse[budai_async.trigger_models.WebhookTrigger]"',
]


@pytest.mark.slow
def test_mypy_reads_real_types_and_real_errors_off_user_code(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is a dev dependency")
    user_code = tmp_path / "user_code.py"
    user_code.write_text(USER_CODE)
    out, err, _ = api.run(
        [str(user_code), "--strict", "--config-file", "", "--cache-dir", str(tmp_path / "cache")]
    )
    found = [  # older mypy releases spell builtins in full
        re.sub(r"; did you mean .*?(  \[)", r"\1", line.partition(": ")[2].replace("builtins.", ""))
        for line in out.splitlines()
        if line.startswith(str(user_code)) and ("error:" in line or "Revealed type" in line)
    ]
    assert found == EXPECTED, out + err


ODD_RESOURCE = """
from collections.abc import AsyncIterator, Awaitable

from budai_async.resources._base import Resource


class StaticResource(Resource):
    @staticmethod
    def sign(body: bytes) -> str: ...


class EitherResource(Resource):
    def either(self, follow: bool) -> Awaitable[int] | AsyncIterator[int]: ...
"""


def test_the_generator_refuses_shapes_it_cannot_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shape the proxy serves differently from what a plain copy would say stops the generator;
    a union is mirrored member by member (an awaitable one awaited, as the proxy does)."""
    (tmp_path / "odd_resources.py").write_text(ODD_RESOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = importlib.util.spec_from_file_location("gen_sync_surface", ROOT / "tools" / "gen_sync_surface.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gen_sync_surface", generator)  # its dataclasses look it up
    spec.loader.exec_module(generator)
    odd = importlib.import_module("odd_resources")
    with pytest.raises(generator.SurfaceError, match="only @overload"):
        generator.resource_methods(odd.StaticResource)
    text = generator.resource_module("either", odd.EitherResource)  # awaited or wrapped, by value
    assert "def either(self, follow: bool) -> int | SyncStream[int]:" in text
