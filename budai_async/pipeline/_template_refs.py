"""Which steps and params a template or an expression names, found without Jinja.

The definition validator infers dependencies from these references (``steps.X`` / ``steps['X']``) and
the status-aware gate from ``steps.X.status``; the SDK's DSL uses the same scan. String literals that are
not subscripts are blanked first, so ``'steps.x'`` written as text is no reference.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from budai_async.pipeline._params_schema import is_template, join_path

__all__ = [
    "code_of",
    "expression_refs",
    "param_names",
    "reads_status",
    "step_names",
    "template_refs",
    "template_strings",
]

_LITERAL = re.compile(r"""(?P<pre>\[\s*)?(?P<lit>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_STEP_REF = re.compile(
    r"""(?<![\w.])steps\s*(?:\.\s*(?P<attr>[A-Za-z_]\w*)|\[\s*(?P<q>['"])(?P<key>.*?)(?P=q)\s*\])"""
)
_STEP_STATUS = re.compile(
    r"""(?<![\w.])steps\s*(?:\.\s*[A-Za-z_]\w*|\[\s*(['"]).*?\1\s*\])"""
    r"""\s*(?:\.\s*status\b|\[\s*(['"])status\2\s*\])"""
)
_PARAM_REF = re.compile(
    r"""(?<![\w.])params\s*(?:\.\s*(?P<attr>[A-Za-z_]\w*)|\[\s*(?P<q>['"])(?P<key>.*?)(?P=q)\s*\])"""
)
_BLOCK = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.DOTALL)


def _blank_literals(source: str) -> str:
    """Blank string literals that are not subscripts, so ``'steps.x'`` in a literal is no reference."""

    def keep_subscripts(match: re.Match[str]) -> str:
        return match.group(0) if match.group("pre") else "''"

    return _LITERAL.sub(keep_subscripts, source)


def code_of(source: str, *, expression: bool) -> str:
    """The Jinja code inside a value: all of an expression, only the blocks of a template."""
    if expression:
        return _blank_literals(source)
    return " ; ".join(_blank_literals(a or b) for a, b in _BLOCK.findall(source))


def expression_refs(source: str) -> set[str]:
    """Step ids named in an expression (a condition; braces optional)."""
    return step_names(code_of(source, expression=True))


def template_refs(value: Any) -> set[str]:
    """Step ids named in the templates anywhere inside a JSON value."""
    found: set[str] = set()
    for _path, text in template_strings(value, ""):
        found |= step_names(code_of(text, expression=False))
    return found


def reads_status(source: str) -> bool:
    """True when an expression reads ``steps.X.status`` (it then gets the status-aware gate)."""
    return bool(_STEP_STATUS.search(code_of(source, expression=True)))


def step_names(code: str) -> set[str]:
    return {m.group("attr") or m.group("key") for m in _STEP_REF.finditer(code)}


def param_names(code: str) -> set[str]:
    return {m.group("attr") or m.group("key") for m in _PARAM_REF.finditer(code)}


def template_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Yield ``(path, text)`` for every template string inside a JSON value."""
    if isinstance(value, str):
        if is_template(value):
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from template_strings(item, join_path(path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from template_strings(item, join_path(path, index))
