"""Templates and conditions: the only Jinja2 user, in its immutable sandbox.

Pipelines write ``{{ params.x }}`` and ``{{ steps.a.output.y }}`` in step params and outputs, and plain
expressions (braces optional) in conditions. This module compiles each source once (cached), looks dict
keys up before attributes (``steps.x.output.items`` is the key ``items``, not the method), keeps the JSON
type of a value that is exactly one placeholder (the engine turns it into its text where the action's
param schema asks for a string), writes values inside longer text as JSON (``true``, ``null``), and
refuses anything that could escape the sandbox or exhaust the server: private attributes, the globals
``cycler``/``joiner``/``namespace``/``lipsum``, macros, includes, ranges over `MAX_RANGE`, strings or
lists over `MAX_OUTPUT`, huge powers and format-string widths. A refusal is a `TemplateError` raised
before the offending operation runs.

Those bounds still allow long renders (nested loops over capped ranges, each calling filters), and a
render blocks the event loop, so each `render`/`evaluate` call also has a time budget
(`MAX_RENDER_SECONDS`, the server's `template_render_max_seconds`): every output, call, filter,
attribute or item lookup and operator checks a monotonic deadline and fails the render naming the
limit once it has passed.
"""

from __future__ import annotations

import functools
import math
import re
import string
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

import attrs
from jinja2 import nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.parser import Parser
from jinja2.runtime import ChainableUndefined, Context, StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from budai_async.pipeline._params_schema import json_text
from budai_server.limits import TEMPLATE_RENDER_MAX_SECONDS

__all__ = [
    "MAX_OUTPUT",
    "MAX_RANGE",
    "MAX_RENDER_SECONDS",
    "TemplateError",
    "check",
    "evaluate",
    "render",
    "truthy",
]

MAX_RANGE = 1_000
"""Longest ``range()`` a template may build."""
MAX_OUTPUT = 1_000_000
"""Longest string or list an operator, filter or string method may produce (characters or items)."""
MAX_SOURCE = 20_000
"""Longest template or expression source accepted."""
MAX_LOOP_DEPTH = 2
MAX_RENDER_SECONDS = TEMPLATE_RENDER_MAX_SECONDS
"""Default time budget of one `render` or `evaluate` call (ServerConfig.template_render_max_seconds)."""
MAX_POWER_BITS = 4_096

