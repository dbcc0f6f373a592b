"""The README's quick start is two commands, and CI runs its test command verbatim."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README, CI = ROOT / "README.md", ROOT / ".ci" / "run"
pytestmark = pytest.mark.skipif(not (README.exists() and CI.exists()),
                                reason="run from a source checkout")


def quick_start():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_opens_with_a_two_command_quick_start():
    text = README.read_text(encoding="utf-8")
    assert re.findall(r"^## (.+)$", text, re.M)[0] == "Quick start"
    commands = quick_start()
    assert len(commands) == 2
    assert commands[0].endswith("fastbp tutorial")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    assert quick_start()[1] in CI.read_text(encoding="utf-8").splitlines()


def test_the_api_tour_runs(tmp_path, monkeypatch, capsys):
    text = README.read_text(encoding="utf-8")
    section = text.split("## API tour", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)  # it saves xor.npz
    namespace = {}
    exec(compile(code, "README.md (API tour)", "exec"), namespace)
    assert namespace["result"].final_loss < 0.01  # XOR learned (about 1e-4)
    assert all(r.final_loss < 0.25 for r in namespace["results"])
    assert namespace["same"].params.tolist() == namespace["net"].params.tolist()
    assert "3.5101877829" in capsys.readouterr().out  # the figure the tour's comment quotes


DOCS = ROOT / "docs"


def test_the_readme_is_read_in_one_sitting():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")  # scikit-learn's, as it says it
@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")
                                        if python_blocks(p)))
def test_the_docs_code_runs(page, tmp_path, monkeypatch):
    """Each page's Python blocks, in order, in one namespace (a block may use the one
    before it), in an empty directory."""
    pytest.importorskip("sklearn")  # the scikit-learn page's blocks import it
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for k, code in enumerate(python_blocks(DOCS / page)):
        exec(compile(code, f"docs/{page} (block {k + 1})", "exec"), namespace)


def test_the_docs_links_lead_somewhere():
    pages = [README, *DOCS.glob("*.md")]
    headings = {p.resolve(): {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                              for h in re.findall(r"^#+ (.+)$", p.read_text(encoding="utf-8"),
                                                  re.M)}
                for p in pages}
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page.resolve()
            assert file.exists(), f"{page.name}: {target}"
            if anchor and file.suffix == ".md":
                assert anchor in headings[file], f"{page.name}: {target}"


def test_no_internal_issue_numbers_reach_users():
    texts = [README, *DOCS.glob("*.md")]
    for page in texts:
        assert not re.search(r"\b[Ii]ssues? \d+", page.read_text(encoding="utf-8")), page.name
    from fastbp.cli.main import build_parser  # every command's help text

    parser = build_parser()
    helps = [parser.format_help()] + [sub.format_help() for action in parser._actions
                                      if hasattr(action, "choices") and action.choices
                                      for sub in action.choices.values()
                                      if hasattr(sub, "format_help")]
    assert not any(re.search(r"\b[Ii]ssues? \d+", h) for h in helps)
