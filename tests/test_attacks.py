"""Attacks and bad files, each as an attacker or a careless user would try it: planted
caches, crafted checkpoints, memory bombs, damaged kernel caches, two writers, orphaned
compiles, threads, and the data files' traps."""

import io
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp.base import files
from fastbp.cli import main
from fastbp.core import checkpoint
from fastbp.learn import tutorial

ENV = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
# `python -c` imports from its working directory first: from here, the fastbp under test
# (the installed one, not a source tree beside it), with its kernel caches.
HERE = str(Path(fastbp.__file__).resolve().parents[1])


def run_python(code, env=None, timeout=300, **kwargs):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env={**ENV, **(env or {})}, cwd=HERE,
                          **kwargs)


# --- No code runs from another user's files -------------------------------------------


class Payload:
    """Unpickled, it writes a file: proof that a planted pickle ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pwned"))


def kernel_module_name(net):
    from fastbp.kernels.numba import codegen as numba_codegen
    from fastbp.kernels.numba import libm_exp
    from fastbp.kernels.numba import unrolled as numba_unrolled

    shape = net.kernel_shape
    module = numba_codegen.kernel_module(numba_unrolled._key(shape.layout),
                                         numba_unrolled._key(shape.acts), 0,
                                         bool(shape.train_bias), "sgd", False, False,
                                         False, libm_exp.variant())
    text, name = numba_unrolled._text(module)
    return text, name


def plant(folder: Path, net, marker: Path) -> None:
    """numba's index files, pickles that run ``Payload``, for every function of the shape's
    generated kernel module, where numba would look for them beside the module."""
    text, name = kernel_module_name(net)
    cache = folder / "__pycache__"
    cache.mkdir(parents=True, exist_ok=True)
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
    for line, source in enumerate(text.splitlines(), start=1):
        if source.startswith("def "):
            function = source[4:].split("(")[0]
            (cache / f"{name}.{function}-{line}.{tag}.nbi").write_bytes(
                pickle.dumps(Payload(str(marker))))


@pytest.mark.parametrize("setup", ["own", "world-writable", "another user", "symlink"])
def test_a_planted_kernel_cache_runs_no_code(tmp_path, setup):
    # A read-only home (XDG_CACHE_HOME cannot be made) and no NUMBA_CACHE_DIR: the shape's
    # kernels would go to $TMPDIR/fastbp-kernels-<uid>, which anyone can create first.
    tmp = tmp_path / "tmp"
    tmp.mkdir(mode=0o777)
    tmp.chmod(0o1777)
    (tmp_path / "home").write_text("not a directory")
    folder = tmp / f"fastbp-kernels-{os.getuid()}"
    marker = tmp_path / "marker"
    net = tutorial.network()
    if setup == "symlink":
        elsewhere = tmp_path / "attacker"
        elsewhere.mkdir(mode=0o700)
        plant(elsewhere, net, marker)
        folder.symlink_to(elsewhere)
    else:
        folder.mkdir(mode=0o700)
        plant(folder, net, marker)
        if setup == "world-writable":
            folder.chmod(0o777)
        elif setup == "another user":
            if os.getuid() != 0:
                pytest.skip("only root can give a directory to another user")
            os.chown(folder, 65534, 65534)
    run = run_python("""
        import fastbp
        from fastbp.learn import tutorial
        net = tutorial.network()
        fastbp.train(net, tutorial.INPUTS, tutorial.TARGETS, epochs=3, backend="numba")
        print(net.params.tolist())
    """, env={"TMPDIR": str(tmp), "XDG_CACHE_HOME": str(tmp_path / "home" / "cache"),
              "FASTBP_TIERS": "specialised"})
    assert run.returncode == 0, run.stderr
    expected = tutorial.network()
    fastbp.train(expected, tutorial.INPUTS, tutorial.TARGETS, epochs=3, backend="python")
    assert run.stdout.strip() == str(expected.params.tolist())
    if setup == "own":  # the control: our own directory is trusted, and its files loaded
        assert marker.exists(), "the planted files were not where numba looks"
    else:
        assert not marker.exists(), "a planted pickle ran"
        assert "fastbp does not use" in run.stderr and str(folder) in run.stderr


def test_untrusted_names_the_reason(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    assert files.untrusted(mine) is None
    mine.chmod(0o707)
    assert "writable by others" in files.untrusted(mine)
    mine.chmod(0o770)  # a group's write: fine for this user's private group only
    if os.getuid() == 0:
        os.chown(mine, 0, 65534)
        assert "writable by others" in files.untrusted(mine)
        os.chown(mine, 0, 0)
        assert files.untrusted(mine) is None  # root's own group, no other member
    link = tmp_path / "link"
    link.symlink_to(mine)
    assert "symbolic link" in files.untrusted(link)
    assert files.private_dir(tmp_path / "new" / "dir", "test") == tmp_path / "new" / "dir"
    assert (tmp_path / "new" / "dir").stat().st_mode & 0o777 == 0o700


# --- Crafted checkpoints: refused before any kernel runs -------------------------------


def craft(path: Path, out: Path, meta_change=None, arrays_change=None, checksum=True):
    """A copy of checkpoint ``path`` with its metadata or arrays changed, its checksum
    recomputed as anyone can."""
    with np.load(path) as data:
        meta = json.loads(str(data["metadata"]))
        arrays = {k: np.array(data[k]) for k in checkpoint.ARRAYS}
    meta.pop("sha256")
    if meta_change:
        meta_change(meta)
    if arrays_change:
        arrays_change(arrays)
    if checksum:
        try:
            meta["sha256"] = checkpoint._checksum(arrays, meta)
        except (TypeError, KeyError):
            meta["sha256"] = "0" * 64
    files.write_npz(out, meta, arrays)
    return out


def _set(section, key, value):
    def change(meta):
        (meta if section is None else meta[section])[key] = value
    return change


def _drop(section, key):
    def change(meta):
        (meta if section is None else meta[section]).pop(key)
    return change


def _deep(meta):
    nested = []
    for _ in range(50):  # deeper than any of fastbp's files, shallow enough to write
        nested = [nested]
    meta["rng"] = {"bit_generator": "PCG64", "state": nested}


CRAFTED = {
    "params too long": (None, lambda a: a.update(params=np.zeros((1, 1000)))),
    "params too short": (None, lambda a: a.update(params=a["params"][:, :3].copy())),
    "velocity of another shape": (None, lambda a: a.update(velocity=np.zeros((1, 4)))),
    "params not finite": (None, lambda a: a["params"].__setitem__((0, 0), np.nan)),
    "lr -1": (None, lambda a: a.update(lrs=np.array([-1.0]))),
    "momentum 5": (_set("options", "momentum", 5.0), None),
    "weight_decay -1": (_set("options", "weight_decay", -1.0), None),
    "batch_size beyond n": (_set("options", "batch_size", 50), None),
    "done -50": (_set(None, "done", -50), None),
    "done beyond epochs": (_set(None, "done", 10**6), None),
    "epochs 1e20": (_set("options", "epochs", 1e20), None),
    "rng null with shuffle": (_set(None, "rng", None), None),
    "rng of no generator": (_set(None, "rng", {"bit_generator": "os", "state": 1}), None),
    "loss unknown": (_set("options", "loss", "hinge"), None),
    "activation unknown": (_set("network", "activation", ["logistic", "nope"]), None),
    "sizes of 400M parameters": (_set("network", "sizes", [2, 10**8, 2]), None),
    "a key missing": (_drop("options", "seed"), None),
    "a key missing at the top": (_drop(None, "done"), None),
    "an extra key": (_set("options", "surprise", 1), None),
    "nested JSON": (_deep, None),
    "seconds negative": (_set(None, "seconds", -1.0), None),
    "kind unknown": (_set(None, "kind", "evil"), None),
}


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    X = np.random.default_rng(0).uniform(size=(6, 2))
    Y = X[:, :2] * 0.5
    net = fastbp.Network([2, 3, 2], seed=0)
    fastbp.train(net, X, Y, epochs=4, shuffle=True, seed=1, momentum=0.5, record_every=1,
                 checkpoint=folder / "run.npz", backend="python")
    return folder / "run.npz", X, Y


@pytest.mark.parametrize("attack", list(CRAFTED))
def test_a_crafted_checkpoint_is_refused_on_every_backend(saved_run, tmp_path, backend,
                                                          attack):
    path, X, Y = saved_run
    crafted = craft(path, tmp_path / "crafted.npz", *CRAFTED[attack])
    with pytest.raises(ValueError, match=r"crafted\.npz"):
        fastbp.resume(crafted, X, Y, epochs=8, backend=backend)


def test_the_uncrafted_checkpoint_resumes(saved_run, tmp_path, backend):
    path, X, Y = saved_run
    fastbp.resume(craft(path, tmp_path / "same.npz"), X, Y, epochs=6, backend=backend)


def test_a_crafted_checkpoint_from_the_command_line_is_one_line(saved_run, tmp_path, capsys):
    path, X, Y = saved_run
    data = tmp_path / "d.npz"
    np.savez(data, X=X, Y=Y)
    crafted = craft(path, tmp_path / "crafted.npz", _drop("options", "seed"))
    assert main(["train", "--resume", str(crafted), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lack seed" in err, err


# --- Memory bombs: refused within 1 s, under 100 MB -------------------------------------


def measured(call):
    """(what ``call`` raised or returned, seconds, peak bytes traced)."""
    tracemalloc.start()
    began = time.perf_counter()
    try:
        outcome = call()
    except (ValueError, TypeError) as exc:
        outcome = exc
    seconds = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, seconds, peak


def network_file(path, sizes, params=None):
    meta = {"format": "fastbp-network", "format_version": 1, "fastbp_version": "0",
            "sizes": sizes, "activations": ["logistic"] * (len(sizes) - 1),
            "bias": "trainable", "sha256": "0" * 64}
    files.write_npz(path, meta, {"params": np.zeros(3) if params is None else params})
    return path


def zip_bomb(path, member="params.npy", shape=(10**8,), metadata=None):
    """An .npz whose ``member`` declares ``shape`` of float64 zeros, deflated a
    thousandfold."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if metadata is not None:
            buffer = io.BytesIO()
            np.save(buffer, np.array(json.dumps(metadata)))
            archive.writestr("metadata.npy", buffer.getvalue())
        with archive.open(member, "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(
                fh, {"descr": "<f8", "fortran_order": False, "shape": shape})
            zeros = bytes(2**20)
            for _ in range(int(np.prod(shape)) * 8 // 2**20):
                fh.write(zeros)
    return path


def npy_bomb(path, shape=(10**6, 10**6)):
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f8", "fortran_order": False, "shape": shape})
        fh.write(bytes(64))
    return path


def deep_json(depth=100_000):
    return "[" * depth + "]" * depth


BOMBS = {
    "network file of 400M parameters": lambda p: fastbp.Network.load(
        network_file(p / "n.npz", [2, 10**8, 2])),
    "zipped network": lambda p: fastbp.Network.load(zip_bomb(
        p / "z.npz", shape=(2 * 10**7,),
        metadata={"format": "fastbp-network", "format_version": 1})),
    "zipped checkpoint": lambda p: fastbp.resume(zip_bomb(
        p / "c.npz", shape=(2 * 10**7,),
        metadata={"format": "fastbp-checkpoint", "format_version": 1}),
        np.zeros((1, 2)), np.zeros((1, 2))),
    "Network([10**6, 10**6])": lambda p: fastbp.Network([10**6, 10**6]),
    "deep JSON metadata": lambda p: fastbp.Network.load(
        files.write_npz(p / "deep.npz", {}, {"params": np.zeros(3)})
        and _replace_metadata(p / "deep.npz", deep_json())),
}


def _replace_metadata(path, text):
    with zipfile.ZipFile(path) as archive:
        params = archive.read("params.npy")
    buffer = io.BytesIO()
    np.save(buffer, np.array(text))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.npy", buffer.getvalue())
        archive.writestr("params.npy", params)
    return path


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_a_memory_bomb_is_refused_at_once(tmp_path, bomb):
    outcome, seconds, peak = measured(lambda: BOMBS[bomb](tmp_path))
    assert isinstance(outcome, ValueError), outcome
    assert seconds < 1.0 and peak < 100 * 2**20, (seconds, peak)


CLI_BOMBS = {
    "train --data .npy of 10^12 numbers": lambda p: [
        "train", "--data", str(npy_bomb(p / "big.npy")), "--targets", "0", "--sizes", "2,1"],
    "sweep --data .npy of 10^12 numbers": lambda p: [
        "sweep", "--data", str(npy_bomb(p / "big.npy")), "--targets", "0", "--sizes", "2,1"],
    "train --data zipped .npz": lambda p: [
        "train", "--data", str(zip_bomb(p / "big.npz", "X.npy", (4000, 4000))),
        "--sizes", "2,1"],
    "explain --weights deep JSON": lambda p: [
        "explain", "--sizes", "2,1", "--weights", str(_write(p / "w.json", deep_json())),
        "--input", "1,2", "--target", "1"],
    "sweep --seeds 10^9": lambda p: ["sweep", "--sizes", "2,2,1", "--seeds", "1000000000"],
    "sweep --lr of 10^9 rates": lambda p: ["sweep", "--sizes", "2,2,1", "--lr", "0.1:1:1000000000"],
}


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("bomb", list(CLI_BOMBS))
def test_a_memory_bomb_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys, bomb):
    argv = CLI_BOMBS[bomb](tmp_path)
    code, seconds, peak = measured(lambda: main(argv))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, (code, err)
    assert seconds < 1.0 and peak < 100 * 2**20, (seconds, peak)