_BANNED_NAMES = frozenset({"cycler", "joiner", "namespace", "lipsum", "self"})
_BANNED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Macro,
    nodes.CallBlock,
    nodes.Include,
    nodes.Import,
    nodes.FromImport,
    nodes.Extends,
    nodes.Block,
)
_FALSE_WORDS = frozenset({"", "false", "0", "no", "off", "none", "null"})
_SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*:([^{}]*)\}|\{[^{}]*:[^{}]*\{")


class TemplateError(Exception):
    """A template or condition could not be compiled or evaluated; never retried."""


# --------------------------------------------------------------------------- time budget

# (deadline on the monotonic clock, budget in seconds) of the render running in this context.
_DEADLINE: ContextVar[tuple[float, float] | None] = ContextVar("template_deadline", default=None)


def _tick() -> None:
    """Fail the running render once its time budget is spent (called from every sandbox hook)."""
    budget = _DEADLINE.get()
    if budget is not None and time.monotonic() > budget[0]:
        raise TemplateError(
            f"rendering took longer than {budget[1]:g} s and was stopped (limit template_render_max_seconds)"
        )


def _within_budget(max_seconds: float, work: Callable[[], Any]) -> Any:
    """Run `work` under a deadline `max_seconds` from now (an enclosing budget, if any, is kept)."""
    if _DEADLINE.get() is not None:
        return work()
    token = _DEADLINE.set((time.monotonic() + max_seconds, max_seconds))
    try:
        return work()
    finally:
        _DEADLINE.reset(token)


# --------------------------------------------------------------------------- size guards


def _refuse(message: str) -> None:
    raise SecurityError(message)


def _check_size(size: int, what: str) -> None:
    if size > MAX_OUTPUT:
        _refuse(f"{what} would produce {size} items (limit {MAX_OUTPUT})")


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and width > MAX_OUTPUT:
        _refuse(f"{what} width {width} is over the limit {MAX_OUTPUT}")


def _check_percent_format(fmt: Any) -> None:
    if not isinstance(fmt, str):
        return
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for number in (width, precision):
            if number == "*" or (number and int(number) > 1000):
                _refuse("format widths over 1000 (or taken from arguments) are not allowed")


def _check_brace_format(fmt: str) -> None:
    for match in _BRACE_SPEC.finditer(fmt):
        spec = match.group(1)
        if spec is None or any(int(n) > 1000 for n in re.findall(r"\d+", spec)):
            _refuse("format widths over 1000 (or taken from arguments) are not allowed")


def _replace_size(text: str, old: str, new: str) -> int:
    count = text.count(old) if old else len(text) + 1
    return len(text) + count * max(len(new) - len(old), 0)


def _guard_str_method(name: str, text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse str method calls whose result would be huge (padding, replace, join, expandtabs)."""
    if name in {"ljust", "rjust", "center", "zfill"} and args:
        _check_width(args[0], f"str.{name}")
    elif name == "expandtabs":
        size = kwargs.get("tabsize", args[0] if args else 8)
        if isinstance(size, int):
            _check_size(text.count("\t") * size + len(text), "str.expandtabs")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        _check_size(_replace_size(text, args[0], args[1]), "str.replace")
    elif name == "join" and args and hasattr(args[0], "__len__"):
        _check_size(len(text) * max(len(args[0]) - 1, 0), "str.join")


def _guard_filter(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Check a filter call's arguments (value first); may return materialised args."""
    value = args[0] if args else None
    rest = args[1:]
    if name == "center":
        _check_width(kwargs.get("width", rest[0] if rest else 80), "center")
    elif name == "indent":
        width = kwargs.get("width", rest[0] if rest else 4)
        lines = str(value).count("\n") + 1
        _check_size(lines * (len(width) if isinstance(width, str) else int(width)), "indent")
    elif name == "replace" and len(rest) >= 2:
        _check_size(_replace_size(str(value), str(rest[0]), str(rest[1])), "replace")
    elif name == "join":
        items = list(value) if isinstance(value, Iterable) and not isinstance(value, str) else value
        sep = kwargs.get("d", rest[0] if rest else "")
        if isinstance(items, list):
            _check_size(len(str(sep)) * max(len(items) - 1, 0), "join")
        return (items, *rest)
    elif name == "format":
        _check_percent_format(value)
    elif name in {"slice", "batch"}:
        count = kwargs.get("slices", kwargs.get("linecount", rest[0] if rest else 1))
        _check_width(count, name)
    elif name == "tojson":
        indent = kwargs.get("indent", rest[0] if rest else None)
        if isinstance(indent, int) and indent > 16:
            _refuse("tojson indent over 16 is not allowed")
    return args


def _guarded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _tick()
        checked = _guard_filter(name, args[skip:], kwargs)
        return func(*args[:skip], *checked, **kwargs)

    return wrapper


def _finalize(value: Any) -> Any:
    """Values placed inside text read as JSON (``true``, ``null``, ``{"a": 1}``), as a whole-value
    placeholder feeding a string param does (`budai_async.pipeline._params_schema.json_text`)."""
    _tick()
    if value is None or isinstance(value, bool | dict | list | tuple):
        return json_text(value)
    return value


def _range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        _refuse(f"range of {len(rng)} items is over the limit {MAX_RANGE}")
    return rng


# --------------------------------------------------------------------------- environment


class _Sandbox(ImmutableSandboxedEnvironment):
    """Immutable sandbox with dict-keys-first lookup, hard refusals and bounded operators."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, undefined: type[Undefined]) -> None:
        super().__init__(undefined=undefined, autoescape=False, cache_size=0, finalize=_finalize)
        for name in _BANNED_NAMES:
            self.globals.pop(name, None)
        self.globals["range"] = _range
        self.filters = {name: _guarded_filter(name, func) for name, func in self.filters.items()}

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        if isinstance(attribute, str) and attribute.startswith("_"):  # refuse before touching the object
            raise SecurityError(f"access to attribute {attribute!r} is not allowed")
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        if isinstance(argument, str) and argument.startswith("_"):
            raise SecurityError(f"access to item {argument!r} is not allowed")
        return super().getitem(obj, argument)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        _check_brace_format(value.__self__)
        return wrapper

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(count, int):
                    _check_size(len(seq) * count, "repetition")
        elif operator == "**" and isinstance(left, int | float) and isinstance(right, int | float):
            bits = max(abs(int(left)).bit_length(), 1) * abs(right)
            if bits > MAX_POWER_BITS:
                _refuse("power too large")
        elif operator == "%":
            _check_percent_format(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            _guard_str_method(getattr(__obj, "__name__", ""), owner, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


_STRICT = _Sandbox(StrictUndefined)
_LENIENT = _Sandbox(ChainableUndefined)


def _check_tree(tree: nodes.Node) -> None:
    """Refuse banned constructs before anything runs."""
    for node in tree.find_all(_BANNED_NODES):
        raise SecurityError(f"{type(node).__name__.lower()} is not allowed in pipeline templates")
    for name in tree.find_all(nodes.Name):
        if name.name in _BANNED_NAMES:
            raise SecurityError(f"{name.name!r} is not available in pipeline templates")
    for attr in tree.find_all(nodes.Getattr):
        if attr.attr.startswith("_"):
            raise SecurityError(f"access to attribute {attr.attr!r} is not allowed")
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.arg, nodes.Const) and str(item.arg.value).startswith("_"):
            raise SecurityError(f"access to item {item.arg.value!r} is not allowed")
    for attr in tree.find_all(nodes.Getattr):
        if attr.attr in ("format", "format_map") and isinstance(attr.node, nodes.Const):
            _check_format_fields(attr.node.value)
    _check_loops(tree, 0)


def _check_format_fields(fmt: Any) -> None:
    """Refuse a literal format string that reaches for private attributes or huge widths."""
    if not isinstance(fmt, str):
        return
    _check_brace_format(fmt)
    try:
        fields = [field for _text, field, _spec, _conv in string.Formatter().parse(fmt) if field]
    except ValueError as exc:
        raise SecurityError(f"invalid format string: {exc}") from None
    for field in fields:
        if re.search(r"(^|[.\[])_", field):
            raise SecurityError(f"format field {field!r} reaches a private attribute")


def _check_loops(node: nodes.Node, depth: int) -> None:
    for child in node.iter_child_nodes():
        inner = depth
        if isinstance(child, nodes.For):
            if child.recursive:
                raise SecurityError("recursive loops are not allowed")
            inner = depth + 1
            if inner > MAX_LOOP_DEPTH:
                raise SecurityError(f"loops nested deeper than {MAX_LOOP_DEPTH} are not allowed")
        _check_loops(child, inner)


# --------------------------------------------------------------------------- compilation


@attrs.frozen
class _Compiled:
    """One compiled source: an expression (returns a value) or a template (renders a string)."""

    run: Callable[[Mapping[str, Any]], Any]
    strict: bool
    native: bool


def _compile_expression(env: _Sandbox, source: str) -> Callable[[Mapping[str, Any]], Any]:
    parser = Parser(env, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise JinjaTemplateError(f"unexpected {parser.stream.current.value!r} after the expression")
    body = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)], lineno=1)
    _check_tree(body)
    body.set_environment(env)
    template = env.from_string(body)

    def run(variables: Mapping[str, Any]) -> Any:
        context = template.new_context(dict(variables))
        for _ in template.root_render_func(context):
            pass
        return context.vars["result"]

    return run


def _compile_template(env: _Sandbox, source: str) -> Callable[[Mapping[str, Any]], Any]:
    _check_tree(env.parse(source))
    template = env.from_string(source)
    return lambda variables: template.render(variables)


def _as_expression(source: str) -> str:
    """A condition with optional braces as one expression: ``{{ a }} > 1`` → ``(a) > 1``."""
    if "{%" in source:
        raise JinjaTemplateError("statements ({% ... %}) are not allowed in a condition")
    return _PLACEHOLDER.sub(lambda m: f"({m.group(1)})", source)


@functools.lru_cache(maxsize=8192)
def _compile(source: str, kind: str, strict: bool) -> _Compiled:
    """Compile once per (source, kind, strictness); raises TemplateError."""
    env = _STRICT if strict else _LENIENT
    if len(source) > MAX_SOURCE:
        raise TemplateError(f"template is {len(source)} characters long (limit {MAX_SOURCE})")
    try:
        if kind == "expression":
            return _Compiled(_compile_expression(env, _as_expression(source)), strict, True)
        single = _SINGLE.match(source)
        inner = single.group("expr") if single else None
        if inner is not None and "{{" not in inner and "}}" not in inner:
            return _Compiled(_compile_expression(env, inner), strict, True)
        return _Compiled(_compile_template(env, source), strict, False)
    except SecurityError as exc:
        raise TemplateError(f"unsafe template: {exc}") from None
    except JinjaTemplateError as exc:
        raise TemplateError(f"invalid template: {exc.message or exc}") from None
    except RecursionError:
        raise TemplateError("invalid template: nested too deeply") from None


def _run(compiled: _Compiled, variables: Mapping[str, Any]) -> Any:
    try:
        value = compiled.run(variables)
        if isinstance(value, Undefined):
            if compiled.strict:
                value._fail_with_undefined_error()
            return None
        return _to_json(value) if compiled.native else value
    except TemplateError:
        raise
    except SecurityError as exc:
        raise TemplateError(f"unsafe template: {exc}") from None
    except UndefinedError as exc:
        raise TemplateError(f"undefined value: {exc.message}") from None
    except (JinjaTemplateError, ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as exc:
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None


def _to_json(value: Any) -> Any:
    """Copy a template result into plain JSON data; refuse what JSON cannot hold."""
    if value is None or isinstance(value, bool | int | str):
        return str(value) if isinstance(value, str) and type(value) is not str else value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TemplateError(f"template produced {value}, which JSON cannot hold")
        return value
    if isinstance(value, Mapping):
        return {str(key): _to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple | range):
        return [_to_json(item) for item in value]
    if isinstance(value, Undefined):
        return None
    raise TemplateError(f"template produced a {type(value).__name__}, not a JSON value")


# --------------------------------------------------------------------------- public API


def render(
    value: Any,
    variables: Mapping[str, Any],
    *,
    strict: bool = True,
    path: str = "",
    max_seconds: float = MAX_RENDER_SECONDS,
) -> Any:
    """Render every template string inside a JSON value; other values are copied as they are.

    A string that is exactly one ``{{ ... }}`` keeps the JSON type of its result. With `strict`, an
    undefined name is an error (step params); otherwise it becomes None or "" (execution outputs).
    The whole value shares one time budget of `max_seconds`. Raises TemplateError naming `path`.
    """
    return _within_budget(max_seconds, lambda: _render(value, variables, strict, path))


def _render(value: Any, variables: Mapping[str, Any], strict: bool, path: str) -> Any:
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        try:
            return _run(_compile(value, "template", strict), variables)
        except TemplateError as exc:
            raise TemplateError(f"{path}: {exc}" if path else str(exc)) from None
    if isinstance(value, Mapping):
        return {
            key: _render(item, variables, strict, f"{path}.{key}" if path else str(key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_render(item, variables, strict, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def evaluate(
    expression: str, variables: Mapping[str, Any], *, max_seconds: float = MAX_RENDER_SECONDS
) -> Any:
    """Evaluate a condition (braces optional); an undefined name reads as undefined (falsy).

    Raises TemplateError on a syntax error, a refused construct, a failing operation or when it
    runs over `max_seconds`.
    """
    compiled = _compile(expression, "expression", False)
    return _within_budget(max_seconds, lambda: _run(compiled, variables))


def truthy(value: Any) -> bool:
    """Condition truth: strings ``"false"``, ``"0"``, ``"no"``, ``"off"``, ``"none"``, ``""`` are false."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_WORDS
    return bool(value)


def check(source: str, is_expression: bool) -> str | None:
    """Compile without running (a `budai_async.pipeline.definition.TemplateChecker`); the error or None."""
    try:
        _compile(source, "expression" if is_expression else "template", not is_expression)
    except TemplateError as exc:
        return str(exc)
    return None
