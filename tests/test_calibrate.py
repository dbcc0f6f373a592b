"""``threads=None`` measured: the kept counts, the measuring, and the runs that use them."""

import hashlib
import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastbp
from fastbp.base.functions import SQUARED
from fastbp.core import calibrate, training
from fastbp.core.training import measure_threads
from fastbp.kernels import MODULES, limits, threads
from fastbp.kernels.protocol import Rule

THREADED = [name for name in ("numba", "cython") if name in MODULES]


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty file of kept counts, and two cores whatever this machine has, both free."""
    path = tmp_path / "cache" / "fastbp" / "threads.json"
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "others_running", lambda: 0)
    with threads.kept_in(path):
        yield path


@pytest.fixture(params=THREADED)
def threaded(request):
    if fastbp.backends()[request.param] != "available":
        pytest.skip(f"backend {request.param!r} {fastbp.backends()[request.param]}")
    return request.param


class Spy:
    """A backend module whose ``train`` calls are recorded: (samples, threads)."""

    def __init__(self, module):
        self.module, self.calls = module, []

    def __getattr__(self, name):
        return getattr(self.module, name)

    def train(self, shape, rule, params, velocity, X, Y, epochs, lr, order=None,
              threads=None, sample_weight=None, report=None):
        self.calls.append((len(X), threads))
        self.module.train(shape, rule, params, velocity, X, Y, epochs, lr, order, threads,
                          sample_weight, report)

    def train_then_loss(self, shape, rule, params, velocity, X, Y, epochs, lr, order=None,
                        threads=None, sample_weight=None):
        self.calls.append((len(X), threads))
        return self.module.train_then_loss(shape, rule, params, velocity, X, Y, epochs, lr,
                                           order, threads, sample_weight)


@pytest.fixture
def spy(monkeypatch):
    """``training.choose`` answering with a Spy of the backend it picked."""
    spies = []
    choose = training.choose

    def spying(*args):
        name, module = choose(*args)
        spies.append(Spy(module))
        return name, spies[-1]
    monkeypatch.setattr(training, "choose", spying)
    return spies


def _data(n=96, sizes=(12, 20, 3)):
    rng = np.random.default_rng(5)
    return rng.normal(size=(n, sizes[0])), rng.uniform(size=(n, sizes[-1]))


def test_kept_counts_outlive_the_process(store):
    key = threads.workload("numba", "float32", (784, 128, 10), 32)
    assert threads.machine() in key and threads.kept(key) is None
    threads.keep(key, 2, 1.5)
    threads.keep("another", 1, 1.25)
    threads.forget_kept()  # as a new process would, from the file
    assert threads.kept(key) == 2 and threads.kept("another") == 1
    assert json.loads(store.read_text())[key] == {"threads": 2, "speedup": 1.5}
    assert [p.name for p in store.parent.iterdir()] == ["threads.json"]  # nothing half-written


def test_a_broken_or_unwritable_store_is_no_error(store, tmp_path, monkeypatch):
    store.parent.mkdir(parents=True)
    store.write_text("{not json")
    assert threads.kept("k") is None
    threads.keep("k", 2, 1.1)
    assert json.loads(store.read_text()) == {"k": {"threads": 2, "speedup": 1.1}}
    blocked = tmp_path / "a file"
    blocked.write_text("")
    with threads.kept_in(blocked / "fastbp" / "threads.json"):
        threads.keep("k", 1, 1.2)  # not written anywhere, kept by this process
        assert threads.kept("k") == 1 and blocked.read_text() == ""


def test_a_short_run_measures_nothing(store, threaded, spy):
    X, Y = _data()
    fastbp.train(fastbp.Network((12, 20, 3), seed=1), X, Y, epochs=3, lr=0.1, batch_size=8,
                 backend=threaded)
    assert spy[0].calls == [(96, None)] and not store.exists()


def test_a_long_run_measures_keeps_and_uses_the_faster_count(store, threaded, spy,
                                                              monkeypatch):
    monkeypatch.setattr(limits, "MEASURE_WORK", 0)
    monkeypatch.setattr(limits, "MEASURE_PAYS", 0)
    monkeypatch.setattr(limits, "MEASURE_CALL_SECONDS", 0.0)
    X, Y = _data()
    net = fastbp.Network((12, 20, 3), seed=1)
    before = net.params.copy()
    alone = net.copy()
    fastbp.train(alone, X, Y, epochs=3, lr=0.1, batch_size=8, backend=threaded, threads=1)
    result = fastbp.train(net, X, Y, epochs=3, lr=0.1, batch_size=8, backend=threaded)
    key = threads.workload(threaded, "float64", (12, 20, 3), 8)
    count = threads.kept(key)
    assert count in (1, 2) and json.loads(store.read_text())[key]["threads"] == count
    # measured on copies of the parameters, a few batches on each count, alternately
    *measured, run = spy[1].calls
    assert run == (96, count)
    assert {n for n, _ in measured} == {16} and len(measured) == 3 + 2 * limits.MEASURE_ROUNDS
    assert [t for _, t in measured][-2 * limits.MEASURE_ROUNDS:] == [2, 1] * limits.MEASURE_ROUNDS
    assert np.array_equal(net.params, alone.params) and not np.array_equal(before, net.params)
    assert np.isfinite(result.final_loss)
    # the next run, however short, runs the kept count without measuring
    fastbp.train(net.copy(), X, Y, epochs=1, lr=0.1, batch_size=8, backend=threaded)
    assert spy[2].calls == [(96, count)]
    # an explicit count is the caller's
    fastbp.train(net.copy(), X, Y, epochs=1, lr=0.1, batch_size=8, backend=threaded,
                 threads=1)
    assert spy[3].calls == [(96, 1)]


def test_a_weighted_run_measures_on_its_samples_unweighted(store, threaded, monkeypatch):
    monkeypatch.setattr(limits, "MEASURE_WORK", 0)
    monkeypatch.setattr(limits, "MEASURE_PAYS", 0)
    X, Y = _data()
    weights = np.linspace(0.5, 2.0, len(X))
    net, alone = fastbp.Network((12, 20, 3), seed=2), fastbp.Network((12, 20, 3), seed=2)
    fastbp.train(net, X, Y, epochs=2, lr=0.1, batch_size=16, backend=threaded,
                 sample_weight=weights)
    fastbp.train(alone, X, Y, epochs=2, lr=0.1, batch_size=16, backend=threaded, threads=1,
                 sample_weight=weights)
    assert np.array_equal(net.params, alone.params)
    assert threads.kept(threads.workload(threaded, "float64", (12, 20, 3), 16)) in (1, 2)


def test_measure_threads_measures_now(store, threaded):
    X, Y = _data(sizes=(12, 20, 3))
    net = fastbp.Network((12, 20, 3), seed=3, dtype="float32")
    before = net.params.copy()
    count = measure_threads(net, X.astype(np.float32), Y, lr=0.1, batch_size=None,
                            optimizer="adam", backend=threaded)
    assert count in (1, 2) and np.array_equal(net.params, before)
    assert threads.kept(threads.workload(threaded, "float32", (12, 20, 3), 96)) == count


@pytest.mark.parametrize("case", ["online", "oracle", "one core"])
def test_no_choice_no_measuring(store, monkeypatch, case):
    X, Y = _data()
    net = fastbp.Network((12, 20, 3), seed=4)
    backend = "python" if case == "oracle" else THREADED[0] if THREADED else "python"
    if case == "one core":
        monkeypatch.setattr(threads, "cores", lambda: 1)
    batch_size = 1 if case == "online" else 8
    assert measure_threads(net, X, Y, batch_size=batch_size, backend=backend) is None
    assert not store.exists()


def test_a_run_long_beside_the_measuring_measures_again(store, threaded, spy, monkeypatch):
    # (the guard of a busy core would try another count on a noisy machine: not here)
    monkeypatch.setattr(calibrate, "guard", lambda *args: None)
    X, Y = _data()
    key = threads.workload(threaded, "float64", (12, 20, 3), 8)
    net = fastbp.Network((12, 20, 3), seed=6)
    # kept while a core was busy, say: one thread, and what measuring it cost
    threads.keep(key, 1, 1.2, sample_seconds=1e-6, measuring_seconds=0.01)
    short = 0.01 * limits.MEASURE_AGAIN / (96 * 1e-6) / 2  # epochs: half what measures again
    fastbp.train(net.copy(), X, Y, epochs=int(short), lr=0.01, batch_size=8,
                 backend=threaded)
    assert set(spy[0].calls) == {(96, 1)}  # in chunks, all on the kept count
    monkeypatch.setattr(limits, "MEASURE_PAYS", 0)
    fastbp.train(net.copy(), X, Y, epochs=int(4 * short), lr=0.01, batch_size=8,
                 backend=threaded)
    found = threads.entry(key)
    assert found["threads"] in (1, 2) and found["measuring_seconds"] != 0.01
    assert {n for n, _ in spy[1].calls if n < 96} >= {16}  # measured again (doubling)...
    assert spy[1].calls[-1] == (96, found["threads"])  # ...and the run's last chunk so
    assert found["sample_seconds"] > 0


def test_a_hand_edited_entry_is_read_safely(store):
    store.parent.mkdir(parents=True)
    store.write_text(json.dumps({"a": {"threads": 2, "speedup": "fast"}, "b": {"threads": 0},
                                 "c": {"threads": True}, "d": [1]}))
    assert threads.entry("a") == {"threads": 2} and threads.kept("a") == 2
    assert threads.kept("b") is threads.kept("c") is threads.kept("d") is None


def test_ctrl_c_while_measuring_leaves_the_network_as_it_was(store, threaded, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(limits, "MEASURE_WORK", 0)
    monkeypatch.setattr(calibrate, "measure", interrupted)
    X, Y = _data()
    net = fastbp.Network((12, 20, 3), seed=7)
    before = net.params.copy()
    with pytest.raises(fastbp.TrainingInterrupted) as caught:
        fastbp.train(net, X, Y, epochs=3, lr=0.1, batch_size=8, backend=threaded)
    assert caught.value.epochs_done == 0 and np.array_equal(net.params, before)
    assert not store.exists()


def test_a_kept_count_is_read_only_where_only_this_user_can_write(store, tmp_path):
    store.parent.mkdir(parents=True)
    store.write_text(json.dumps({"k": {"threads": 2}, "many": {"threads": 10_000}}))
    threads.forget_kept()
    assert threads.kept("k") == 2
    assert threads.kept("many") is None  # one thread or every core (2 here), nothing else
    store.parent.chmod(0o777)  # anyone could have planted it
    threads.forget_kept()
    try:
        assert threads.kept("k") is None
    finally:
        store.parent.chmod(0o700)


def test_the_guard_tries_one_thread_where_a_kept_count_got_slow(monkeypatch):
    monkeypatch.setattr(limits, "GUARD_RETRY", 3)
    guard = calibrate.Guard(2, calm=1.0)  # one thread took 1 s an epoch when measured
    assert guard.next(5.0) == 2  # the first chunk is not judged
    assert guard.next(0.6) == 2  # faster than one thread was: as kept
    assert guard.next(1.5) == 1  # slower: the next chunk tries one thread
    assert guard.next(1.0) == 1  # faster than the two threads' last chunk: kept
    assert [guard.next(1.0) for _ in range(3)] == [1, 1, 2]  # then two threads, again
    assert guard.next(0.5) == 2  # faster than one thread's last: back to the kept count
    assert guard.next(1.2) == 1  # slow again: a trial...
    assert guard.next(1.4) == 2  # ...slower than two threads were: back to them
    assert calibrate.guard(None, 2, 96) is None


def test_a_long_run_on_a_busy_core_goes_on_with_the_faster_count(store, threaded, spy,
                                                                  monkeypatch):
    from fastbp.core import engine

    X, Y = _data()
    key = threads.workload(threaded, "float64", (12, 20, 3), 8)
    # two threads kept, and one thread's pace then so fast that every chunk looks slow
    threads.keep(key, 2, 1.5, sample_seconds=1e-15, measuring_seconds=10.0)
    monkeypatch.setattr(engine, "CHUNK_SECONDS", 1e-4)  # many chunks
    net = fastbp.Network((12, 20, 3), seed=2)
    alone = net.copy()
    fastbp.train(net, X, Y, epochs=40, lr=0.05, batch_size=8, backend=threaded)
    counts = [t for n, t in spy[0].calls]
    assert counts[:2] == [2, 2] and 1 in counts  # after the first chunk, a trial
    assert set(counts) == {1, 2}
    fastbp.train(alone, X, Y, epochs=40, lr=0.05, batch_size=8, backend=threaded, threads=1)
    assert np.array_equal(net.params, alone.params)  # a count changes no bit


def test_a_run_begun_while_another_process_holds_a_core_begins_on_one_thread(
        store, threaded, spy, monkeypatch):
    X, Y = _data()
    threads.keep(threads.workload(threaded, "float64", (12, 20, 3), 8), 2, 1.5,
                 sample_seconds=1e-6, measuring_seconds=10.0)
    net = fastbp.Network((12, 20, 3), seed=2)
    alone = net.copy()
    fastbp.train(net, X, Y, epochs=2, lr=0.05, batch_size=8, backend=threaded)
    assert [t for n, t in spy[-1].calls] == [2]  # both cores free: the kept count
    monkeypatch.setattr(threads, "others_running", lambda: 1)
    fastbp.train(net, X, Y, epochs=2, lr=0.05, batch_size=8, backend=threaded)
    assert [t for n, t in spy[-1].calls] == [1]
    fastbp.train(alone, X, Y, epochs=4, lr=0.05, batch_size=8, backend=threaded, threads=1)
    assert np.array_equal(net.params, alone.params)  # a count changes no bit


def test_a_run_begun_on_one_thread_tries_the_kept_count_at_once(monkeypatch):
    monkeypatch.setattr(limits, "GUARD_RETRY", 3)
    guard = calibrate.Guard(2, calm=1.0, now=1)
    assert guard.next(1.0) == 1  # the first chunk is not judged
    assert guard.next(1.0) == 2  # then a trial of the kept count...
    assert guard.next(0.6) == 2  # ...faster: kept
    guard = calibrate.Guard(2, calm=1.0, now=1)
    assert [guard.next(1.0), guard.next(1.0), guard.next(1.3)] == [1, 2, 1]  # slower


def test_a_free_count_never_exceeds_the_kept_one(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 4)
    monkeypatch.setattr(threads, "others_running", lambda: 1)
    shape = fastbp.Network((12, 20, 3)).kernel_shape
    rule = Rule(SQUARED, 8)
    assert calibrate.free("key", 2, shape, rule, 96) == 2  # three cores left
    assert calibrate.free("key", 4, shape, rule, 96) == 3
    assert calibrate.free("key", None, shape, rule, 96) is None  # one thread's work anyway
    assert calibrate.free(None, 4, shape, rule, 96) == 4  # no choice made


def _others(snapshots=40):
    seen = []
    for _ in range(snapshots):
        seen.append(threads.others_running())
        time.sleep(0.002)
    return seen


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/loadavg is Linux's")
def test_another_process_on_a_core_is_seen_and_this_ones_threads_are_not():
    stop = threading.Event()
    block = bytes(1 << 20)

    def hashing():  # hashlib lets the GIL go: this thread is runnable all along
        while not stop.is_set():
            hashlib.sha256(block).digest()
    worker = threading.Thread(target=hashing)
    worker.start()
    try:
        assert min(_others()) == 0  # this process's own runnable threads are not counted
    finally:
        stop.set()
        worker.join()
    busy = subprocess.Popen([sys.executable, "-c", "print(flush=True)\nwhile True: pass"],
                            stdout=subprocess.PIPE)
    try:
        busy.stdout.readline()
        assert max(_others()) >= 1
    finally:
        busy.kill()
        busy.wait()
