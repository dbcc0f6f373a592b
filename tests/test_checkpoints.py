"""Checkpoints and exact resume: interrupted anywhere, on any backend, continued on any other."""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import fastbp
from fastbp.base.signals import Terminated
from fastbp.core import checkpoint as checkpoint_file
from fastbp.core import training
from fastbp.kernels import MODULES

CONFIGS = {
    "online": {},
    "momentum+shuffle": {"momentum": 0.7, "shuffle": True, "seed": 11},
    "minibatch": {"batch_size": 3, "momentum": 0.3, "shuffle": True, "seed": 5},
    "full-batch": {"batch_size": None},
}


def data(rng=None):
    rng = rng or np.random.default_rng(0)
    return rng.normal(size=(10, 3)), rng.uniform(size=(10, 2))


class InterruptAt:
    """A backend whose ``call``-th training call is interrupted after it ran (its chunk's
    work is then half-kept in the arrays: the engine must discard it)."""

    def __init__(self, kernels, call, exc=KeyboardInterrupt):
        self.kernels, self.call, self.calls, self.exc = kernels, call, 0, exc

    def __getattr__(self, name):
        return getattr(self.kernels, name)

    def _count(self):
        self.calls += 1
        if self.calls == self.call:
            raise self.exc()

    def train(self, *args):
        self.kernels.train(*args)
        self._count()

    def train_many(self, *args):
        self.kernels.train_many(*args)
        self._count()


def interrupting(monkeypatch, call, exc=KeyboardInterrupt):
    """Every run that training starts (through choose or resolve) is interrupted."""
    for lookup in ("choose", "resolve"):
        real = getattr(training, lookup)

        def interrupted(*args, real=real, **kwargs):
            found, kernels = real(*args, **kwargs)
            return found, InterruptAt(kernels, call, exc)

        monkeypatch.setattr(training, lookup, interrupted)


def other(backend):
    names = [n for n in MODULES if fastbp.backends()[n] == "available"]
    return names[(names.index(backend) + 1) % len(names)]


def same_result(a, b):
    assert np.array_equal(a.history, b.history, equal_nan=True)
    assert np.array_equal(a.history_epochs, b.history_epochs)
    assert a.final_loss == b.final_loss or (np.isnan(a.final_loss) and np.isnan(b.final_loss))
    assert (a.epochs, a.diverged, a.diverged_epoch) == (b.epochs, b.diverged, b.diverged_epoch)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("call", [1, 3, 7])
@pytest.mark.parametrize("every", [0.0, float("inf")])
def test_resume_after_an_interrupt_equals_the_whole_run(backend, config, call, every,
                                                        monkeypatch, tmp_path):
    X, Y = data()
    options = dict(epochs=40, lr=0.3, record_every=3, **CONFIGS[config])
    whole = fastbp.Network([3, 4, 2], seed=1)
    expected = fastbp.train(whole, X, Y, backend=backend, **options)
    path = tmp_path / "run.ckpt"
    net = fastbp.Network([3, 4, 2], seed=1)
    with monkeypatch.context() as patch:
        interrupting(patch, call)
        with pytest.raises(fastbp.TrainingInterrupted) as caught:
            fastbp.train(net, X, Y, backend=backend, checkpoint=path, checkpoint_every=every,
                         **options)
    assert caught.value.checkpoint == str(path) and "fastbp.resume(" in str(caught.value)
    saved = checkpoint_file.read(path)
    assert saved.state.done == caught.value.epochs_done < 40
    assert np.array_equal(saved.state.params[0], net.params)  # the network as it was left
    resumed, result = fastbp.resume(path, X, Y, backend=other(backend))
    assert np.array_equal(resumed.params, whole.params)
    same_result(result, expected)
    assert result.backend == other(backend)


