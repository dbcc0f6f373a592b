"""Divergence, interrupts, threads, damaged files and read-only installs, on every backend."""

import os
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp.base.functions import SQUARED
from fastbp.kernels import oracle
from fastbp.kernels.protocol import Rule
from fastbp.learn import tutorial


def raw_train(net, X, Y, epochs, lr):
    """The oracle kernel alone, without train()'s checks: the state the checks must leave."""
    oracle.train(net.kernel_shape, Rule(SQUARED), net.params, np.zeros_like(net.params), X, Y,
                 epochs, lr)


def exploding():
    # w -> w - lr (w x - t) x with lr x^2 = 1e5: |w| grows 1e5-fold an epoch, then overflows.
    net = fastbp.Network([1, 1], "identity", bias="fixed", weights=[[[1.0]]], biases=[[0.0]])
    return net, np.array([[10.0]]), np.array([[0.0]]), 1000.0


def test_divergence_stops_at_the_epoch_and_keeps_the_last_finite_state(backend):
    net, X, Y, lr = exploding()
    with pytest.raises(fastbp.DivergenceError, match=r"in epoch (\d+); the network is left "
                       r"after epoch \d+, its last finite state") as caught:
        fastbp.train(net, X, Y, epochs=10_000, lr=lr, backend=backend)
    epoch = caught.value.epoch
    assert isinstance(caught.value, ValueError) and 1 < epoch < 100
    assert np.isfinite(net.params).all()
    expected, *_ = exploding()
    raw_train(expected, X, Y, epoch - 1, lr)
    assert np.array_equal(net.params, expected.params)
    raw_train(expected, X, Y, 1, lr)
    assert not np.isfinite(expected.params).all()  # epoch `epoch` is the first non-finite one


def test_train_many_names_the_network_that_diverged(backend):
    nets = [exploding()[0] for _ in range(3)]
    _, X, Y, _ = exploding()
    with pytest.raises(fastbp.DivergenceError, match="network 2") as caught:
        fastbp.train_many(nets, X, Y, epochs=5_000, lr=[1e-4, 1e-3, 1000.0], backend=backend,
                          on_divergence="raise")
    assert caught.value.network == 2
    for k, (net, lr) in enumerate(zip(nets, [1e-4, 1e-3, 1000.0])):
        alone = exploding()[0]
        raw_train(alone, X, Y, caught.value.epoch - 1, lr)
        assert np.array_equal(net.params, alone.params), k


def test_a_loss_that_becomes_infinite_is_reported(backend):
    net = fastbp.Network([1, 1], "logistic", weights=[[[1000.0]]], biases=[[0.0]])
    with pytest.raises(fastbp.DivergenceError, match="the loss is inf after epoch 0"):
        fastbp.train(net, [[1.0]], [[0.0]], epochs=0, loss="cross_entropy", backend=backend)


@pytest.mark.parametrize("interrupted_call", [2, 4])  # during a record; during the final loss
def test_ctrl_c_while_measuring_the_loss_reports_the_state_it_leaves(interrupted_call):
    from fastbp.core import engine
    from fastbp.kernels.protocol import Rule

    class InterruptedLoss:
        """The oracle, but Ctrl-C arrives in its n-th mean_loss."""

        def __init__(self, n):
            self.calls, self.n = 0, n

        def __getattr__(self, name):
            return getattr(oracle, name)

        def mean_loss(self, *args):
            self.calls += 1
            if self.calls == self.n:
                raise KeyboardInterrupt
            return oracle.mean_loss(*args)

    net = tutorial.network()
    params = net.params.reshape(1, -1)
    with pytest.raises(fastbp.TrainingInterrupted) as caught:
        engine.fit(InterruptedLoss(interrupted_call), net.kernel_shape, Rule(SQUARED), params,
                   tutorial.INPUTS, tutorial.TARGETS, np.array([0.5]),
                   engine.Plan(epochs=30, record_every=10))
    done = caught.value.epochs_done
    # A record belongs to the chunk it ends (a checkpoint holds both): interrupted while
    # measuring epoch 20's loss, the run is left after epoch 10.
    assert done == {2: 10, 4: 30}[interrupted_call]
    expected = tutorial.network()
    raw_train(expected, tutorial.INPUTS, tutorial.TARGETS, done, 0.5)
    assert np.array_equal(net.params, expected.params)


