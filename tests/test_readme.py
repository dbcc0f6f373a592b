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