def test_interrupted_twice_and_resumed_with_a_new_total(backend, monkeypatch, tmp_path):
    X, Y = data()
    options = {"lr": 0.2, "record_every": 2, "momentum": 0.5, "shuffle": True, "seed": 3,
               "batch_size": 4}
    whole = fastbp.Network([3, 5, 2], seed=2)
    expected = fastbp.train(whole, X, Y, epochs=60, backend=backend, **options)
    path = tmp_path / "run.ckpt"
    with monkeypatch.context() as patch:
        interrupting(patch, 4)
        with pytest.raises(fastbp.TrainingInterrupted):
            fastbp.train(fastbp.Network([3, 5, 2], seed=2), X, Y, epochs=30, backend=backend,
                         checkpoint=path, checkpoint_every=0, **options)
    with monkeypatch.context() as patch:
        interrupting(patch, 2, Terminated)
        with pytest.raises(fastbp.TrainingInterrupted) as caught:
            fastbp.resume(path, X, Y, backend=backend)
    assert caught.value.signum == signal.SIGTERM and "SIGTERM" in str(caught.value)
    net, first = fastbp.resume(path, X, Y)  # to the 30 planned
    assert first.epochs == 30
    net, result = fastbp.resume(path, X, Y, epochs=60, backend=backend)
    assert np.array_equal(net.params, whole.params)
    same_result(result, expected)
    with pytest.raises(ValueError, match="at least the 60 epochs already done"):
        fastbp.resume(path, X, Y, epochs=59)


def test_train_many_checkpoint_resumes_every_network(backend, monkeypatch, tmp_path):
    X, Y = data()
    lrs = [0.01, 0.03, 40.0]  # the last diverges and stops alone
    options = {"epochs": 50, "lr": lrs, "record_every": 5, "momentum": 0.9, "shuffle": True,
               "seed": 4}
    wholes = [fastbp.Network([3, 4, 2], seed=s, activation="identity") for s in range(3)]
    expected = fastbp.train_many(wholes, X, Y, backend=backend, **options)
    assert [r.diverged for r in expected] == [False, False, True]
    path = tmp_path / "many.ckpt"
    with monkeypatch.context() as patch:
        interrupting(patch, 3)
        with pytest.raises(fastbp.TrainingInterrupted):
            fastbp.train_many([fastbp.Network([3, 4, 2], seed=s, activation="identity")
                               for s in range(3)], X, Y, backend=backend, checkpoint=path,
                              checkpoint_every=0, **options)
    nets, results = fastbp.resume(path, X, Y)
    for net, whole, result, want in zip(nets, wholes, results, expected):
        assert np.array_equal(net.params, whole.params)
        same_result(result, want)


def test_resume_refuses_other_data_and_damaged_files(tmp_path):
    X, Y = data()
    path = tmp_path / "run.ckpt"
    fastbp.train(fastbp.Network([3, 4, 2], seed=1), X, Y, epochs=5, checkpoint=path,
                 backend="python")
    with pytest.raises(ValueError, match="not the data the checkpoint"):
        fastbp.resume(path, X + 1e-12, Y)
    with pytest.raises(ValueError, match="Y must have 2 columns"):
        fastbp.resume(path, X, Y[:, :1])
    raw = path.read_bytes()
    for name, damaged in [("half", raw[: len(raw) // 2]), ("empty", b""),
                          ("flipped", raw[:200] + bytes([raw[200] ^ 0xFF]) + raw[201:])]:
        broken = tmp_path / f"{name}.ckpt"
        broken.write_bytes(damaged)
        with pytest.raises(ValueError, match=r"not a readable fastbp checkpoint|corrupted"):
            fastbp.resume(broken, X, Y)
    net_file = tmp_path / "net.npz"
    fastbp.Network([3, 4, 2]).save(net_file)
    with pytest.raises(ValueError, match="not a readable fastbp checkpoint"):
        fastbp.resume(net_file, X, Y)
    # A later format version: refused by name, not misread.
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(np.load(path)["metadata"].item())
    meta["format_version"] = 99
    future = tmp_path / "future.ckpt"
    with open(future, "wb") as fh:
        arrays = {n: np.load(path)[n] for n in checkpoint_file.ARRAYS}
        np.savez(fh, metadata=np.array(json.dumps(meta)), **arrays)
    assert members
    with pytest.raises(ValueError, match="format version 99"):
        fastbp.resume(future, X, Y)
    with pytest.raises(FileNotFoundError):
        fastbp.resume(tmp_path / "missing.ckpt", X, Y)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"checkpoint": 3}, TypeError, "checkpoint must be a file path"),
    ({"checkpoint": "/nonexistent/dir/c.ckpt"}, ValueError, "'/nonexistent/dir' does not exist"),
    ({"checkpoint_every": -1.0}, ValueError, "checkpoint_every must be"),
    ({"checkpoint_every": float("nan")}, ValueError, "checkpoint_every must be"),
    ({"checkpoint_every": "often"}, TypeError, "checkpoint_every must be a real number"),
    ({"on_divergence": "ignore"}, ValueError, "on_divergence must be one of 'raise', 'stop'"),
])
def test_bad_checkpoint_options(kwargs, error, message):
    X, Y = data()
    net = fastbp.Network([3, 4, 2], seed=1)
    before = net.params.copy()
    with pytest.raises(error, match=message):
        fastbp.train(net, X, Y, epochs=3, **kwargs)
    assert np.array_equal(net.params, before)