def test_ctrl_c_leaves_the_last_completed_chunk(backend):
    net = tutorial.network()
    previous = signal.signal(signal.SIGALRM, signal.default_int_handler)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            fastbp.train(net, tutorial.INPUTS, tutorial.TARGETS, epochs=10**9, backend=backend)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    stopped = caught.value
    assert isinstance(stopped, fastbp.TrainingInterrupted) and stopped.epochs_done > 0
    assert f"after epoch {stopped.epochs_done}" in str(stopped)
    expected = tutorial.network()
    fastbp.train(expected, tutorial.INPUTS, tutorial.TARGETS, epochs=stopped.epochs_done,
                 backend=backend)
    assert np.array_equal(net.params, expected.params)


def test_threads_training_different_networks_give_the_serial_bits(compiled_backend):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 8)), rng.uniform(size=(40, 3))
    nets = [fastbp.Network([8, 16, 3], seed=s) for s in range(4)]
    serial = [net.copy() for net in nets]
    for net in serial:
        fastbp.train(net, X, Y, epochs=30, backend=compiled_backend)
    workers = [threading.Thread(target=fastbp.train, args=(net, X, Y),
                                kwargs={"epochs": 30, "backend": compiled_backend})
               for net in nets]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for a, b in zip(nets, serial):
        assert np.array_equal(a.params, b.params)


def test_truncated_or_corrupted_files_are_refused(tmp_path):
    path = fastbp.Network([3, 4, 2], seed=1).save(tmp_path / "net.npz")
    data = path.read_bytes()
    for name, damaged in [("half", data[: len(data) // 2]), ("empty", b""),
                          ("flipped", data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])]:
        broken = tmp_path / f"{name}.npz"
        broken.write_bytes(damaged)
        with pytest.raises(ValueError, match=r"not a readable fastbp network|corrupted|checksum"):
            fastbp.Network.load(broken)
    with pytest.raises(FileNotFoundError):
        fastbp.Network.load(tmp_path / "missing.npz")


READ_ONLY_RUN = """
import numpy as np, fastbp
from fastbp.learn import tutorial
from fastbp.base.functions import SQUARED
from fastbp.kernels import oracle
from fastbp.kernels.protocol import Rule
nets = {b: tutorial.network() for b in fastbp.available_backends()}
for b, net in nets.items():
    fastbp.train(net, tutorial.INPUTS, tutorial.TARGETS, epochs=300, backend=b)
many = [tutorial.network() for _ in range(5)]
fastbp.train_many(many, tutorial.INPUTS, tutorial.TARGETS, epochs=300)
wide = {b: fastbp.Network([6, 20, 3], seed=0) for b in fastbp.available_backends()}
X, Y = np.ones((4, 6)), np.zeros((4, 3))
for b, net in wide.items():
    fastbp.train(net, X, Y, epochs=3, batch_size=2, momentum=0.5, backend=b)
same = all(np.array_equal(n.params, nets["python"].params) for n in nets.values())
same &= all(np.array_equal(n.params, nets["python"].params) for n in many)
same &= all(np.array_equal(n.params, wide["python"].params) for n in wide.values())
print(fastbp.__file__)
print(sorted(nets), same)
"""


#: What the read-only run imports besides fastbp.
RUNTIME = ("numpy", "numba", "llvmlite", "tqdm")


def _dependencies_nobody_can_read(python, path, into):
    """``path``, or, where ``nobody`` cannot import the runtime dependencies from it (a
    checkout, and its virtual environment, under a directory private to root), the
    read-only copy first and copies of the dependencies in ``into`` (hard links where the
    file system allows) after it."""
    probe = [*python, "-c", f"import {', '.join(RUNTIME)}"]
    env = {"PYTHONPATH": os.pathsep.join(path), "HOME": "/"}
    if subprocess.run(probe, env=env, capture_output=True, check=False).returncode == 0:
        return path
    if subprocess.run([*python, "-c", "pass"], capture_output=True, check=False).returncode:
        pytest.skip(f"user nobody cannot run this Python ({sys.executable}) at all")
    into.mkdir()
    for site_dir in map(Path, site.getsitepackages()):
        for entry in site_dir.iterdir():
            target = into / entry.name
            if entry.name.split(".")[0] not in RUNTIME or target.exists():
                continue
            try:
                if entry.is_dir():
                    shutil.copytree(entry, target, copy_function=os.link)
                else:
                    os.link(entry, target)
            except OSError:  # another file system: copy
                shutil.rmtree(target, ignore_errors=True)
                if entry.is_dir():
                    shutil.copytree(entry, target)
                else:
                    shutil.copy2(entry, target)
    for p in [into, *into.rglob("*")]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode | (0o555 if p.is_dir() else 0o444))
    return [path[0], str(into)]


