"""`fastbp sweep`: the grid, its data sources, its files and its errors."""

import csv

import numpy as np
import pytest

import fastbp
from fastbp.cli import main, sweep


def test_grid_equals_training_each_setting_alone(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["sweep", "--sizes", "2,3,1", "--data", "xor", "--lr", "0.2:0.6:3", "--seeds",
                 "2", "--epochs", "50", "--csv", str(out), "--plot", str(tmp_path / "s.png")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["lr", "seed", "0", "seed", "1", "mean"]
    assert len(table) == 4
    rows = list(csv.DictReader(out.open()))
    assert [(float(r["lr"]), int(r["seed"])) for r in rows] == \
        [(lr, s) for lr in (0.2, 0.4, 0.6) for s in (0, 1)]
    X, Y = fastbp.data.dataset("xor")
    for r in rows:
        net = fastbp.Network([2, 3, 1], seed=int(r["seed"]))
        alone = fastbp.train(net, X, Y, epochs=50, lr=float(r["lr"]), backend="python")
        assert float(r["final_loss"]) == alone.final_loss
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_csv_data_with_named_and_numbered_targets(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    X, Y = sweep.load_data(str(path), "y")
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and Y.ravel().tolist() == [0, 1, 1, 0]
    X2, Y2 = sweep.load_data(str(path), "2")
    assert np.array_equal(X, X2) and np.array_equal(Y, Y2)
    bare = tmp_path / "bare.csv"
    bare.write_text("0.5,1,0.25\n0.1,0,0.75\n")
    X3, Y3 = sweep.load_data(str(bare), "0")
    assert X3.tolist() == [[1, 0.25], [0, 0.75]] and Y3.ravel().tolist() == [0.5, 0.1]


def test_parse_range():
    assert sweep.parse_range("0.1:1.0:10").tolist() == np.linspace(0.1, 1.0, 10).tolist()
    assert sweep.parse_range("0.5").tolist() == [0.5]


@pytest.mark.parametrize(("argv", "message"), [
    (["sweep", "--sizes", "2,2,1", "--lr", "a:b"], "--lr must be a number or START:STOP:COUNT"),
    (["sweep", "--sizes", "2,2,1", "--data", "xor", "--targets", "y"], "--targets and --one-hot"),
    (["sweep", "--sizes", "2,2,1", "--data", "/nonexistent.csv", "--targets", "y"],
     "--data: /nonexistent.csv does not exist"),
    (["sweep", "--sizes", "3,2,1", "--data", "xor"], "X must have 3 columns"),
    (["sweep", "--sizes", "2,2,1", "--lr", "0:1:3"], "lr must be finite and > 0"),
])
def test_errors_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