def test_checkpoint_is_not_with_a_client():
    X, Y = data()
    with pytest.raises(ValueError, match="checkpoint is not available with client"):
        fastbp.train_many([fastbp.Network([3, 4, 2])], X, Y, checkpoint="c.ckpt",
                          client=object())


def test_checkpoints_come_at_most_every_checkpoint_every(tmp_path, monkeypatch):
    writes = []
    real = checkpoint_file.write
    monkeypatch.setattr(checkpoint_file, "write", lambda *a: writes.append(a[1].state.done)
                        or real(*a))
    X, Y = data()
    fastbp.train(fastbp.Network([3, 4, 2]), X, Y, epochs=30, record_every=1,
                 checkpoint=tmp_path / "c", checkpoint_every=3600, backend="python")
    assert writes == [30]  # only the end
    writes.clear()
    fastbp.train(fastbp.Network([3, 4, 2]), X, Y, epochs=30, record_every=1,
                 checkpoint=tmp_path / "c", checkpoint_every=0, backend="python")
    assert writes[-1] == 30 and len(writes) == 31  # after every chunk, and the end


CHILD = """
import sys, numpy as np, fastbp
X, Y = np.load(sys.argv[1])["X"], np.load(sys.argv[1])["Y"]
net = fastbp.Network([8, 24, 3], seed=0)
print("ready", flush=True)
fastbp.train(net, X, Y, epochs=200000, lr=0.2, momentum=0.5, shuffle=True, seed=1,
             batch_size=5, record_every=500, checkpoint=sys.argv[2], checkpoint_every=0,
             backend=sys.argv[3])
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_killed_process_resumes_exactly(backend, signum, tmp_path):
    """A real child process, stopped by a real signal at a random moment after its first
    checkpoint (SIGKILL can land during a write); the resume continues exactly."""
    rng = np.random.default_rng(signum)
    X, Y = rng.normal(size=(40, 8)), rng.uniform(size=(40, 3))
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    path = tmp_path / "run.ckpt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # cwd: `python -c` puts it first on sys.path, and the checkout's fastbp may be unbuilt.
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "data.npz"),
                              str(path), backend], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    assert child.stdout.readline().strip() == "ready", child.communicate()[1]
    deadline = time.monotonic() + 120
    while not path.exists() and time.monotonic() < deadline:  # a first chunk done
        assert child.poll() is None, child.communicate()[1]
        time.sleep(0.02)
    time.sleep(rng.uniform(0.1, 0.8))
    child.send_signal(signum)
    _, err = child.communicate(timeout=120)
    if signum == signal.SIGKILL:
        assert child.returncode == -signal.SIGKILL
    else:
        assert child.returncode != 0 and "TrainingInterrupted" in err, err[-2000:]
        assert "fastbp.resume(" in err
        assert ("SIGTERM" if signum == signal.SIGTERM else "Ctrl-C") in err
    saved = checkpoint_file.read(path)  # never unreadable, whenever the kill came
    done = saved.state.done
    assert 0 < done < 200000
    net, result = fastbp.resume(path, X, Y, epochs=done + 700, backend=other(backend))
    whole = fastbp.Network([8, 24, 3], seed=0)
    expected = fastbp.train(whole, X, Y, epochs=done + 700, lr=0.2, momentum=0.5, shuffle=True,
                            seed=1, batch_size=5, record_every=500, backend=backend)
    assert np.array_equal(net.params, whole.params)
    same_result(result, expected)


LARGE = """
import sys, numpy as np, fastbp
from pathlib import Path
X, Y = np.load(sys.argv[1])["X"], np.load(sys.argv[1])["Y"]
path = Path(sys.argv[2])
print("ready", flush=True)
if path.exists():
    fastbp.resume(path, X, Y, backend="numba")
