"""Write `budai_async/_surface/`: the typed face of `BudClient`, read off the async resources.

`BudClient` builds its resources at run time, wrapping the async ones (`budai_async/_sync/_proxy.py`),
which no type checker or editor can follow. This script reads each async resource method's source
and writes a Protocol with the same methods, arguments, defaults and docstrings, each returning what
the proxy returns: the awaited answer, a `SyncPager` for a list call, a `SyncStream` for any other
async iterable. Raw-response views (`APIResponse[...]`, async and sync) come from the same methods.

    python tools/gen_sync_surface.py          # rewrite the file
    python tools/gen_sync_surface.py --check  # exit 1 if it is out of date (tests/sdk/test_sync_surface.py)
"""

from __future__ import annotations

import argparse
import ast
import builtins
import collections.abc
import copy
import functools
import importlib
import importlib.util
import inspect
import subprocess
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # read this checkout's resources, not whichever budai_async is installed
TARGET = ROOT / "budai_async" / "_surface"
FIRST_PARTY = "budai_async"
CLIENT = ("budai_async._client", "AsyncBudClient")
SYNC_CLIENT = ("budai_async._sync.client", "BudClient")
ITERATORS = "budai_async._sync._iterators"


class SurfaceError(Exception):
    """The async surface has a shape this generator does not know how to mirror."""


# ---------------------------------------------------------------------------------------------- names