def test_a_csv_too_large_for_memory_is_refused_while_read(tmp_path, capsys, monkeypatch):
    from fastbp.cli import datafile

    monkeypatch.setattr(datafile, "available_memory", lambda: 16 * 2**20)  # 9.6 MB of values
    path = tmp_path / "big.csv"
    path.write_text("a,b,y\n" + "0.5,0.25,1\n" * 400_000)
    assert main(["train", "--data", str(path), "--targets", "y", "--sizes", "2,1"]) == 2
    assert "too large for the memory available" in capsys.readouterr().err


# --- A damaged kernel cache recovers ----------------------------------------------------


def test_every_damaged_cache_file_is_recovered_from(tmp_path):
    # A module of our own whose jitted function numba caches beside it; each of its cached
    # files is truncated in turn, and each run still gives the answer, says so once, and
    # leaves a healthy cache.
    pytest.importorskip("numba")
    (tmp_path / "kernel_mod.py").write_text(textwrap.dedent("""
        from fastbp.kernels.numba.jit import jit

        @jit(internal=False)
        def twice(x):
            return 2.0 * x
    """))
    code = "import kernel_mod; print(kernel_mod.twice(21.0))"
    env = {"PYTHONPATH": str(tmp_path)}
    first = run_python(code, env=env)
    assert first.stdout.strip() == "42.0", first.stderr
    cached = sorted((tmp_path / "__pycache__").glob("kernel_mod.twice-*.nb[ic]"))
    assert {p.suffix for p in cached} == {".nbi", ".nbc"}
    for path in cached:
        path.write_bytes(path.read_bytes()[:10])
        damaged = run_python(code, env=env)
        assert damaged.returncode == 0 and damaged.stdout.strip() == "42.0", damaged.stderr
        assert damaged.stderr.count("was damaged") == 1, damaged.stderr
        healthy = run_python(code, env=env)
        assert healthy.stdout.strip() == "42.0" and "damaged" not in healthy.stderr


