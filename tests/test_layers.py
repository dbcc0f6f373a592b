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


#: What each part of the package may import (its own modules besides). A display hook may
#: reach up, inside the function that draws: Network's diagram, TrainResult.plot().
ALLOWED = {
    "fastbp.base": set(),
    "fastbp.kernels": {"fastbp.base"},
    "fastbp.core": {"fastbp.base", "fastbp.kernels"},
    "fastbp.learn": {"fastbp.base", "fastbp.kernels", "fastbp.core"},
    "fastbp.cli": {"fastbp.base", "fastbp.kernels", "fastbp.core", "fastbp.learn",
                   "fastbp.sklearn"},
    "fastbp.sklearn": {"fastbp.base", "fastbp.kernels", "fastbp.core"},
}
DISPLAY_HOOKS = {("fastbp.core.network", "fastbp.learn.diagram"),
                 ("fastbp.core.training", "fastbp.learn.plots")}


def part(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_the_top_level_holds_the_parts():
    top = {p.name for p in PACKAGE.iterdir() if not p.name.startswith("__")
           and (p.suffix == ".py" or (p / "__init__.py").exists())}
    assert top == {"base", "kernels", "core", "learn", "cli", "sklearn.py", "_version.py",
                   "_moved.py"}


def test_the_parts_point_one_way():
    for name, uses in graph().items():
        if name in ("fastbp", "fastbp.__main__", "fastbp._moved", "fastbp._version"):
            continue
        for used in uses:
            if part(used) in (part(name), "fastbp._version") or (name, used) in DISPLAY_HOOKS:
                continue
            assert part(used) in ALLOWED[part(name)], f"{name} imports {used}"


def test_the_layers_point_one_way():
    edges = graph()
    # The engine and the kernels know nothing of Networks, options or validation (the
    # engine guards its chunks against SIGTERM with signals, which imports nothing of ours,
    # and asks calibrate for threads=None's count, which knows only the kernels' threads and
    # thresholds).
    assert edges["fastbp.core.engine"] == {"fastbp.kernels.protocol", "fastbp.base.signals",
                                           "fastbp.core.calibrate"}
    assert edges["fastbp.core.calibrate"] == {"fastbp.kernels.protocol", "fastbp.kernels.limits",
                                              "fastbp.kernels.threads"}
    assert edges["fastbp.kernels.protocol"] == set()
    # tables, file writing and signal handling: no fastbp imports
    assert all(edges[m] == set() for m in edges if m.startswith("fastbp.base."))
    # The cluster runs the engine, not the public training functions.
    assert "fastbp.core.training" not in edges["fastbp.core.distributed"]
    assert edges["fastbp.core.data"] <= {"fastbp.base.functions", "fastbp.kernels.protocol"}


def test_the_old_module_names_still_work():
    import pickle
    import subprocess
    import sys

    # in a fresh process: nothing imported beforehand
    code = ("import fastbp.network, fastbp.trace, pickle\n"
            "from fastbp import data, sweep\n"
            "from fastbp.files import untrusted\n"
            "import fastbp\n"
            "assert fastbp.network is fastbp.core.network and data is fastbp.core.data\n"
            "assert callable(fastbp.trace) and sweep is fastbp.cli.sweep\n"
            "assert fastbp.sweep.__spec__.name == 'fastbp.cli.sweep'\n"
            "assert fastbp.bench is fastbp.cli.bench and fastbp.files.untrusted is untrusted\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    # a pickle written when Network lived in fastbp.network
    net = fastbp.Network([2, 2, 1], seed=0)
    old = pickle.dumps(net, protocol=0).replace(b"fastbp.core.network", b"fastbp.network")
    assert b"fastbp.network" in old
    assert pickle.loads(old).params.tolist() == net.params.tolist()
