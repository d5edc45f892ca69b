"""The digest of the code that computes a cell, part of the cell's address in the store.

It covers the source of the module defining the cell's function and of every ntkbench
module that module imports, transitively, found by reading their `import` statements
(anywhere in the file, so imports inside functions count too) rather than by looking at
what happens to be imported: the digest does not depend on what else the process imported,
so every process computes the same one. The modules that only report results or plan a run
are left out, so that editing the report or a cost model does not recompute anything.

A module's digest is computed the first time a cell of it asks, and kept for the life of the
process: a process computes with the code it imported, whatever happens to the files later.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import inspect
from pathlib import Path
from typing import Callable

PACKAGE = "ntkbench"
PACKAGE_DIR = Path(__file__).resolve().parent
NOT_COMPUTING = ("ntkbench.report", "ntkbench.pytest_plugin", "ntkbench.cost")


def code_digest(fn: Callable) -> str:
    """Hex SHA-256 of the source of `fn`'s module and the ntkbench modules it imports.

    Args:
        fn: a function defined in a module file, or a `functools.partial` of one.

    Raises:
        TypeError: `fn` has no source file (a builtin, or a function typed at a prompt).
    """
    while isinstance(fn, functools.partial):
        fn = fn.func
    path = inspect.getsourcefile(fn)
    if path is None:
        raise TypeError(f"{fn!r} has no source file, so no cache address: define it in a module")
    return source_digest(path, fn.__globals__.get("__package__"))


@functools.cache
def source_digest(path: str, package: str | None) -> str:
    """Hex SHA-256 of the file at `path` and of the ntkbench modules it imports, transitively.

    Args:
        path: a Python source file.
        package: the package that the file's relative imports are relative to.
    """
    root = Path(path).resolve()
    packages = {root: package}
    todo = [root]
    while todo:
        file = todo.pop()
        for name in _read(file, packages[file])[1]:
            source = _source(name)
            if source is not None and source not in packages:
                packages[source] = name if source.name == "__init__.py" else name.rpartition(".")[0]
                todo.append(source)
    digests = sorted(_read(file, package)[0] for file, package in packages.items())
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


@functools.cache
def _read(file: Path, package: str | None) -> tuple[str, frozenset[str]]:
    """The hex SHA-256 of `file` and the ntkbench names it imports, with every package above
    them (importing a module runs its packages' `__init__`); names of functions and classes
    among them are dropped by `_source`. Parsed once per process: modules share imports."""
    text = file.read_bytes()
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = importlib.util.resolve_name("." * node.level + module, package)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    parts = [name.split(".") for name in names if name.partition(".")[0] == PACKAGE]
    imported = frozenset(".".join(p[:i]) for p in parts for i in range(1, len(p) + 1))
    return hashlib.sha256(text).hexdigest(), imported


def _source(name: str) -> Path | None:
    """The file of ntkbench module `name`; None for a name that is no module, and for the
    modules that do not compute results."""
    if any(name == skip or name.startswith(f"{skip}.") for skip in NOT_COMPUTING):
        return None
    path = PACKAGE_DIR.parent.joinpath(*name.split("."))
    for file in (path / "__init__.py", path.with_suffix(".py")):
        if file.is_file():
            return file
    return None