@dataclass
class Module:
    """One source module: its syntax tree and what each top-level name is bound to."""

    name: str
    tree: ast.Module
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # alias -> (module, name|None)
    local: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, name: str) -> Module:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise SurfaceError(f"no source for {name}")
        module = cls(name, ast.parse(Path(spec.origin).read_text()))
        package = name if spec.origin.endswith("__init__.py") else name.rpartition(".")[0]
        for node in _top_level(module.tree.body):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    module.imports[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0],
                        None,
                    )
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join([*base, source] if source else base)
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    if _is_module(submodule):
                        module.imports[alias.asname or alias.name] = (submodule, None)
                    else:
                        module.imports[alias.asname or alias.name] = (source, alias.name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                module.local.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                module.local.update(t.id for t in targets if isinstance(t, ast.Name))
        return module


def _top_level(body: list[ast.stmt]) -> typing.Iterator[ast.stmt]:
    """Module statements, with those under ``if TYPE_CHECKING:`` (and `try`) included."""
    for node in body:
        if isinstance(node, ast.If):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            yield from _top_level(node.body)
        else:
            yield node


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


_MODULES: dict[str, Module] = {}


def module(name: str) -> Module:
    if name not in _MODULES:
        _MODULES[name] = Module.load(name)
    return _MODULES[name]


def canonical(module_name: str, name: str) -> tuple[str, str | None]:
    """Where `name`, as seen in `module_name`, is defined: (module, name), or (module, None) for a module."""
    seen = module(module_name)
    if name in seen.imports:
        source, imported = seen.imports[name]
        if imported is None:
            return source, None
        if source.split(".")[0] == FIRST_PARTY:
            return canonical(source, imported)
        return source, imported
    if name in seen.local:
        return module_name, name
    if hasattr(builtins, name):
        return "builtins", name
    raise SurfaceError(f"{module_name}: cannot resolve {name!r}")


def runtime(module_name: str, node: ast.expr) -> Any:
    """The object a Name or dotted Attribute in `module_name` refers to (None for anything else)."""
    if isinstance(node, ast.Name):
        source, name = canonical(module_name, node.id)
        value = importlib.import_module(source)
        return value if name is None else getattr(value, name)
    if isinstance(node, ast.Attribute):
        base = runtime(module_name, node.value)
        return getattr(base, node.attr, None) if base is not None else None
    return None


class Imports:
    """The names the generated module imports (under TYPE_CHECKING), one binding per name."""

    def __init__(self, shadowed: set[str]) -> None:
        self.names: dict[str, tuple[str, str | None]] = {}
        self.shadowed = shadowed  # method names of the view: a builtin of that name is `builtins.<name>`

    def bind(self, local: str, source: str, name: str | None) -> str:
        known = self.names.setdefault(local, (source, name))
        if known != (source, name):
            raise SurfaceError(f"{local!r} names both {known} and {(source, name)}")
        return local

    def render(self) -> list[str]:
        lines = []
        for local, (source, name) in sorted(self.names.items(), key=lambda item: (item[1][0], item[0])):
            if source == "builtins" and name is not None:
                continue
            if name is None:
                lines.append(f"import {source}" if local == source else f"import {source} as {local}")
            else:
                lines.append(f"from {source} import {name}" + ("" if local == name else f" as {local}"))
        return lines


class Rename(ast.NodeTransformer):
    """Rewrite an annotation from `module_name` into names bound in the generated module."""

    def __init__(self, module_name: str, imports: Imports) -> None:
        self.module_name = module_name
        self.imports = imports

    def visit_Name(self, node: ast.Name) -> ast.expr:
        source, name = canonical(self.module_name, node.id)
        if source == "builtins" and name is not None:
            if name not in self.imports.shadowed:
                return node
            module_name = self.imports.bind("builtins", "builtins", None)
            return ast.Attribute(ast.Name(module_name, ast.Load()), name, ast.Load())
        local = node.id if name is None else name
        return ast.Name(self.imports.bind(local, source, name), ast.Load())

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        if isinstance(node.value, ast.Name) and canonical(self.module_name, node.value.id) == (
            "builtins",
            None,
        ):
            return ast.Attribute(
                ast.Name(self.imports.bind("builtins", "builtins", None), ast.Load()), node.attr
            )
        return self.generic_visit(node)  # type: ignore[return-value]

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        if isinstance(node.value, str):  # a quoted forward reference
            return self.visit(ast.parse(node.value, mode="eval").body)  # type: ignore[no-any-return]
        return node


# ---------------------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class Typed:
    """An annotation and the module whose names it uses."""

    node: ast.expr
    module_name: str

    def rename(self, imports: Imports) -> ast.expr:
        return Rename(self.module_name, imports).visit(copy.deepcopy(self.node))  # type: ignore[no-any-return]

    def resolve(self) -> Any:
        base = self.node.value if isinstance(self.node, ast.Subscript) else self.node
        return runtime(self.module_name, base)

    def args(self) -> list[Typed]:
        if not isinstance(self.node, ast.Subscript):
            return []
        inner = self.node.slice
        items = inner.elts if isinstance(inner, ast.Tuple) else [inner]
        return [Typed(item, self.module_name) for item in items]


_AWAITABLES = (collections.abc.Awaitable, collections.abc.Coroutine, typing.Awaitable, typing.Coroutine)
_ASYNC_ITERATORS = (
    collections.abc.AsyncIterator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncGenerator,
    typing.AsyncIterator,
    typing.AsyncIterable,
    typing.AsyncGenerator,
)


def awaited(returns: Typed, is_async: bool) -> Typed | None:
    """What awaiting the call gives, or None when the call answers something not awaited (a pager)."""
    if is_async:
        return returns
    if isinstance(returns.node, ast.BinOp):
        raise SurfaceError(f"{ast.unparse(returns.node)}: a union goes through either_answer()")
    if returns.resolve() in _AWAITABLES:
        return returns.args()[-1]
    return None


def union_members(typed: Typed) -> list[Typed]:
    node = typed.node
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = Typed(node.left, typed.module_name), Typed(node.right, typed.module_name)
        return [*union_members(left), *union_members(right)]
    return [typed]


def either_answer(declared: Typed, imports: Imports) -> ast.expr:
    """A sync def returning a union (``Awaitable[list[X]] | LogStream``): which member comes back
    depends on the arguments, and the proxy awaits an awaitable one and wraps the rest, so the
    answer is the union of each member so treated."""
    answers = []
    for member in union_members(declared):
        inner = awaited(member, is_async=False)
        answers.append(sync_answer(inner if inner is not None else member, imports))
    return functools.reduce(lambda left, right: ast.BinOp(left, ast.BitOr(), right), answers)


def method_return(node: ast.FunctionDef | ast.AsyncFunctionDef, module_name: str) -> Typed:
    if node.returns is None:
        raise SurfaceError(f"{module_name}.{node.name} has no return annotation")
    return Typed(node.returns, module_name)


def function_node(obj: Any) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]:
    source = inspect.getsource(inspect.unwrap(obj))
    node = ast.parse(inspect.cleandoc("\n" + source) if source[:1].isspace() else source).body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise SurfaceError(f"{obj!r} is not a function")
    return node, obj.__module__


