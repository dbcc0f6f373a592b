"""Signals during training: SIGTERM as Ctrl-C, and neither lost where Python drops the
exception it raises (in a ``__del__``, or in LLVM's callback while numba loads a kernel)."""

import os
import signal
import sys
import time

import numpy as np
import pytest

import fastbp
from fastbp.base.signals import Terminated, deferred, terminate_as_interrupt
from fastbp.core import training

XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1.0]]), np.array([[0], [1], [1], [0.0]])
SIGNALS = [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)]


class _SignalWhenCollected:
    def __init__(self, signum):
        self.signum = signum

    def __del__(self):
        os.kill(os.getpid(), self.signum)
        time.sleep(0.01)  # the handler runs here, in __del__, and Python drops its raise


def dropped_signal(signum):
    _SignalWhenCollected(signum)  # collected at once


@pytest.fixture
def unraisable(monkeypatch):
    """What Python dropped and training did not keep (instead of printing it)."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


class DropAt:
    """A backend whose ``call``-th training call gets a signal Python drops."""

    def __init__(self, kernels, call, signum):
        self.kernels, self.call, self.calls, self.signum = kernels, call, 0, signum

    def __getattr__(self, name):
        return getattr(self.kernels, name)

    def train(self, *args):
        self.kernels.train(*args)
        self.calls += 1
        if self.calls == self.call:
            dropped_signal(self.signum)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_dropped_signal_is_raised_at_the_next_chunk(monkeypatch, unraisable, backend,
                                                      signum):
    real = training.choose
    monkeypatch.setattr(training, "choose", lambda *args: (
        lambda f, k: (f, DropAt(k, 3, signum)))(*real(*args)))
    net = fastbp.Network([2, 3, 1], seed=1)
    with pytest.raises(fastbp.TrainingInterrupted) as caught:
        fastbp.train(net, *XOR, epochs=100, lr=0.5, record_every=10, backend=backend)
    assert unraisable == []  # kept, not printed
    done = caught.value.epochs_done  # after the chunk it came in, whole
    assert caught.value.signum == signum and 0 < done < 100 and done % 10 == 0
    again = fastbp.Network([2, 3, 1], seed=1)
    fastbp.train(again, *XOR, epochs=done, lr=0.5, backend=backend)
    assert np.array_equal(net.params, again.params)


def test_a_signal_handled_is_not_raised_again(backend):
    net = fastbp.Network([2, 3, 1], seed=1)
    with terminate_as_interrupt():
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        fastbp.train(net, *XOR, epochs=100, lr=0.5, record_every=10, backend=backend)


class _FailWhenCollected:
    def __del__(self):
        raise ValueError("not an interruption")


def test_only_interruptions_are_kept(unraisable):
    with terminate_as_interrupt():
        _FailWhenCollected()
    assert [type(u.exc_value) for u in unraisable] == [ValueError]
    dropped_signal(signal.SIGINT)  # outside training: printed, as Python does
    assert [type(u.exc_value) for u in unraisable] == [ValueError, KeyboardInterrupt]


@pytest.mark.parametrize("signum, raised", SIGNALS)
def test_deferred_holds_a_signal_until_its_end(signum, raised):
    went_on = False
    with terminate_as_interrupt(), pytest.raises(raised):
        with deferred():
            os.kill(os.getpid(), signum)
            time.sleep(0.05)
            went_on = True
        time.sleep(1)
    assert went_on


def test_deferred_meets_pythons_own_ctrl_c_handler():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt), deferred():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with deferred():
        pass  # no signal: nothing raised


def test_a_kernel_loads_whole_when_a_signal_comes(tmp_path):
    pytest.importorskip("numba")
    from fastbp.kernels.numba import tiers as numba_tiers

    def load():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        return "kernel"

    entry = numba_tiers.Entry("x", {}, load, 0.0, "os:getpid")  # a compile that ends at once
    entry.start()
    with pytest.raises(KeyboardInterrupt):
        began = time.monotonic()
        while not entry.poll() and time.monotonic() - began < 60:
            time.sleep(0.05)
    assert entry.state == "ready" and entry.kernel == "kernel"
