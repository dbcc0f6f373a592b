"""`fastbp bench`: the table, its checks, its files and its errors (short workloads only)."""

import json
import sys

import pytest

from fastbp.cli import bench, main


def test_quick_table_and_json(tmp_path, capsys):
    out_json = tmp_path / "rows.json"
    code = main(["bench", "--quick", "--workloads", "tutorial-10k", "xor",
                 "--backends", "python", "numba", "cython", "--json", str(out_json)])
    assert code == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:5] == ["workload", "backend", "dtype", "epochs",
                                                 "figure"]
    rows = json.loads(out_json.read_text())
    assert {(r["workload"], r["backend"]) for r in rows} == {
        (w, b) for w in ("tutorial-10k", "xor") for b in ("python", "numba", "cython")}
    for w in ("tutorial-10k", "xor"):
        ran = [r for r in rows if r["workload"] == w and r["status"] == "ok"]
        assert len({r["final_loss"] for r in ran}) == 1  # every backend, the same bits
        python = next(r for r in ran if r["backend"] == "python")
        assert python["vs_python"] == 1.0
        for r in ran:
            assert r["vs_python"] == pytest.approx(python["figure"] / r["figure"])
            assert r["unit"] == "ns/step" and r["figure"] > 0


def test_batched_workloads_show_gflops_beside_numpys_matmul(tmp_path, capsys):
    out_json = tmp_path / "rows.json"
    assert main(["bench", "--quick", "--workloads", "minibatch", "--backends", "numba",
                 "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    header, line = out.splitlines()[:2]
    assert header.split()[7] == "GFLOP/s"
    (row,) = json.loads(out_json.read_text())
    w = bench.WORKLOADS["minibatch"]
    # The unrounded figures: the table prints one decimal of each, too few to divide.
    assert row["gflops"] == pytest.approx(w.flops_per_sample / row["figure"] / 1e3, rel=1e-9)
    assert line.split()[4] == f"{row['figure']:,.1f}"
    assert line.split()[5].rstrip("*") == f"{row['median']:,.1f}"
    assert line.split()[7] == f"{row['gflops']:.1f}"
    assert "NumPy's float64 matmul on one thread here:" in out
    assert bench.matmul_gflops(64) > 0


def test_float32_rows_beside_float64(tmp_path, capsys):
    out_json = tmp_path / "rows.json"
    assert main(["bench", "--quick", "--workloads", "tutorial-10k", "--backends", "python",
                 "numba", "--dtype", "float64", "float32", "--json", str(out_json)]) == 0
    rows = json.loads(out_json.read_text())
    assert [(r["backend"], r["dtype"]) for r in rows] == [
        ("python", "float64"), ("numba", "float64"), ("python", "float32"),
        ("numba", "float32")]
    losses = {dtype: {r["final_loss"] for r in rows if r["dtype"] == dtype}
              for dtype in ("float64", "float32")}
    assert all(len(found) == 1 for found in losses.values())  # each dtype's bits, shared
    assert losses["float64"] != losses["float32"]
    assert all(r["vs_python"] == pytest.approx(
        next(p["figure"] for p in rows if (p["backend"], p["dtype"]) == ("python", r["dtype"]))
        / r["figure"]) for r in rows)
    assert "float32" in capsys.readouterr().out


def test_flops_per_sample_counts_the_three_products():
    # 784-128-10: forward 2 (784*128 + 128*10), the gradient the same, the hidden deltas
    # 2 (128*10).
    assert bench.WORKLOADS["mnist"].flops_per_sample == 2 * (2 * (784 * 128 + 128 * 10)
                                                             + 128 * 10)


def test_workloads_the_oracle_cannot_run_are_listed_not_hidden(capsys):
    assert main(["bench", "--quick", "--workloads", "digits", "--backends", "python"]) == 0
    out = capsys.readouterr().out
    assert "not run:" in out
    assert "digits / python / float64: too long for the pure-Python oracle" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "--backends", "fortran"], "--backends must be among"),
    (["bench", "--workloads", "imagenet"], "workloads must be among"),
])
def test_bad_names_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["bench", "--quick", "--workloads", "tutorial-10k", "--backends", "python",
                 "--plot", str(tmp_path / "p.png")]) == 2
    assert "pip install 'fastbp[plot]'" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()