def stream_item(cls: Any, typed: Typed) -> Typed:
    """The item type of an async iterable class, read from its `__aiter__` (or `__anext__`)."""
    if cls in _ASYNC_ITERATORS:
        return typed.args()[0]
    aiter_node, module_name = function_node(cls.__aiter__)
    returns = method_return(aiter_node, module_name)
    target = returns.resolve()
    if target in _ASYNC_ITERATORS:
        return returns.args()[0]
    if target is cls:
        anext_node, anext_module = function_node(cls.__anext__)
        item = awaited(method_return(anext_node, anext_module), isinstance(anext_node, ast.AsyncFunctionDef))
        if item is not None:
            return item
    raise SurfaceError(f"cannot tell what {cls.__name__} yields")


class Substitute(Rename):
    """`Rename`, with the class's type variables replaced by the arguments it was given."""

    def __init__(self, module_name: str, imports: Imports, arguments: dict[str, ast.expr]) -> None:
        super().__init__(module_name, imports)
        self.arguments = arguments

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.arguments and isinstance(runtime(self.module_name, node), typing.TypeVar):
            return copy.deepcopy(self.arguments[node.id])
        return super().visit_Name(node)


def awaits_to(declared: Typed, imports: Imports) -> ast.expr | None:
    """What awaiting a returned object gives (its `__await__`'s result), or None if not awaitable."""
    target: Any = declared.resolve()
    if not isinstance(target, type) or not hasattr(target, "__await__"):
        return None
    node, module_name = function_node(target.__await__)
    result = method_return(node, module_name).args()[-1]  # Generator[yield, send, result]
    given = [argument.rename(imports) for argument in declared.args()]
    parameters = getattr(target, "__parameters__", ())
    arguments = {param.__name__: arg for param, arg in zip(parameters, given, strict=True)}
    return Substitute(module_name, imports, arguments).visit(copy.deepcopy(result.node))  # type: ignore[no-any-return]


def sync_answer(typed: Typed, imports: Imports) -> ast.expr:
    """The type `_proxy.wrap` turns an awaited answer of type `typed` into."""
    from budai_async.pagination import AsyncPager

    node = typed.node
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left = sync_answer(Typed(node.left, typed.module_name), imports)
        right = sync_answer(Typed(node.right, typed.module_name), imports)
        return ast.BinOp(left, ast.BitOr(), right)
    target = typed.resolve()
    if isinstance(target, type) and issubclass(target, AsyncPager):
        pager = imports.bind("SyncPager", ITERATORS, "SyncPager")
        return ast.Subscript(ast.Name(pager, ast.Load()), typed.args()[0].rename(imports), ast.Load())
    if target in _ASYNC_ITERATORS or (isinstance(target, type) and hasattr(target, "__aiter__")):
        stream = imports.bind("SyncStream", ITERATORS, "SyncStream")
        item = stream_item(target, typed).rename(imports)
        return ast.Subscript(ast.Name(stream, ast.Load()), item, ast.Load())
    if isinstance(target, type) and any(
        inspect.iscoroutinefunction(getattr(target, name)) for name in dir(target) if not name.startswith("_")
    ):
        raise SurfaceError(f"{target.__name__} has async methods: give it a generated sync view first")
    return typed.rename(imports)


