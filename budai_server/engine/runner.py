"""The asyncio driver of one execution: starts ready steps, gates, retries, times out, cancels.

Every decision comes from `budai_server.engine.rules` and every template from
`budai_server.engine.templates`; this module only runs coroutines, keeps step states, reports each
change through `RunContext.report_step` and writes log lines through `RunContext.log`.
See `budai_server.engine.types` for the contract (including cancellation).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from budai_async.errors import ValidationError
from budai_async.pipeline._params_schema import apply_defaults, check_value, coerce_to_strings
from budai_async.pipeline.definition import Definition, Step, parse_definition, resolve_params
from budai_server.actions.registry import (
    ActionContext,
    ActionRegistry,
    ActionSettings,
    RegisteredAction,
    StepLog,
)
from budai_server.engine import rules, templates
from budai_server.engine.metering import Meter, metered
from budai_server.engine.types import RunContext, RunResult, StepState
from budai_server.store.inventory import Inventory

if TYPE_CHECKING:
    import aiohttp

__all__ = ["ExecutionRunner"]

_PLAN_CACHE_SIZE = 256
_ACTIVE = frozenset({"running", "retrying"})


class ExecutionRunner:
    """Runs executions with the given actions, inventory and HTTP session (shared, not owned)."""

    def __init__(
        self,
        actions: ActionRegistry,
        inventory: Inventory,
        http: aiohttp.ClientSession | None = None,
        *,
        settings: ActionSettings | None = None,
        render_max_seconds: float = templates.MAX_RENDER_SECONDS,
    ) -> None:
        self.actions = actions
        self.inventory = inventory
        self.http = http
        self.settings = settings or ActionSettings()
        self.render_max_seconds = render_max_seconds  # time budget of each template render
        self._plans: OrderedDict[str, Definition] = OrderedDict()

    def plan(self, definition: Mapping[str, Any]) -> Definition:
        """Parse a definition against the registry, cached by content and registry version.

        Raises `budai_async.errors.ValidationError`.
        """
        try:
            key = f"{self.actions.version}:{json.dumps(definition, sort_keys=True, separators=(',', ':'))}"
        except (TypeError, ValueError):
            return parse_definition(definition, self.actions.specs, check_template=templates.check)
        plan = self._plans.get(key)
        if plan is None:
            plan = parse_definition(definition, self.actions.specs, check_template=templates.check)
            self._plans[key] = plan
            if len(self._plans) > _PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        return plan

    async def run(self, ctx: RunContext) -> RunResult:
        """Run one execution to its end and say how it ended (see `RunContext` for cancellation)."""
        meter = Meter()
        meter.sample_memory()
        try:
            plan = self.plan(ctx.definition)
        except ValidationError as exc:
            return _rejected(ctx, str(exc), meter)
        params, issues = resolve_params(plan, ctx.params)
        if issues:
            detail = "; ".join(f"{issue.path}: {issue.message}" for issue in issues)
            return _rejected(ctx, f"invalid params: {detail}", meter)
        return await _Run(self, ctx, plan, params, meter).execute()


def _rejected(ctx: RunContext, error: str, meter: Meter) -> RunResult:
    ctx.log.emit(ctx.execution_id, "error", error)
    return RunResult(
        status="failed",
        outputs={},
        error=error,
        steps={},
        cpu_seconds=0.0,
        peak_memory_mb=meter.peak_memory_mb,
    )


def _describe(exc: BaseException) -> str:
    """A user-facing error text: the message of our own errors, the type too for anything else."""
    if hasattr(exc, "retryable") or isinstance(exc, templates.TemplateError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Run:
    """The state of one execution while it runs."""

    def __init__(
        self, runner: ExecutionRunner, ctx: RunContext, plan: Definition, params: dict[str, Any], meter: Meter
    ) -> None:
        self.runner, self.ctx, self.plan, self.meter = runner, ctx, plan, meter
        self.loop = asyncio.get_running_loop()
        self.deadline = None if ctx.timeout_seconds is None else self.loop.time() + ctx.timeout_seconds
        self.states: dict[str, StepState] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.started: dict[str, float] = {}
        self.waiting: dict[str, None] = {}  # ordered set of steps not started yet, in topological order
        for step_id in plan.order:
            prior = ctx.prior_steps.get(step_id)
            done = prior is not None and prior.status in rules.TERMINAL_STEP_STATUSES
            self.states[step_id] = attrs.evolve(prior) if done and prior is not None else StepState()
            self.views[step_id] = {}
            self._publish(step_id)
            if not done:
                self.waiting[step_id] = None
        self.variables: dict[str, Any] = {
            **params,
            "params": params,
            "steps": self.views,
            "execution_id": ctx.execution_id,
        }
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.finished: asyncio.Queue[str] = asyncio.Queue()
        self.cancelled = False
        self.timed_out = False

    # ---- driving

    async def execute(self) -> RunResult:
        # No "run started/ended" lines here: the scheduler logs the execution's start and end.
        try:
            await metered(self._drive(), self.meter)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            self.cancelled = True
            await self._stop()
        return self._result()

    async def _drive(self) -> None:
        if self.deadline is not None and self.loop.time() >= self.deadline:
            self.timed_out = True
            await self._stop()
            return
        await self._schedule()
        while self.tasks:
            try:
                async with asyncio.timeout_at(self.deadline):
                    step_id = await self.finished.get()
            except TimeoutError:
                self.timed_out = True
                await self._stop()
                return
            self.tasks.pop(step_id, None)
            while not self.finished.empty():
                self.tasks.pop(self.finished.get_nowait(), None)
            await self._schedule()

    async def _schedule(self) -> None:
        """One pass in topological order: skip, start or leave each waiting step (skips cascade)."""
        for step_id in list(self.waiting):
            step = self.plan.steps[step_id]
            deps = [self._dep_state(dep, step_id) for dep in step.dependencies]
            decision = rules.gate(deps, status_aware=step.status_aware)
            if decision.action == "wait":
                continue
            del self.waiting[step_id]
            if decision.action == "skip":
                await self._skip(step_id, decision.reason)
            elif step.condition is None:
                self._start(step)
            else:
                try:
                    passed = templates.truthy(
                        templates.evaluate(
                            step.condition, self.variables, max_seconds=self.runner.render_max_seconds
                        )
                    )
                except templates.TemplateError as exc:
                    await self._end(step_id, "failed", error=f"condition error: {exc}")
                    continue
                if passed:
                    self._start(step)
                else:
                    await self._skip(step_id, rules.CONDITION_FALSE)

    def _dep_state(self, dep: str, step_id: str) -> rules.DepState:
        state = self.states[dep]
        branch = self.plan.branches.get(dep)
        excludes = (
            branch is not None
            and state.status == "completed"
            and rules.branch_excludes(branch, state.output, step_id)
        )
        return rules.DepState(state.status, state.skip_reason, excludes)

    def _start(self, step: Step) -> None:
        task = asyncio.create_task(metered(self._step_task(step), self.meter), name=f"budai-step-{step.id}")
        self.tasks[step.id] = task

    async def _stop(self) -> None:
        """Cancel running steps and end every unfinished step (cancel or deadline)."""
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()
        why = "execution timed out" if self.timed_out else "execution cancelled"
        reason = rules.EXECUTION_TIMEOUT if self.timed_out else rules.EXECUTION_CANCELLED
        for step_id in self.plan.order:
            status = self.states[step_id].status
            if status in _ACTIVE:
                await self._end(step_id, "timeout" if self.timed_out else "cancelled", error=why)
            elif status not in rules.TERMINAL_STEP_STATUSES:
                self.waiting.pop(step_id, None)
                await self._skip(step_id, reason)

    # ---- one step

    async def _step_task(self, step: Step) -> None:
        try:
            await self._run_step(step)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a failing reporter: end the step, keep the run going
            state = self.states[step.id]
            if state.status not in rules.TERMINAL_STEP_STATUSES:
                error = f"internal error: {_describe(exc)}"
                try:
                    await self._end(step.id, "failed", error=error)
                except Exception:  # the reporter fails again: keep the state for the result
                    state.status, state.error = "failed", error
        finally:
            self.finished.put_nowait(step.id)

    async def _run_step(self, step: Step) -> None:
        state = self.states[step.id]
        registered = self.runner.actions.resolve(step.action)
        if registered is None:
            await self._end(step.id, "failed", error=f"action {step.action!r} is not registered")
            return
        try:
            params = self._prepare(step, registered)
        except (templates.TemplateError, ValidationError) as exc:
            await self._end(step.id, "failed", error=str(exc))
            return
        policy = step.retry
        while True:
            state.attempts += 1
            state.status, state.error = "running", None
            if state.started_at is None:
                state.started_at = datetime.now(UTC)
                self.started[step.id] = time.monotonic()
            started = f"step started ({step.action}, attempt {state.attempts}/{policy.max_attempts})"
            await self._changed(step.id, "info", started)
            failure, error, output = await self._attempt(step, registered, params, state.attempts)
            if failure is None:
                await self._end(step.id, "completed", output=output)
                return
            delay = rules.next_retry(
                policy, attempts=state.attempts, failure=failure, now=self.loop.time(), deadline=self.deadline
            )
            if delay is None:
                await self._end(step.id, "timeout" if failure == "timeout" else "failed", error=error)
                return
            state.status, state.error = "retrying", error
            retrying = (
                f"attempt {state.attempts}/{policy.max_attempts} failed: {error}; retrying in {delay:g}s"
            )
            await self._changed(step.id, "warning", retrying)
            await asyncio.sleep(delay)

    def _prepare(self, step: Step, registered: RegisteredAction) -> dict[str, Any]:
        """Render the params (raw ones pass through), turn placeholders feeding string params into
        their text, apply defaults, check the schema.

        Raises TemplateError or ValidationError (neither is retried).
        """
        spec = registered.spec
        params = {
            name: value
            if name in spec.raw_params
            else templates.render(
                value, self.variables, path=f"params.{name}", max_seconds=self.runner.render_max_seconds
            )
            for name, value in step.params.items()
        }
        params = coerce_to_strings(spec.params, step.params, params)
        params = apply_defaults(spec.params, params)
        issues = check_value(spec.params, params, "params", allow_templates=False)
        if issues:
            detail = "; ".join(f"{issue.path}: {issue.message}" for issue in issues)
            raise ValidationError(f"invalid params after rendering: {detail}", issues)
        return params

    async def _attempt(
        self, step: Step, registered: RegisteredAction, params: dict[str, Any], attempt: int
    ) -> tuple[rules.Failure | None, str | None, Any]:
        """Run the action once under the step timeout; (failure kind, error, output)."""
        actx = ActionContext(
            execution_id=self.ctx.execution_id,
            step_id=step.id,
            attempt=attempt,
            log=StepLog(self.ctx.log, self.ctx.execution_id, step.id),
            inventory=self.runner.inventory,
            http=self.runner.http,
            settings=self.runner.settings,
            evaluate=lambda expression: templates.evaluate(
                expression, self.variables, max_seconds=self.runner.render_max_seconds
            ),
        )
        self.meter.sample_memory()
        scope = asyncio.timeout(step.timeout_seconds)
        try:
            async with scope:
                output = await registered.handler(dict(params), actx)
        except TimeoutError as exc:
            if scope.expired():
                return "timeout", f"timed out after {step.timeout_seconds:g}s", None
            return "error", _describe(exc), None
        except templates.TemplateError as exc:
            return ("condition" if step.action == "condition" else "template"), str(exc), None
        except Exception as exc:
            return ("error" if getattr(exc, "retryable", True) else "fatal"), _describe(exc), None
        finally:
            self.meter.sample_memory()
        if not isinstance(output, Mapping):
            return "fatal", f"action returned {type(output).__name__}, expected an object", None
        try:
            json.dumps(output)
        except (TypeError, ValueError) as exc:
            return "fatal", f"action output is not JSON: {exc}", None
        return None, None, dict(output)

    # ---- state changes

    def _publish(self, step_id: str) -> None:
        """Refresh the step's view that templates read as ``steps.<id>``."""
        state = self.states[step_id]
        self.views[step_id].update(
            status=rules.visible_status(state.status, state.skip_reason),
            output=state.output,
            outputs=state.output,
            error=state.error,
            attempts=state.attempts,
            skip_reason=state.skip_reason,
        )

    async def _end(self, step_id: str, status: str, *, output: Any = None, error: str | None = None) -> None:
        state = self.states[step_id]
        state.status, state.output, state.error = status, output, error
        state.completed_at = datetime.now(UTC)
        if state.started_at is None:
            state.started_at = state.completed_at
        began = self.started.get(step_id)
        state.duration_seconds = round(time.monotonic() - began, 6) if began is not None else 0.0
        if status == "completed":
            await self._changed(step_id, "info", f"step completed in {state.duration_seconds:.3f}s")
        else:
            tries = f" after {state.attempts} attempt(s)" if state.attempts else ""
            await self._changed(step_id, "error", f"step {status}{tries}: {error}")

    async def _skip(self, step_id: str, reason: str | None) -> None:
        state = self.states[step_id]
        state.status, state.skip_reason = "skipped", reason
        state.completed_at = datetime.now(UTC)
        await self._changed(step_id, "info", f"step skipped ({reason})")

    async def _changed(self, step_id: str, level: str, message: str) -> None:
        """Show the step's new state to templates, report it, and log why it changed."""
        self._publish(step_id)
        await self.ctx.report_step(step_id, self.states[step_id])
        self._log(level, message, step_id)

    def _log(self, level: str, message: str, step_id: str | None = None) -> None:
        self.ctx.log.emit(self.ctx.execution_id, level, message, step_id)

    # ---- the end

    def _result(self) -> RunResult:
        statuses = [state.status for state in self.states.values()]
        status = rules.final_status(
            cancelled=self.cancelled, timed_out=self.timed_out, step_statuses=statuses
        )
        outputs = self._outputs()
        error = self._error(status)
        self.meter.sample_memory()
        return RunResult(
            status=status,
            outputs=outputs,
            error=error,
            steps=dict(self.states),
            cpu_seconds=round(self.meter.cpu_seconds, 6),
            peak_memory_mb=self.meter.peak_memory_mb,
        )

    def _outputs(self) -> dict[str, Any]:
        """The definition's `outputs` (undefined values become null), else the completed sinks' outputs."""
        if self.plan.outputs is None:
            steps = {step_id: (state.status, state.output) for step_id, state in self.states.items()}
            return rules.merge_sink_outputs(self.plan.sinks, steps)
        outputs: dict[str, Any] = {}
        for name, template in self.plan.outputs.items():
            try:
                outputs[name] = templates.render(
                    template,
                    self.variables,
                    strict=False,
                    path=f"outputs.{name}",
                    max_seconds=self.runner.render_max_seconds,
                )
            except templates.TemplateError as exc:
                outputs[name] = None
                self._log("error", f"could not compute output: {exc}")
        return outputs

    def _error(self, status: str) -> str | None:
        if status == "cancelled":
            return "execution cancelled"
        if status == "timeout":
            return f"execution timed out after {self.ctx.timeout_seconds:g}s"
        if status != "failed":
            return None
        failed = [
            (step_id, state.error)
            for step_id, state in self.states.items()
            if state.status in rules.FAILED_STATUSES
        ]
        step_id, error = failed[0]
        more = f" (and {len(failed) - 1} more step(s) failed)" if len(failed) > 1 else ""
        return f"step {step_id!r} {self.states[step_id].status}: {error}{more}"
