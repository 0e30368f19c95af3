"""Fail when the generated sync code is not what the async source gives, or when
an entry of the rename table does nothing.

``unasyncd --check`` only compares the source with unasyncd's own cache, so a
hand-edited or stale file under ``_sync`` passes it on a fresh clone. This
regenerates everything (``unasyncd --force``) and compares the files before
and after; on a difference it lists the files (now regenerated) and exits 1.

unasyncd applies an entry of ``[tool.unasyncd.add_replacements]`` to a name by
its fully qualified name: ``"pkg.mod.AsyncThing"`` to ``AsyncThing`` imported
with ``from pkg.mod import AsyncThing`` (or read as ``mod.AsyncThing`` after
``from pkg import mod``), a bare ``"AsyncThing"`` to a name the module itself
binds (a class, a function, a parameter, a fixture) and to words of docstrings.
An entry that matches no such name in the async source does nothing and fails
the check.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

GENERATED = (Path("src/gearbox_db/_sync"), Path("tests/_sync"))
SOURCES = (Path("src/gearbox_db/_async"), Path("tests/_async"))


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for an attribute chain of names, else ``None``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


def _words(docstring: str | None) -> set[str]:
    """The names in a docstring (unasyncd renames them there too)."""
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", docstring or ""))


def _names_of(tree: ast.Module) -> tuple[set[str], set[str]]:
    """The fully qualified names a module imports and uses, and the names it binds itself."""
    bound_to: dict[str, str] = {}  # local name -> what it was imported as
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            bound_to |= {a.asname or a.name: f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                head = alias.name.split(".")[0]
                bound_to[alias.asname or head] = alias.name if alias.asname else head
    qualified = set(bound_to.values())
    own = _words(ast.get_docstring(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (chain := _dotted(node)):
            head, _, rest = chain.partition(".")
            if head in bound_to:
                qualified.add(f"{bound_to[head]}.{rest}")
        elif isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            own.add(node.name)
            own |= _words(ast.get_docstring(node))
        elif isinstance(node, ast.arg):
            own.add(node.arg)
        elif isinstance(node, ast.Name) and node.id not in bound_to:
            own.add(node.id)
    return qualified, own


def idle_replacements(entries: Iterable[str], sources: Iterable[Path] = SOURCES) -> list[str]:
    """The rename entries that match no name of the async source."""
    qualified: set[str] = set()
    own: set[str] = set()
    for directory in sources:
        for path in sorted(directory.rglob("*.py")):
            found, bound = _names_of(ast.parse(path.read_text(encoding="utf-8")))
            qualified |= found
            own |= bound
    return [key for key in entries if key not in (qualified if "." in key else own)]


def _replacements() -> dict[str, str]:
    config = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))
    table: dict[str, str] = config["tool"]["unasyncd"].get("add_replacements", {})
    return table


def _snapshot() -> dict[Path, bytes]:
    return {
        path: path.read_bytes()
        for directory in GENERATED
        for path in sorted(directory.rglob("*.py"))
    }


def main() -> int:
    """Check the rename table, regenerate and compare; 0 when all is well."""
    idle = idle_replacements(_replacements())
    for key in idle:
        print(
            f"rename entry does nothing (no such name in the async source): {key!r}",
            file=sys.stderr,
        )
    if idle:
        print("remove it from [tool.unasyncd.add_replacements] in pyproject.toml", file=sys.stderr)
        return 1
    before = _snapshot()
    unasyncd = Path(sys.executable).with_name("unasyncd")  # beside the interpreter
    # Exit status 1 means "files changed" as well as "failed": tell them apart.
    result = subprocess.run([unasyncd, "--force"], capture_output=True, text=True, check=False)
    if "Traceback" in result.stderr or result.returncode not in (0, 1):
        print(result.stdout + result.stderr, file=sys.stderr)
        return 1
    after = _snapshot()
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    for path in changed:
        state = "missing" if path not in before else "removed" if path not in after else "stale"
        print(f"generated file {state}: {path}", file=sys.stderr)
    if changed:
        print("run 'unasyncd' and commit the regenerated files", file=sys.stderr)
        return 1
    print(f"generated sync code is up to date ({len(after)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