def test_a_damaged_generic_kernel_cache_recovers(tmp_path):
    # fastbp's own generic kernel for a small network's forward pass, as installed.
    pytest.importorskip("numba")
    from fastbp.kernels.numba import online as numba_online

    net = tutorial.network()
    net.forward(tutorial.INPUTS, backend="numba")
    index = Path(numba_online.forward._cache._cache_file._index_path)
    if not index.exists():
        pytest.skip("numba keeps no cache here")
    damaged = {p: p.read_bytes() for p in
               [index, *index.parent.glob(index.name[: -len(".nbi")] + ".*.nbc")]}
    try:
        for path in damaged:
            path.write_bytes(b"\x80\x04")
        # the child reads the cache this process damaged: where the caller moved it too
        where = {k: os.environ[k] for k in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")
                 if k in os.environ}
        run = run_python("""
            import fastbp
            from fastbp.learn import tutorial
            print(tutorial.network().forward(tutorial.INPUTS, backend="numba").tolist())
        """, env=where)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == str(net.forward(tutorial.INPUTS, "python").tolist())
        assert "was damaged" in run.stderr
    finally:
        for path, content in damaged.items():
            if not path.exists() or path.stat().st_size < 4:
                path.write_bytes(content)


# --- One writer per checkpoint ------------------------------------------------------------