# ---------------------------------------------------------------------------------------------- methods


@dataclass(frozen=True)
class Method:
    """One public method of an async resource, as written (or as the batch function it aliases)."""

    name: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    module_name: str
    bound_first: bool  # an aliased module function: its first parameter is the resource itself

    @property
    def is_async(self) -> bool:
        return isinstance(self.node, ast.AsyncFunctionDef)

    @property
    def is_overload(self) -> bool:
        return any(
            isinstance(d, (ast.Name, ast.Attribute)) and runtime(self.module_name, d) is typing.overload
            for d in self.node.decorator_list
        )


def resource_methods(cls: type) -> list[Method]:
    """Public methods of `cls` in source order, ``if TYPE_CHECKING:`` aliases included, overloads kept."""
    node, module_name = _class_node(cls)
    found: list[Method] = []
    for statement in _class_body(node.body):
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and not statement.name.startswith(
            "_"
        ):
            found.append(Method(statement.name, statement, module_name, bound_first=False))
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name) and not target.id.startswith("_"):
                function = runtime(module_name, statement.value)
                if not callable(function):
                    raise SurfaceError(f"{cls.__name__}.{target.id} is not a method")
                alias_node, alias_module = function_node(function)
                found.append(Method(target.id, alias_node, alias_module, bound_first=True))
    for method in found:  # a staticmethod, property ... would need its own mirror
        if len(method.node.decorator_list) > int(method.is_overload):
            raise SurfaceError(
                f"{cls.__name__}.{method.name}: only @overload is mirrored, not its decorators"
            )
    overloaded = {m.name for m in found if m.is_overload}
    return [m for m in found if m.is_overload or m.name not in overloaded]


def _class_node(cls: type) -> tuple[ast.ClassDef, str]:
    for node in module(cls.__module__).tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            return node, cls.__module__
    raise SurfaceError(f"no class {cls.__name__} in {cls.__module__}")


def _class_body(body: list[ast.stmt]) -> typing.Iterator[ast.stmt]:
    """Class statements; for ``if TYPE_CHECKING: ... else: ...`` only what type checkers see."""
    for statement in body:
        if isinstance(statement, ast.If) and isinstance(statement.test, ast.Name):
            if statement.test.id != "TYPE_CHECKING":
                raise SurfaceError(f"unexpected `if {statement.test.id}` in a resource class")
            yield from _class_body(statement.body)
        else:
            yield statement


def _literal_default(node: ast.expr) -> ast.expr:
    """Defaults stay when literal (None, numbers, strings); anything else is written ``...``."""
    try:
        ast.literal_eval(node)
    except ValueError:
        return ast.Constant(...)
    return copy.deepcopy(node)


def stub(
    method: Method, returns: ast.expr, imports: Imports, *, doc: str | None = None, asynchronous: bool = False
) -> ast.stmt:
    """The method's signature with `returns`, its docstring (or `doc`) and a ``...`` body."""
    source = method.node
    arguments = copy.deepcopy(source.args)
    if method.bound_first:  # the function's first parameter is the resource: it becomes `self`
        group = arguments.posonlyargs if arguments.posonlyargs else arguments.args
        dropped = group.pop(0)
        if len(arguments.defaults) > len(arguments.posonlyargs) + len(arguments.args):
            raise SurfaceError(f"{method.name}: the resource parameter {dropped.arg} has a default")
        group.insert(0, ast.arg("self"))
    positional = [*arguments.posonlyargs, *arguments.args]
    for argument in [*positional, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]:
        if argument is not None and argument.annotation is not None:
            argument.annotation = Typed(argument.annotation, method.module_name).rename(imports)
    arguments.defaults = [_literal_default(d) for d in arguments.defaults]
    arguments.kw_defaults = [None if d is None else _literal_default(d) for d in arguments.kw_defaults]
    body: list[ast.stmt] = []
    docstring = doc or ast.get_docstring(source, clean=False)
    if docstring:
        body.append(ast.Expr(ast.Constant(docstring)))
    body.append(ast.Expr(ast.Constant(...)))
    decorators: list[ast.expr] = []
    if method.is_overload:
        decorators.append(ast.Name("overload", ast.Load()))  # imported at run time: decorators run
    kind = ast.AsyncFunctionDef if asynchronous else ast.FunctionDef
    return kind(name=method.name, args=arguments, body=body, decorator_list=decorators, returns=returns)


