"""The package reads top-down: its modules import one another without a circle."""

import ast
from pathlib import Path

import fastbp

PACKAGE = Path(fastbp.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every fastbp module ``path`` imports, at the top or inside a function."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from . import x` names a module when x is one, else something in `base`
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                      for a in node.names}
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_no_module_imports_itself_back():
    edges = graph()
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if nxt == "fastbp":
                raise AssertionError(f"{node} imports the package itself")
            if state.get(nxt) == "open":
                raise AssertionError("import circle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for node in sorted(edges):
        if node != "fastbp" and node not in state:
            visit(node, [])


def test_the_layers_point_one_way():
    edges = graph()
    # The engine and the kernels know nothing of Networks, options or validation (the
    # engine guards its chunks against SIGTERM with signals, which imports nothing of ours).
    assert edges["fastbp.engine"] == {"fastbp.kernels.protocol", "fastbp.signals"}
    assert edges["fastbp.signals"] == set()
    assert edges["fastbp.kernels.protocol"] == set()
    # tables, file writing and signal handling: no fastbp imports
    bottom = {"fastbp.functions", "fastbp.files", "fastbp.signals"}
    assert all(edges[m] == set() for m in bottom)
    for name, uses in edges.items():
        if name.startswith("fastbp.kernels"):
            assert all(m.startswith("fastbp.kernels") or m in bottom for m in uses), (name, uses)
    # The cluster runs the engine, not the public training functions.
    assert "fastbp.training" not in edges["fastbp.distributed"]
    assert edges["fastbp.data"] <= {"fastbp.functions", "fastbp.kernels.protocol"}
