"""`fastbp train`: a network trained on a data file, as a user runs it (a subprocess), its
files, its interruptions, and one clear line for every bad input."""

import csv
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastbp
from fastbp.cli import main
from fastbp.cli.train import DEFAULT_CHECKPOINT

CSV = "a,b,c,label\n0.1,0.2,0.3,0\n0.5,0.1,0.9,1\n0.3,0.7,0.2,0\n0.9,0.4,0.6,2\n"


def fastbp_cli(*args, cwd, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "fastbp", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)


def signal_once(run, mark, signum):
    """Send ``signum`` to ``run`` once its stderr shows ``mark``; wait for it to end, and
    return all it wrote to stderr."""
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(iter(lambda: run.stderr.read(64), "")))
    reader.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and mark not in "".join(seen):
        time.sleep(0.05)
    run.send_signal(signum)
    run.wait(timeout=120)
    reader.join()
    return "".join(seen)


def test_trains_on_a_csv_and_writes_every_file(tmp_path):
    (tmp_path / "d.csv").write_text(CSV)
    run = fastbp_cli("train", "--data", "d.csv", "--targets", "label", "--one-hot", "--sizes",
                     "3,4,3", "--epochs", "300", "--lr", "0.7", "--shuffle", "--seed", "2",
                     "--save", "net.npz", "--history", "h.csv", "--plot", "h.png",
                     "--record-every", "30", "--backend", "python", cwd=tmp_path)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    assert out.startswith("final loss ") and "after 300 epochs" in out and "python" in out
    assert "loss=" in err  # the progress bar shows the loss
    X = np.array([[0.1, 0.2, 0.3], [0.5, 0.1, 0.9], [0.3, 0.7, 0.2], [0.9, 0.4, 0.6]])
    Y = np.eye(3)[[0, 1, 0, 2]]
    net = fastbp.Network([3, 4, 3], seed=2)
    expected = fastbp.train(net, X, Y, epochs=300, lr=0.7, shuffle=True, seed=2,
                            record_every=30, backend="numba")
    assert np.array_equal(fastbp.Network.load(tmp_path / "net.npz").params, net.params)
    rows = list(csv.reader((tmp_path / "h.csv").open()))
    assert rows[0] == ["epoch", "loss"]
    assert [float(r[1]) for r in rows[1:]] == expected.history.tolist()
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / DEFAULT_CHECKPOINT).exists()  # a whole run leaves none


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_writes_a_checkpoint_and_prints_the_resume_command(tmp_path, signum, code):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(60, 6)), rng.uniform(size=(60, 2))
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    options = ["--sizes", "6,12,2", "--momentum", "0.5", "--shuffle", "--batch-size", "4"]
    run = fastbp_cli("train", "--data", "d.npz", "--epochs", "400000", "--save", "net.npz",
                     *options, cwd=tmp_path)
    err = signal_once(run, "loss=", signum)  # after a record
    assert run.returncode == code, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err
    assert last.startswith("fastbp train: interrupted after epoch ")
    command = last.split("resume with: ")[1]
    assert command.startswith(f"fastbp train --resume {DEFAULT_CHECKPOINT} --data d.npz")
    done = fastbp.checkpoint.read(tmp_path / DEFAULT_CHECKPOINT).state.done
    assert 0 < done < 400000
    resumed = subprocess.run([sys.executable, "-m", *command.split()[0:1],
                              *command.split()[1:], "--epochs", str(done + 500)],
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    net = fastbp.Network([6, 12, 2], seed=0)
    fastbp.train(net, X, Y, epochs=done + 500, momentum=0.5, shuffle=True, seed=0,
                 batch_size=4)
    assert np.array_equal(fastbp.Network.load(tmp_path / "net.npz").params, net.params)


def test_the_resume_flag_refuses_other_data(tmp_path, capsys):
    (tmp_path / "d.csv").write_text(CSV)
    ckpt = tmp_path / "c.ckpt"
    assert main(["train", "--data", str(tmp_path / "d.csv"), "--targets", "3", "--sizes",
                 "3,2,1", "--epochs", "5", "--checkpoint", str(ckpt)]) == 0
    (tmp_path / "e.csv").write_text(CSV.replace("0.9,0.4", "0.8,0.4"))
    capsys.readouterr()
    assert main(["train", "--resume", str(ckpt), "--data", str(tmp_path / "e.csv"),
                 "--targets", "3"]) == 2
    assert "not the data the checkpoint" in capsys.readouterr().err


BAD_FILES = {
    "ragged.csv": ("a,b,y\n1,2,3\n4,5\n", "row 3 has 2 columns, the header 3"),
    "text.csv": ("a,b,y\n1,2,3\n4,five,6\n", "row 3, column 2: 'five' is not a number"),
    "nan.csv": ("a,b,y\n1,2,3\n4,nan,6\n", "row 3, column 2: nan (only finite numbers"),
    "empty.csv": ("", "is empty"),
    "header.csv": ("a,b,y\n", "has a header but no rows"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_files_get_one_line_and_exit_2(tmp_path, capsys, name):
    text, message = BAD_FILES[name]
    (tmp_path / name).write_text(text)
    assert main(["train", "--data", str(tmp_path / name), "--targets", "y", "--sizes",
                 "2,2,1"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("fastbp train: error:")


@pytest.mark.parametrize(("extra", "message"), [
    (["--targets", "z"], "--targets: no column 'z'"),
    (["--targets", "a,b,y"], "none is left as input"),
    (["--targets", "y", "--sizes", "3,2,1"], "--sizes must start with the 2 inputs"),
    (["--targets", "y"], "--sizes is required"),
    (["--targets", "a,y", "--one-hot", "--sizes", "1,2,2"], "--one-hot needs one target"),
    (["--targets", "y", "--sizes", "2,2,1", "--save", "/nonexistent/n.npz"],
     "--save: cannot write '/nonexistent/n.npz': directory '/nonexistent' does not exist"),
    (["--targets", "y", "--sizes", "2,2,1", "--history", "/nonexistent/h.csv"],
     "--history: cannot write"),
    (["--targets", "y", "--sizes", "2,2,1", "--checkpoint", "/nonexistent/c"],
     "--checkpoint: cannot write"),
    (["--targets", "y", "--sizes", "2,2,1", "--plot", "/nonexistent/p.png"],
     "--plot: cannot write"),
    (["--targets", "y", "--sizes", "2,2,1", "--checkpoint-every", "-1"],
     "--checkpoint-every must be"),
    (["--targets", "y", "--sizes", "2,2,1", "--lr", "-1"], "lr must be a finite number > 0"),
    (["--targets", "y", "--sizes", "2,2,1", "--backend", "fortran"], "fortran"),
    (["--targets", "y", "--sizes", "2,2,1", "--resume", "/nonexistent.ckpt"], "nonexistent"),
])
def test_bad_options_get_one_line_and_exit_2(tmp_path, capsys, extra, message):
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0.5\n4,5,0.25\n")
    code = main(["train", "--data", str(tmp_path / "d.csv"), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and err.count("\n") == 1


def test_missing_data_file_and_npz_checks(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "none.csv"), "--targets", "0"]) == 2
    assert "does not exist" in capsys.readouterr().err
    np.savez(tmp_path / "two.npz", a=np.ones((3, 2)), b=np.ones((3, 1)))
    assert main(["train", "--data", str(tmp_path / "two.npz"), "--sizes", "2,1"]) == 2
    assert "must hold arrays X and Y" in capsys.readouterr().err
    np.save(tmp_path / "t.npy", np.array([[1.0, 2.0, 0.5], [3.0, 4.0, 0.25]]))
    assert main(["train", "--data", str(tmp_path / "t.npy"), "--targets", "2", "--sizes",
                 "2,1", "--epochs", "3"]) == 0


def test_version_and_help_defaults(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == \
        f"fastbp {fastbp.__version__}"
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ["(default: 0.5)", "(default: 1)", "(default: 1000)", "(default: xor)"]:
        assert shown in text


def test_the_docs_state_the_sweep_defaults():
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "commands.md").read_text()
    assert "--lr 0.1:1.0:10 --seeds 5 --epochs 10000" not in page
    assert "defaults: `--lr 0.5`, `--seeds 1`, `--epochs 1000`" in page


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_a_sweep_with_one_line_and_the_rows_so_far(tmp_path, signum, code):
    run = fastbp_cli("sweep", "--sizes", "2,8,1", "--lr", "0.1:0.9:4", "--seeds", "2",
                     "--epochs", "50000000", "--csv", "rows.csv", cwd=tmp_path)
    err = signal_once(run, "epoch/s", signum)  # once training runs
    assert run.returncode == code, err[-2000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("fastbp sweep: interrupted after epoch ") and "rows.csv" in last
    rows = list(csv.DictReader((tmp_path / "rows.csv").open()))
    assert len(rows) == 8 and all(r["status"].startswith("interrupted at epoch") for r in rows)
    assert all(np.isfinite(float(r["final_loss"])) for r in rows)