# ---------------------------------------------------------------------------------------------- classes


def resource_classes() -> dict[str, type]:
    """The resource attributes of `AsyncBudClient` (``self.name = Class(self)`` in `_attach_resources`)."""
    client_node, module_name = _class_node(getattr(importlib.import_module(CLIENT[0]), CLIENT[1]))
    attach = next(
        n for n in client_node.body if isinstance(n, ast.FunctionDef) and n.name == "_attach_resources"
    )
    found: dict[str, type] = {}
    for statement in attach.body:
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.value, ast.Call)
            and isinstance(statement.targets[0], ast.Attribute)
        ):
            found[statement.targets[0].attr] = runtime(module_name, statement.value.func)
    return found


def view(name: str, doc: str, members: list[ast.stmt], *, protocol: bool = True) -> ast.ClassDef:
    """A Protocol of method stubs, or (``protocol=False``) a plain class of annotations only, which
    run-time classes inherit without gaining any attribute."""
    body: list[ast.stmt] = [ast.Expr(ast.Constant(doc)), *members]
    bases: list[ast.expr] = [ast.Name("Protocol", ast.Load())] if protocol else []
    return ast.ClassDef(name=name, bases=bases, keywords=[], body=body, decorator_list=[])


def view_name(cls: type, prefix: str) -> str:
    return prefix + cls.__name__.removesuffix("Resource")


def attribute(name: str, annotation: str) -> ast.stmt:
    return ast.AnnAssign(ast.Name(name, ast.Store()), ast.Name(annotation, ast.Load()), None, simple=1)


def _is_pager(typed: Typed) -> bool:
    from budai_async.pagination import AsyncPager

    target = typed.resolve()
    return isinstance(target, type) and issubclass(target, AsyncPager)