@pytest.fixture
def traversable_tmp():
    """A temporary directory every user can reach (pytest's own is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="fastbp-ro-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(path)


def test_works_from_a_read_only_install(traversable_tmp):
    """The package directory and the home directory read-only: nothing may be written there."""
    package = Path(fastbp.__file__).parent
    root = traversable_tmp / "ro"
    shutil.copytree(package, root / "site" / "fastbp",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "home").mkdir()
    for path in [root, *root.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONPATH")}
    # -S: no site module, so no editable-install finder can point back at the source tree;
    # the copy comes first, then the environment's packages (numpy, numba, ...).
    path = [str(root / "site"), *site.getsitepackages()]
    env.update(HOME=str(root / "home"))
    command = [sys.executable, "-S", "-c", READ_ONLY_RUN]
    if os.geteuid() == 0:  # root writes anywhere: run as nobody, capabilities dropped
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a directory read-only")
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                   "--inh-caps=-all", "--bounding-set=-all", *command]
        path = _dependencies_nobody_can_read(command[:-2], path, traversable_tmp / "deps")
    env["PYTHONPATH"] = os.pathsep.join(path)
    # cwd: `python -c` puts it first on sys.path, and it must not hold another fastbp.
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False,
                          timeout=600, cwd=root / "home")
    assert done.returncode == 0, done.stderr[-3000:]
    location, *_, same = done.stdout.split()
    assert Path(location).is_relative_to(root / "site"), location  # the read-only copy ran
    assert same == "True", done.stdout
    assert "cython" in done.stdout or fastbp.backends()["cython"] != "available"
    written = [p for p in root.rglob("*") if p.stat().st_mtime > root.stat().st_mtime + 1]
    assert not written


def test_a_short_run_that_diverges_reports_as_a_long_one_does(backend):
    """One-chunk runs skip the bookkeeping between chunks; when one diverges, the loop runs
    it again from the start (with the shuffle generator put back) and reports it."""
    def run(record_every, seed):
        rng = np.random.default_rng(1)
        net = fastbp.Network([3, 4, 1], "identity", seed=0)
        X, Y = rng.normal(size=(6, 3)) * 10, rng.normal(size=(6, 1))
        with pytest.raises(fastbp.DivergenceError) as caught:
            fastbp.train(net, X, Y, epochs=40, lr=3.0, shuffle=True, seed=seed, momentum=0.5,
                         record_every=record_every, backend=backend)
        return net.params, caught.value.epoch

    generator = np.random.default_rng(9)
    short = run(None, generator)
    long = run(10**9, np.random.default_rng(9))  # a record mark past the end: the loop
    assert np.array_equal(short[0], long[0]) and short[1] == long[1]
    # the caller's generator advanced as far as in the loop (orders drawn once, not twice)
    again = np.random.default_rng(9)
    again.permuted(np.tile(np.arange(6), (40, 1)), axis=1)
    assert generator.bit_generator.state == again.bit_generator.state