def test_a_second_writer_is_refused_and_stale_temporaries_go(tmp_path):
    path = tmp_path / "run.npz"
    X, Y = tutorial.INPUTS, tutorial.TARGETS
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from fastbp.files import WriterLock; "
         f"lock = WriterLock({str(path)!r}, 'checkpoint'); print('held', flush=True); "
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True, cwd=HERE)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = tutorial.network()
        net = tutorial.network()
        with pytest.raises(ValueError, match="being written by another run"):
            fastbp.train(net, X, Y, epochs=3, checkpoint=path)
        assert np.array_equal(net.params, before.params)
    finally:
        holder.kill()
        holder.wait()
    stale = tmp_path / ".run.npz.dead1234.tmp"
    stale.write_bytes(bytes(1000))
    fastbp.train(tutorial.network(), X, Y, epochs=3, checkpoint=path)
    assert not stale.exists() and path.exists()
    fastbp.train(tutorial.network(), X, Y, epochs=3, checkpoint=path)  # released after a run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]  # no lock file left


# --- A background compile dies with its parent ------------------------------------------


def test_an_orphaned_compile_exits_within_two_seconds(tmp_path):
    pytest.importorskip("numba")
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import time
        import fastbp
        from fastbp.kernels.numba import backend as numba_backend
        from fastbp.kernels.protocol import Rule
        net = fastbp.Network([2, 23, 1], seed=0)
        entry = numba_backend._entry(net.kernel_shape, Rule(0), True)
        entry.start()
        print(entry._process.pid, flush=True)
        time.sleep(120)
    """)], stdout=subprocess.PIPE, text=True, cwd=HERE,
        env={**ENV, "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
             "XDG_CACHE_HOME": str(tmp_path / "cache")})
    child = int(parent.stdout.readline())
    time.sleep(0.5)
    assert _alive(child), "the compile ended before the test could orphan it"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 2.0
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the compile outlived its parent by 2 s"


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# --- Threads and shared networks --------------------------------------------------------


def test_one_network_trained_from_two_threads_is_refused():
    net = tutorial.network()
    X, Y = tutorial.INPUTS, tutorial.TARGETS
    # the calls below, once first: choosing their backend may import (and, with cold
    # caches, compile) numba's kernels, for longer than the oracle's run lasts
    fastbp.train_many([tutorial.network(), tutorial.network()], X, Y, epochs=1)
    # the oracle, long enough (seconds) that the other calls surely meet it running
    long = threading.Thread(target=fastbp.train, args=(net, X, Y),
                            kwargs={"epochs": 200_000, "backend": "python"})
    long.start()
    try:
        while not net._busy.locked() and long.is_alive():
            time.sleep(0.001)
        with pytest.raises(ValueError, match="being trained by another call"):
            fastbp.train(net, X, Y, epochs=1)
        with pytest.raises(ValueError, match="being trained by another call"):
            fastbp.train_many([tutorial.network(), net], X, Y, epochs=1)
    finally:
        long.join()
    alone = tutorial.network()
    fastbp.train(alone, X, Y, epochs=200_000, backend="numba")  # the oracle's bits, faster
    assert np.array_equal(net.params, alone.params)  # the refused calls changed nothing


def test_the_same_network_twice_in_train_many_is_refused():
    net = tutorial.network()
    with pytest.raises(ValueError, match=r"nets\[0\] and nets\[2\] are the same Network"):
        fastbp.train_many([net, tutorial.network(), net], tutorial.INPUTS, tutorial.TARGETS)


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"lr": np.array([0.5 + 1j, 0.5])}, "lr must hold real numbers, got dtype complex128"),
    ({"lr": np.ma.masked_array([0.5, 0.5], mask=[0, 1])}, "lr must not be a masked array"),
])
def test_complex_and_masked_learning_rates_are_refused(kwargs, pattern):
    nets = [tutorial.network(), tutorial.network()]
    with pytest.raises(TypeError, match=pattern):
        fastbp.train_many(nets, tutorial.INPUTS, tutorial.TARGETS, **kwargs)


def test_masked_and_complex_data_are_refused():
    X = np.ma.masked_array(tutorial.INPUTS, mask=[[0, 1]])
    with pytest.raises(TypeError, match="X must not be a masked array"):
        fastbp.train(tutorial.network(), X, tutorial.TARGETS)
    with pytest.raises(TypeError, match="complex"):
        fastbp.train(tutorial.network(), tutorial.INPUTS + 0j, tutorial.TARGETS)


def test_kernels_refuse_buffers_that_do_not_fit(compiled_backend):
    from fastbp.kernels import resolve
    from fastbp.kernels.protocol import Rule

    _, kernels = resolve(compiled_backend)
    net = tutorial.network()
    shape, X, Y = net.kernel_shape, tutorial.INPUTS, tutorial.TARGETS
    short = np.zeros(shape.n_params - 1)
    with pytest.raises(ValueError, match="do not fit the network 2-2-2"):
        kernels.train(shape, Rule(0), short, np.zeros_like(short), X, Y, 1, 0.5)
    with pytest.raises(ValueError, match="do not fit"):
        kernels.forward(shape, net.params, np.zeros((1, 3)))
    with pytest.raises(ValueError, match="do not fit"):
        kernels.train(shape, Rule(0), net.params.copy(), np.zeros(net.params.size), X, Y, 1,
                      0.5, order=np.array([[5]]))
    with pytest.raises(ValueError, match="do not fit"):
        kernels.train_many(shape, Rule(0), np.zeros((2, shape.n_params)),
                           np.zeros((2, shape.n_params)), X, Y, 1, np.array([0.5]))


# --- Data files -----------------------------------------------------------------------------


def _csv(tmp_path, text, *extra):
    from fastbp.cli import datafile

    path = tmp_path / "d.csv"
    path.write_bytes(text.encode("utf-8"))
    return datafile.load(str(path), *extra)


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    X, Y = _csv(tmp_path, "\ufeffy,a\n1,2\n3,4\n", "y")
    assert Y.ravel().tolist() == [1, 3] and X.ravel().tolist() == [2, 4]


@pytest.mark.parametrize("number", ["1_000", "１", "٣"])
def test_numbers_are_plain(tmp_path, number):
    with pytest.raises(ValueError, match=f"row 2, column 1: '{number}' is not a number"):
        _csv(tmp_path, f"a,y\n{number},1\n", "y")


def test_a_numeric_header_row_is_found_or_declared(tmp_path, capsys):
    # column numbers over real-valued data: a header, with a note
    X, Y = _csv(tmp_path, "0,1,2\n0.5,0.25,0.75\n0.1,0.2,0.3\n", "2")
    assert X.tolist() == [[0.5, 0.25], [0.1, 0.2]] and Y.ravel().tolist() == [0.75, 0.3]
    assert "--no-header" in capsys.readouterr().err
    # numbers like those below: data
    X, Y = _csv(tmp_path, "0.5,1,0.25\n0.1,0,0.75\n", "0")
    assert X.tolist() == [[1, 0.25], [0, 0.75]] and Y.ravel().tolist() == [0.5, 0.1]
    assert capsys.readouterr().err == ""
    # declared either way
    X, _ = _csv(tmp_path, "0,1,2\n0.5,0.25,0.75\n", "2", False, False)
    assert X.tolist() == [[0, 1], [0.5, 0.25]]
    X, _ = _csv(tmp_path, "1,2,3\n4,5,6\n", "3", False, True)  # a name before an index
    assert X.tolist() == [[4, 5]]
    X, _ = _csv(tmp_path, "a,b,y\n4,5,6\n", "y", False, None)
    assert X.tolist() == [[4, 5]]


def test_an_io_error_names_the_file_and_exits_2(tmp_path, capsys, monkeypatch):
    import errno

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "d.csv"
    data.write_text("a,y\n1,0\n2,1\n")
    target = tmp_path / "net.npz"
    fsync = os.fsync

    def full(fd):  # the disk fills as the network is saved
        if ".net.npz." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", full)
    code = main(["train", "--data", str(data), "--targets", "y", "--sizes", "1,1",
                 "--epochs", "2", "--save", str(target), "--backend", "python"])
    last = capsys.readouterr().err.splitlines()[-1]  # after the progress bar
    assert code == 2 and last == f"fastbp train: error: {target}: No space left on device"
    assert not list(tmp_path.glob(".net.npz.*"))


# --- Learners' paths --------------------------------------------------------------------------


def test_explain_takes_one_activation_name_for_every_layer(capsys):
    assert main(["explain", "--sizes", "3,4,2", "--activation", "tanh", "--seed", "0",
                 "--input", "1,2,3", "--target", "0,1"]) == 0
    out = capsys.readouterr().out
    assert "tanh(net_h1)" in out and "tanh(net_o1)" in out
    assert "- -" not in out and "+ -" not in out and "* -" not in out
    assert "1 - (-" in out  # 1 - (-0.57)^2, never 1 - -0.57^2


def test_the_tutorial_note_reads_as_one_statement(capsys):
    assert main(["tutorial", "--backend", "python", "--epochs", "10000"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    note = out[out.index("before multiplying by w7"):][:60]
    assert "which gives -0.0190491185" in note and "unrounded" not in out


def test_the_train_help_says_each_default_once_and_describes_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    options = text[text.index("options:"):]
    assert "(default: None)" not in options and "(default: False)" not in options
    assert " ".join(options.split()).count("default: 1000") == 1
    help_of = {}
    for line in options.splitlines()[1:]:
        if line.startswith("  -"):
            name = line.split()[0].rstrip(",")
            help_of[name] = line.split(maxsplit=2)[2:]
        else:
            help_of[name].append(line.strip())
    for option in ("--momentum", "--loss", "--bias", "--seed"):
        assert len(" ".join(help_of[option]).split()) > 4, (option, help_of[option])


def test_a_resumed_summary_adds_up(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("a,y\n1,0\n2,1\n")
    ckpt = tmp_path / "c.npz"
    assert main(["train", "--data", str(data), "--targets", "y", "--sizes", "1,1",
                 "--epochs", "5", "--checkpoint", str(ckpt), "--backend", "python"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(ckpt), "--data", str(data), "--targets", "y",
                 "--epochs", "9"]) == 0
    out = capsys.readouterr().out
    assert "s of training over every part of the run" in out and "for this command" in out


def test_the_estimators_without_scikit_learn_say_how_to_get_it():
    run = run_python("""
        import sys
        sys.modules["sklearn"] = None
        import fastbp.sklearn
    """)
    assert run.returncode == 1 and "pip install 'fastbp[sklearn]'" in run.stderr
