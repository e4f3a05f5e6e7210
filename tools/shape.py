"""The shape of edge/: import cycles, long functions, long modules.

Measured from the code's own imports, imports inside functions counted, the way the
layers issue measured them. `python tools/shape.py` prints what breaks the limits and
exits 1; tests/test_shape.py runs the same check in `make test`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "edge"
MAX_FUNCTION = 80
MAX_MODULE = 600


def module_name(path: Path) -> str:
    """Name a source file under ROOT by its dotted module name."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    """List every module of edge/, by dotted name."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Find the edge modules a module imports anywhere in its body."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                if not is_package:
                    anchor = anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            # `from edge.x import y` names module edge.x.y when that is a module, else edge.x
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Find strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def long_functions(path: Path) -> list[tuple[str, int]]:
    """Find functions over MAX_FUNCTION lines (nested ones count inside their parent)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_FUNCTION:
                out.append((f"{node.name}:{node.lineno}", lines))
    return out


def problems() -> list[str]:
    """List every breach of the shape, one sentence each."""
    mods = sources()
    known = set(mods)
    graph = {name: imports_of(name, path, known) for name, path in mods.items()}
    # a package's __init__ importing its own modules is not a cycle with them
    for name in graph:
        graph[name] = {t for t in graph[name] if not (name in known and t.startswith(name + "."))}
    out = [f"import cycle: {' <-> '.join(c)}" for c in cycles(graph)]
    for name, path in mods.items():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_MODULE:
            out.append(f"module {name} has {n} lines (limit {MAX_MODULE})")
        for where, lines in long_functions(path):
            out.append(f"function {name}.{where} has {lines} lines (limit {MAX_FUNCTION})")
    return out


if __name__ == "__main__":
    found = problems()
    print("\n".join(found) or "edge/ keeps its shape")
    sys.exit(1 if found else 0)