def test_plot_writes_a_png(tmp_path):
    path = tmp_path / "bench.png"
    rows = bench.run_table(["tutorial-10k"], ["python", "numba"], quick=True)
    bench.plot(rows, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_table_shows_the_spread_warns_of_noise_and_names_the_fastest():
    def row(workload, backend, figure, median, dtype="float64"):
        return {"workload": workload, "backend": backend, "dtype": dtype, "status": "ok",
                "epochs": 10, "figure": figure, "median": median, "unit": "ns/step",
                "final_loss": 0.5, "threads": 1}
    quiet = bench.format_table([row("xor", "numba", 66.0, 67.0), row("xor", "cython", 80.0, 81.0),
                                row("xor", "numba", 60.0, 61.0, "float32")])
    assert "busy" not in quiet
    assert quiet.splitlines()[-1] == "fastest: xor numba; xor float32 numba"
    noisy = bench.format_table([row("xor", "numba", 66.0, 99.0), row("xor", "cython", 80.0, 81.0)])
    assert "99.0*" in noisy and "81.0*" not in noisy
    assert "more than 20% above the best (1 of 2 rows): the machine was busy" in noisy


def test_chart_panels_spanning_more_than_10x_use_a_log_axis():
    pytest.importorskip("matplotlib")
    from fastbp.learn import plots

    def row(workload, backend, figure):
        return {"workload": workload, "backend": backend, "status": "ok", "figure": figure,
                "unit": "ns/step"}
    fig = plots.bench_chart([row("tutorial", "torch", 300_000.0), row("tutorial", "numba", 55.0),
                             row("xor", "numba", 66.0), row("xor", "cython", 80.0)])
    wide, narrow = fig.axes[:2]
    assert wide.get_yscale() == "log" and "log scale" in wide.get_ylabel()
    assert wide.get_ylim()[0] < 55.0 and wide.get_ylim()[1] > 300_000.0
    assert narrow.get_yscale() == "linear" and narrow.get_ylim()[0] == 0


def test_the_table_says_how_many_threads_each_runner_used(tmp_path):
    from fastbp.kernels import limits, threads

    out_json = tmp_path / "rows.json"
    with threads.kept_in(tmp_path / "kept" / "threads.json"):
        assert main(["bench", "--quick", "--workloads", "tutorial-10k", "ensemble", "mnist",
                     "--backends", "python", "numba", "--json", str(out_json)]) == 0
        used = {(r["workload"], r["backend"]): r["threads"]
                for r in json.loads(out_json.read_text()) if r["status"] == "ok"}
        assert used[("tutorial-10k", "python")] == used[("tutorial-10k", "numba")] == 1
        assert used[("ensemble", "numba")] == threads.cores()
        # one network's batches: the count the bench measured first, as threads=None runs it
        kept = threads.kept(bench.WORKLOADS["mnist"].threads_key("numba"))
        if threads.cores() > 1:
            assert used[("mnist", "numba")] == kept and kept in (1, threads.cores())
        else:
            assert used[("mnist", "numba")] == 1 and kept is None
        # a workload not measured yet: limits.THREADS_PAY decides (32 x 9,610 is under it)
        minibatch = bench.WORKLOADS["minibatch"]
        assert limits.THREADS_PAY > 32 * 9_610 and minibatch.threads("numba") == 1
        threads.keep(minibatch.threads_key("numba"), 2, 1.3)
        assert minibatch.threads("numba") == 2


def test_contenders_are_skipped_cleanly_when_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(RuntimeError,
                       match=r"torch is not installed \(pip install 'fastbp\[compare\]'\)"):
        bench.runner("torch", bench.WORKLOADS["xor"])
