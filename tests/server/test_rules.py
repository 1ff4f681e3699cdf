"""Engine rules (budai_server.engine.rules): gates, branches, retries, final status, outputs."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from budai_async.pipeline.definition import Branch, RetryPolicy
from budai_server.engine import rules
from budai_server.engine.rules import RUN, WAIT, DepState, Gate

D = DepState
SKIP: Literal["skip"] = "skip"

GATES: list[tuple[str, list[DepState], bool, Gate]] = [
    ("no deps runs", [], False, RUN),
    ("all completed runs", [D("completed"), D("completed")], False, RUN),
    ("a running dep waits", [D("completed"), D("running")], False, WAIT),
    ("a retrying dep waits", [D("retrying")], False, WAIT),
    ("a pending dep waits even when another failed", [D("failed"), D("pending")], False, WAIT),
    ("failed dep skips", [D("completed"), D("failed")], False, Gate(SKIP, rules.UPSTREAM_FAILED)),
    ("timed-out dep skips", [D("timeout")], False, Gate(SKIP, rules.UPSTREAM_FAILED)),
    ("cancelled dep skips", [D("cancelled")], False, Gate(SKIP, rules.UPSTREAM_FAILED)),
    (
        "failure flows through skips",
        [D("completed"), D("skipped", rules.UPSTREAM_FAILED)],
        False,
        Gate(SKIP, rules.UPSTREAM_FAILED),
    ),
    (
        "all skipped skips",
        [D("skipped", rules.CONDITION_FALSE), D("skipped", rules.BRANCH_NOT_TAKEN)],
        False,
        Gate(SKIP, rules.UPSTREAM_SKIPPED),
    ),
    ("a join runs if any branch ran", [D("completed"), D("skipped", rules.BRANCH_NOT_TAKEN)], False, RUN),
    (
        "failed beats skipped",
        [D("skipped", rules.CONDITION_FALSE), D("failed")],
        False,
        Gate(SKIP, rules.UPSTREAM_FAILED),
    ),
    (
        "branch exclusion wins at once",
        [D("running"), D("completed", excludes=True)],
        False,
        Gate(SKIP, rules.BRANCH_NOT_TAKEN),
    ),
    ("status-aware waits for running deps", [D("running")], True, WAIT),
    ("status-aware runs after a failure", [D("failed")], True, RUN),
    ("status-aware runs after a timeout", [D("timeout")], True, RUN),
    ("status-aware runs after skips", [D("skipped", rules.UPSTREAM_FAILED)], True, RUN),
    (
        "status-aware still honours branches",
        [D("completed", excludes=True)],
        True,
        Gate(SKIP, rules.BRANCH_NOT_TAKEN),
    ),
]


@pytest.mark.parametrize(("case", "deps", "status_aware", "expected"), GATES, ids=[g[0] for g in GATES])
def test_gate(case: str, deps: list[DepState], status_aware: bool, expected: Gate) -> None:
    assert rules.gate(deps, status_aware=status_aware) == expected


@pytest.mark.parametrize(
    ("output", "step", "expected"),
    [
        ({"result": True, "branch": "on_true"}, "a", False),
        ({"result": True, "branch": "on_true"}, "b", True),
        ({"result": False, "branch": "on_false"}, "a", True),
        ({"result": False, "branch": "on_false"}, "b", False),
        ({"result": False}, "both", False),  # a target of both branches always runs
        ({"result": True}, "other", False),  # not a target at all
        ({"result": "yes"}, "b", False),  # not a boolean result: no exclusion
        (None, "b", False),
    ],
)
def test_branch_excludes(output: Any, step: str, expected: bool) -> None:
    branch = Branch(on_true=("a", "both"), on_false=("b", "both"))
    assert rules.branch_excludes(branch, output, step) is expected


@pytest.mark.parametrize(
    ("policy", "attempts", "expected"),
    [
        (RetryPolicy(initial_delay_seconds=1, backoff_multiplier=2, max_delay_seconds=60), 1, 1.0),
        (RetryPolicy(initial_delay_seconds=1, backoff_multiplier=2, max_delay_seconds=60), 2, 2.0),
        (RetryPolicy(initial_delay_seconds=1, backoff_multiplier=2, max_delay_seconds=60), 3, 4.0),
        (RetryPolicy(initial_delay_seconds=1, backoff_multiplier=2, max_delay_seconds=5), 4, 5.0),
        (RetryPolicy(initial_delay_seconds=0.5, backoff_multiplier=3, max_delay_seconds=60), 3, 4.5),
        (RetryPolicy(initial_delay_seconds=2, backoff_multiplier=1, max_delay_seconds=60), 7, 2.0),
        (RetryPolicy(initial_delay_seconds=0, backoff_multiplier=2, max_delay_seconds=60), 3, 0.0),
        (RetryPolicy(initial_delay_seconds=1, backoff_multiplier=100, max_delay_seconds=9), 99, 9.0),
    ],
)
def test_retry_delay_formula(policy: RetryPolicy, attempts: int, expected: float) -> None:
    assert rules.retry_delay(policy, attempts) == pytest.approx(expected)


THREE = RetryPolicy(max_attempts=3, initial_delay_seconds=1, backoff_multiplier=2)


@pytest.mark.parametrize(
    ("policy", "attempts", "failure", "now", "deadline", "expected"),
    [
        (THREE, 1, "error", 0.0, None, 1.0),
        (THREE, 2, "error", 0.0, None, 2.0),
        (THREE, 3, "error", 0.0, None, None),  # max_attempts counts every attempt
        (THREE, 1, "timeout", 0.0, None, 1.0),  # step timeouts are retried
        (THREE, 1, "template", 0.0, None, None),
        (THREE, 1, "validation", 0.0, None, None),
        (THREE, 1, "condition", 0.0, None, None),
        (THREE, 1, "fatal", 0.0, None, None),
        (RetryPolicy(), 1, "error", 0.0, None, None),  # default: one attempt
        (THREE, 1, "error", 10.0, 12.0, 1.0),
        (THREE, 2, "error", 10.0, 12.0, None),  # would start at the deadline
        (THREE, 1, "error", 10.0, 10.5, None),  # would start past it
    ],
)
def test_next_retry(
    policy: RetryPolicy,
    attempts: int,
    failure: rules.Failure,
    now: float,
    deadline: float | None,
    expected: float | None,
) -> None:
    assert (
        rules.next_retry(policy, attempts=attempts, failure=failure, now=now, deadline=deadline) == expected
    )


@pytest.mark.parametrize(
    ("cancelled", "timed_out", "statuses", "expected"),
    [
        (False, False, ["completed", "skipped"], "completed"),
        (False, False, [], "completed"),
        (False, False, ["completed", "failed", "completed"], "failed"),  # even when a handler ran after
        (False, False, ["timeout", "completed"], "failed"),
        (False, True, ["completed", "timeout"], "timeout"),
        (True, True, ["cancelled"], "cancelled"),
        (True, False, ["completed"], "cancelled"),
        (False, False, ["skipped", "skipped"], "completed"),
    ],
)
def test_final_status(cancelled: bool, timed_out: bool, statuses: list[str], expected: str) -> None:
    assert rules.final_status(cancelled=cancelled, timed_out=timed_out, step_statuses=statuses) == expected


def test_merge_sink_outputs_takes_completed_dict_outputs_in_order() -> None:
    steps = {
        "a": ("completed", {"x": 1, "y": 1}),
        "b": ("completed", {"y": 2}),
        "c": ("skipped", None),
        "d": ("failed", {"z": 3}),
        "e": ("completed", ["not", "a", "dict"]),
    }
    assert rules.merge_sink_outputs(["a", "b", "c", "d", "e", "missing"], steps) == {"x": 1, "y": 2}


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], (0, 0, 100.0)),
        (["pending", "running"], (0, 2, 0.0)),
        (["completed", "skipped", "running"], (2, 3, 66.67)),
        (["failed", "cancelled", "timeout", "completed"], (4, 4, 100.0)),
    ],
)
def test_progress(statuses: list[str], expected: tuple[int, int, float]) -> None:
    assert rules.progress(statuses) == expected


@pytest.mark.parametrize(
    ("status", "skip_reason", "seen"),
    [
        ("skipped", "upstream_failed", "failed"),  # never ran because something above it failed
        ("skipped", "condition_false", "skipped"),
        ("skipped", "upstream_skipped", "skipped"),
        ("skipped", "branch_not_taken", "skipped"),
        ("failed", None, "failed"),
        ("timeout", None, "timeout"),
        ("completed", None, "completed"),
        ("pending", None, "pending"),
    ],
)
def test_status_seen_by_conditions(status: str, skip_reason: str | None, seen: str) -> None:
    assert rules.visible_status(status, skip_reason) == seen
