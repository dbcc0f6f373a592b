"""The ``fastbp`` command: output, exit codes, one-line errors."""

import subprocess
import sys

import pytest

from fastbp.cli import main
from fastbp.learn import tutorial


def test_tutorial_prints_every_number_beside_the_published_one(backend, capsys):
    assert main(["tutorial", "--backend", backend]) == 0
    out = capsys.readouterr().out
    assert f"backend {backend!r}" in out
    for pub in tutorial.PUBLISHED.values():
        assert f"published {pub.text}" in out
    assert out.count("DIFFERS") == 5
    assert "after 9,999 rounds" in out and "28 of 33" in out
    sections = [out.index(title) for title, _ in tutorial.SECTIONS]
    assert sections == sorted(sections)


def test_tutorial_with_other_epochs_adds_their_figures(capsys):
    assert main(["tutorial", "--epochs", "50"]) == 0
    error, (o1, _) = tutorial.after(50)
    out = capsys.readouterr().out
    assert f"After 50 rounds: E_total {error:.10g}, out_o1 {o1:.9f}" in out


def test_backends_lists_every_backend(capsys):
    assert main(["backends"]) == 0
    out = capsys.readouterr().out
    assert "python  available" in out and "auto -> " in out


@pytest.mark.parametrize("argv", [["tutorial", "--epochs", "-3"], ["tutorial", "--epochs", "x"],
                                  ["fly"], []])
def test_usage_errors_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("fastbp") and err.count("\n") == 1


def test_input_errors_exit_2_with_one_line(capsys):
    assert main(["tutorial", "--backend", "nope"]) == 2
    err = capsys.readouterr().err
    assert err == "fastbp tutorial: error: backend must be 'auto' or one of " \
        f"{', '.join(__import__('fastbp').backends())}; got 'nope'\n"


def test_console_script_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "fastbp", "backends"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and "python" in done.stdout