def pager_doc(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """A list call's docstring told the sync way: what it lists, then how a `SyncPager` is read.
    (The async one says ``await`` for a page and ``async for`` for all.)"""
    docstring = ast.get_docstring(node, clean=False) or ""
    what, found, _ = docstring.replace("``await``", "await").partition("await")
    if not found:
        return None
    indent = " " * 8  # a method body's, in the generated class
    how = "``for`` walks every page; ``first_page()`` is one page."
    return f"{what.rstrip(' :;,')}.\n\n{indent}{how}\n{indent}"


def _is_stream(typed: Typed) -> bool:
    target = typed.resolve()
    return target in _ASYNC_ITERATORS or (isinstance(target, type) and hasattr(target, "__aiter__"))


def _drop_lone_overloads(stubs: list[ast.stmt]) -> list[ast.stmt]:
    """A name left with one ``@overload`` (the raw views keep only awaitable forms) is a plain method."""
    counts: dict[str, int] = {}
    for node in stubs:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.decorator_list:
            counts[node.name] = counts.get(node.name, 0) + 1
    for node in stubs:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and counts.get(node.name) == 1:
            node.decorator_list = []
    return stubs


def resource_module(attr: str, cls: type) -> tuple[str, list[str]]:
    """The module text for one resource: its sync view and both raw-response views."""
    methods = resource_methods(cls)
    imports = Imports(shadowed={m.name for m in methods})
    response = imports.bind("APIResponse", "budai_async._raw", "APIResponse")
    sync_members: list[ast.stmt] = []
    raw_members: list[ast.stmt] = []
    async_raw_members: list[ast.stmt] = []

    def add_raw(method: Method, answer: ast.expr, doc: str) -> None:
        raw = ast.Subscript(ast.Name(response, ast.Load()), answer, ast.Load())
        raw_members.append(stub(method, raw, imports, doc=doc))
        async_raw_members.append(stub(method, copy.deepcopy(raw), imports, doc=doc, asynchronous=True))

    for method in methods:
        sync_name = f"`{view_name(cls, 'Sync')}.{method.name}`"
        declared = method_return(method.node, method.module_name)
        if not method.is_async and len(union_members(declared)) > 1:  # no raw view: which request?
            sync_members.append(stub(method, either_answer(declared, imports), imports))
            continue
        answer = awaited(declared, method.is_async)
        if answer is None:  # a pager or a stream, answered at once: wrapped, never awaited
            sync_doc = pager_doc(method.node) if _is_pager(declared) else None
            sync_members.append(stub(method, sync_answer(declared, imports), imports, doc=sync_doc))
            first = awaits_to(declared, imports)  # `await pager` is its first page: one request
            if first is not None:
                add_raw(method, first, f"{sync_name}: its first page, as an `APIResponse`.")
            continue
        sync_members.append(stub(method, sync_answer(answer, imports), imports))
        # Fan-out runs many requests at once: "its last answer" would be whichever ended last.
        if not _is_stream(answer) and not method.bound_first:
            add_raw(method, answer.rename(imports), f"{sync_name}, answering its `APIResponse`.")
    label = cls.__name__.removesuffix("Resource").lower()
    classes = [
        view(view_name(cls, "Sync"), f"`BudClient().{attr}`: the {label} calls, blocking.", sync_members),
        view(
            view_name(cls, "SyncRaw"),
            f"`BudClient().with_raw_response.{attr}`.",
            _drop_lone_overloads(raw_members),
        ),
        view(
            view_name(cls, "AsyncRaw"),
            f"`AsyncBudClient().with_raw_response.{attr}`.",
            _drop_lone_overloads(async_raw_members),
        ),
    ]
    doc = f'"""`{attr}`: {HEADER_LINE}"""'
    return render(
        doc, imports, classes, runtime_imports="from typing import TYPE_CHECKING, Protocol, overload"
    )


HEADER_LINE = (
    "typed views of the async resource for `BudClient` and `with_raw_response`.\n\n"
    "GENERATED by tools/gen_sync_surface.py from the async resource: do not edit.\n"
)


def render(
    doc: str, imports: Imports, classes: list[ast.ClassDef], *, runtime_imports: str
) -> tuple[str, list[str]]:
    names = [c.name for c in classes]
    lines = [
        doc,
        "",
        "from __future__ import annotations",
        "",
        runtime_imports,
        "",
        "if TYPE_CHECKING:",
        *("    " + line for line in imports.render()),
        "",
        "__all__ = [" + ", ".join(f'"{name}"' for name in sorted(names)) + "]",
        "",
        *(ast.unparse(ast.fix_missing_locations(c)) + "\n" for c in classes),
    ]
    return _format("\n".join(lines)), names


def client_properties(imports: Imports) -> list[ast.stmt]:
    """`AsyncBudClient`'s read-only settings (``base_url``, ``timeout`` ...) that `BudClient` reads through
    (its `__getattr__`), as annotations; those `BudClient` defines itself, and views, are left out."""
    client = getattr(importlib.import_module(CLIENT[0]), CLIENT[1])
    sync_client = getattr(importlib.import_module(SYNC_CLIENT[0]), SYNC_CLIENT[1])
    node, module_name = _class_node(client)
    found: list[ast.stmt] = []
    for statement in node.body:
        if (
            isinstance(statement, ast.FunctionDef)
            and not statement.name.startswith("_")
            and statement.name not in vars(sync_client)
            and statement.name != "with_raw_response"
            and any(isinstance(d, ast.Name) and d.id == "property" for d in statement.decorator_list)
        ):
            returns = method_return(statement, module_name).rename(imports)
            found.append(ast.AnnAssign(ast.Name(statement.name, ast.Store()), returns, None, simple=1))
    return found


def package_init(resources: dict[str, type]) -> str:
    """`__init__.py`: what `BudClient`, `RawResponses` and the sync raw view inherit (annotations only)."""
    imports = Imports(shadowed=set())
    for attr, cls in resources.items():
        for prefix in ("Sync", "SyncRaw", "AsyncRaw"):
            imports.bind(view_name(cls, prefix), f"{PACKAGE}.{attr}", view_name(cls, prefix))

    def annotations(prefix: str) -> list[ast.stmt]:
        return [attribute(attr, view_name(cls, prefix)) for attr, cls in resources.items()]

    classes = [
        view(
            "SyncResources",
            "The resources and settings of `BudClient`, for type checkers.",
            [
                *annotations("Sync"),
                attribute("with_raw_response", "SyncRawResponses"),
                *client_properties(imports),
            ],
            protocol=False,
        ),
        view(
            "SyncRawResponses",
            "`BudClient().with_raw_response`: each resource, answering `APIResponse`.",
            annotations("SyncRaw"),
            protocol=False,
        ),
        view(
            "AsyncRawResponses",
            "`AsyncBudClient().with_raw_response`: each resource, answering `APIResponse`.",
            annotations("AsyncRaw"),
            protocol=False,
        ),
    ]
    doc = (
        '"""Typed views of `BudClient` and `with_raw_response`, one module per resource.\n\n'
        "GENERATED by tools/gen_sync_surface.py: do not edit; run it after changing an async resource.\n"
        "The run-time proxies (`budai_async/_sync/_proxy.py`, `budai_async/_raw_views.py`) build these\n"
        "objects by wrapping the async resources, which type checkers cannot follow; the Protocols here\n"
        "say what they answer, so ``BudClient().executions.get(...)`` is an `Execution` to a type\n"
        "checker and to an editor too.\n"
        '"""'
    )
    text, _ = render(doc, imports, classes, runtime_imports="from typing import TYPE_CHECKING")
    return text


PACKAGE = "budai_async._surface"


def generate() -> dict[Path, str]:
    """Every file of the generated package, by path."""
    resources = resource_classes()
    files = {TARGET / "__init__.py": package_init(resources)}
    for attr, cls in resources.items():
        files[TARGET / f"{attr}.py"] = resource_module(attr, cls)[0]
    return files


def _format(text: str) -> str:
    ruff = [sys.executable, "-m", "ruff"]
    name = str(TARGET / "generated.py")
    fixed = subprocess.run(
        [*ruff, "check", "--fix", "--quiet", "--stdin-filename", name, "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    formatted = subprocess.run(
        [*ruff, "format", "--quiet", "--stdin-filename", name, "-"],
        input=fixed.stdout or text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return formatted.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report whether the files are current")
    options = parser.parse_args()
    files = generate()
    present = set(TARGET.glob("*.py")) if TARGET.exists() else set()
    stale = sorted(str(p.relative_to(ROOT)) for p in present - set(files))
    changed = sorted(
        str(p.relative_to(ROOT)) for p, text in files.items() if not p.exists() or p.read_text() != text
    )
    if options.check:
        if stale or changed:
            print("out of date:", ", ".join(changed + stale), "- run python tools/gen_sync_surface.py")
            return 1
        return 0
    TARGET.mkdir(exist_ok=True)
    for path in present - set(files):
        path.unlink()
    for path, text in files.items():
        path.write_text(text)
    print(f"wrote {len(files)} files in {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