else:
    fastbp.train(fastbp.Network([300, 256, 10], seed=0), X, Y, epochs=100000, lr=0.05,
                 momentum=0.5, shuffle=True, seed=1, record_every=1, checkpoint=path,
                 checkpoint_every=0, backend="numba")
"""


def test_kill_9_again_and_again_never_leaves_an_unreadable_checkpoint(tmp_path):
    """A large network (2.1 MB of parameters and velocity) checkpointed after every epoch:
    SIGKILL at random moments, many during a write; each time the checkpoint reads, and
    the run resumed from it, killed again, ..., finally ends as if never stopped."""
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(4, 300)), rng.uniform(size=(4, 10))
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    path = tmp_path / "big.ckpt"
    dones = []
    for _ in range(4):
        before = path.stat().st_mtime_ns if path.exists() else None
        child = subprocess.Popen([sys.executable, "-c", LARGE, str(tmp_path / "data.npz"),
                                  str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 cwd=tmp_path)
        assert child.stdout.readline().strip() == b"ready", child.communicate()[1]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (
                not path.exists() or path.stat().st_mtime_ns == before):  # one more write
            assert child.poll() is None, child.communicate()[1]
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))
        child.kill()
        child.wait(timeout=60)
        dones.append(checkpoint_file.read(path).state.done)  # readable after every kill
    assert dones == sorted(dones) and dones[-1] > 0
    net, result = fastbp.resume(path, X, Y, epochs=dones[-1] + 3, backend="cython")
    whole = fastbp.Network([300, 256, 10], seed=0)
    expected = fastbp.train(whole, X, Y, epochs=dones[-1] + 3, lr=0.05, momentum=0.5,
                            shuffle=True, seed=1, record_every=1, backend="numba")
    assert np.array_equal(net.params, whole.params)
    same_result(result, expected)


@pytest.mark.parametrize("threads", [(1, 2), (2, 1), (3, None)])
def test_resume_with_another_thread_count(compiled_backend, threads, monkeypatch, tmp_path):
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(64, 40)), rng.uniform(size=(64, 12))
    options = {"epochs": 12, "lr": 0.1, "batch_size": 16, "momentum": 0.5, "record_every": 1}
    whole = fastbp.Network([40, 30, 12], seed=4)
    expected = fastbp.train(whole, X, Y, backend="python", **options)
    path = tmp_path / "t.ckpt"
    with monkeypatch.context() as patch:
        interrupting(patch, 5)
        with pytest.raises(fastbp.TrainingInterrupted):
            fastbp.train(fastbp.Network([40, 30, 12], seed=4), X, Y, backend=compiled_backend,
                         threads=threads[0], checkpoint=path, **options)
    net, result = fastbp.resume(path, X, Y, threads=threads[1])
    assert np.array_equal(net.params, whole.params)
    same_result(result, expected)
