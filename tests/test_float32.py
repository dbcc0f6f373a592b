"""float32 networks: IEEE single arithmetic, checked against an implementation of its own.

The oracle's float32 path (NumPy float32 scalars in its loops) is compared here with a
second, independent reading of the same rules: whole layers at once as float32 NumPy
vectors, every sum still continued term by term in the canonical order, the C library's
functions taken in double and rounded. The two agree bit for bit, and float32 training
is shown to be float32 (not float64 rounded at the end).
"""

import functools
import json
import math
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import COMPILED, _require
from test_backends_agree import assert_same_as_oracle

import fastbp
from fastbp.base.files import write_npz
from fastbp.cli import main
from fastbp.core import data
from fastbp.kernels import exp32, oracle

F = np.float32


def _f(values):
    """The C library's function of float32 values: taken in double, rounded to float32."""
    return lambda z: values(z.astype(np.float64)).astype(F)


ACTIVATE = {
    "logistic": lambda z: F(1.0) / (F(1.0) + exp32.reference(-z)),
    "tanh": _f(np.tanh),
    "relu": lambda z: np.where(z > 0, z, F(0.0)).astype(F),
    "identity": lambda z: z,
}
DERIVATIVE = {
    "logistic": lambda o: o * (F(1.0) - o),
    "tanh": lambda o: F(1.0) - o * o,
    "relu": lambda o: np.where(o > 0, F(1.0), F(0.0)).astype(F),
    "identity": lambda o: np.ones_like(o),
}


def _ordered(terms):
    """``((0 + t0) + t1) + ...``: the canonical sum, each term an array of the same shape."""
    total = np.zeros_like(terms[0])
    for term in terms:
        total = total + term
    return total


def _vector_train(net, X, Y, epochs, lr, batch_size, method="sgd", momentum=0.0,
                  decay=0.0, betas=(0.9, 0.999), eps=1e-8):
    """Mini-batch training of a squared-loss network in float32 NumPy vectors."""
    Ws = [w.copy() for w in net.weights]
    bs = [b.copy() for b in net.biases]
    lr, momentum, decay = F(lr), F(momentum), F(decay)
    b1, b2, eps = F(betas[0]), F(betas[1]), F(eps)
    state = [np.zeros_like(p) for p in Ws + bs]
    second = [np.zeros_like(p) for p in Ws + bs]
    t, b1t, b2t = F(0.0), F(1.0), F(1.0)
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            grads = [np.zeros_like(p) for p in Ws + bs]
            rows = range(start, min(start + batch_size, len(X)))
            for s in rows:
                outs = [X[s]]
                for W, b, act in zip(Ws, bs, net.activations):
                    net_in = _ordered([W[:, i] * outs[-1][i] for i in range(W.shape[1])]) + b
                    outs.append(ACTIVATE[act](net_in))
                delta = (outs[-1] - Y[s]) * DERIVATIVE[net.activations[-1]](outs[-1])
                deltas = [delta]
                for layer in range(len(Ws) - 1, 0, -1):
                    after = deltas[0]
                    back = _ordered([after[k] * Ws[layer][k, :] for k in range(len(after))])
                    deltas.insert(0, back * DERIVATIVE[net.activations[layer - 1]](outs[layer]))
                for layer, d in enumerate(deltas):
                    grads[layer] = grads[layer] + np.outer(d, outs[layer])
                    grads[len(Ws) + layer] = grads[len(Ws) + layer] + d
            size = F(len(rows))
            if method == "adam":
                t, b1t, b2t = t + F(1.0), b1t * b1, b2t * b2
                rate = lr * _f(np.sqrt)(np.array(F(1.0) - b2t)) / (F(1.0) - b1t)
            params = Ws + bs
            for k, (p, g) in enumerate(zip(params, grads)):
                g = (g + decay * p) / size if (decay and k < len(Ws)) else g / size
                if method == "sgd":
                    p[...] = p - lr * g
                elif method == "adam":
                    state[k] = b1 * state[k] + (F(1.0) - b1) * g
                    second[k] = b2 * second[k] + (F(1.0) - b2) * (g * g)
                    p[...] = p + (-rate * state[k]) / (_f(np.sqrt)(second[k]) + eps)
                else:
                    state[k] = momentum * state[k] - lr * g
                    p[...] = p + state[k]
    return Ws, bs


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("method", ["sgd", "momentum", "adam"])
def test_oracle_float32_equals_float32_vectors_bit_for_bit(seed, method):
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4))
    sizes = [int(rng.integers(1, 6)) for _ in range(depth + 1)]
    acts = [str(rng.choice(list(ACTIVATE))) for _ in range(depth)]
    net = fastbp.Network(sizes, acts, seed=seed, dtype="float32")
    n = int(rng.integers(1, 9))
    X = rng.normal(size=(n, sizes[0])).astype(F)
    Y = rng.uniform(size=(n, sizes[-1])).astype(F)
    batch = int(rng.integers(1, n + 1))
    options = {"sgd": {}, "momentum": {"momentum": 0.9},
               "adam": {"optimizer": fastbp.Adam()}}[method]
    lr = 0.01 if method == "adam" else 0.1
    Ws, bs = _vector_train(net, X, Y, 3, lr, batch, method, momentum=0.9,
                           decay=0.01 * (seed % 2))
    fastbp.train(net, X, Y, epochs=3, lr=lr, batch_size=batch, backend="python",
                 weight_decay=0.01 * (seed % 2), **options)
    for got, want in zip(net.weights + net.biases, Ws + bs):
        assert got.dtype == F
        assert np.array_equal(got, want)


def test_float32_is_single_arithmetic_not_float64_rounded():
    X, Y = fastbp.data.dataset("xor")
    nets = {dt: fastbp.Network([2, 4, 1], seed=3, dtype=dt) for dt in ("float64", "float32")}
    assert np.array_equal(nets["float32"].params, nets["float64"].params.astype(F))
    for net in nets.values():
        fastbp.train(net, X, Y, epochs=200, lr=0.5, backend="python")
    single, double = nets["float32"].params, nets["float64"].params
    assert not np.array_equal(single, double.astype(F))
    np.testing.assert_allclose(single, double, rtol=1e-3, atol=1e-4)


def test_tutorial_in_float32_matches_the_text_to_its_printed_digits():
    X, Y = fastbp.data.dataset("tutorial")
    W = [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]]
    net = fastbp.Network([2, 2, 2], bias="fixed", weights=W,
                         biases=[[0.35, 0.35], [0.60, 0.60]], dtype="float32")
    assert oracle.mean_loss(net.kernel_shape, 0, net.params, X.astype(F),
                            Y.astype(F)) == pytest.approx(0.298371109, abs=5e-8)
    result = fastbp.train(net, X, Y, epochs=10_000, lr=0.5, backend="python")
    assert result.final_loss == pytest.approx(3.5102e-05, rel=1e-4)  # the text: 0.0000351085


def test_network_dtype_is_kept_by_copy_pickle_save_and_load(tmp_path):
    net = fastbp.Network([3, 4, 2], "tanh", seed=1, dtype=np.float32)
    assert net.dtype == F and net.params.dtype == F
    assert all(w.dtype == F for w in net.weights + net.biases)
    assert "dtype='float32'" in repr(net)
    for other in (net.copy(), pickle.loads(pickle.dumps(net)),
                  fastbp.Network.load(net.save(tmp_path / "net.npz"))):
        assert other.dtype == F and np.array_equal(other.params, net.params)
    assert fastbp.Network([2, 1]).dtype == np.float64


def test_a_network_file_from_before_float32_loads_as_float64(tmp_path):
    net = fastbp.Network([2, 3, 1], seed=0)
    meta = net._metadata()
    del meta["dtype"]
    path = write_npz(tmp_path / "old.npz", meta, {"params": net.params})
    assert fastbp.Network.load(path).dtype == np.float64


def test_a_file_whose_params_are_not_its_dtype_is_refused(tmp_path):
    net = fastbp.Network([2, 3, 1], seed=0)
    meta = net._metadata()
    meta["dtype"] = "float32"
    path = write_npz(tmp_path / "odd.npz", meta, {"params": net.params})
    with pytest.raises(ValueError, match=r"odd\.npz"):
        fastbp.Network.load(path)
    with zipfile.ZipFile(path) as archive:
        assert json.loads(str(np.lib.format.read_array(archive.open("metadata.npy"))))


@pytest.mark.parametrize("bad, error", [("float16", ValueError), ("int32", ValueError),
                                        ("double precision", ValueError), (3, TypeError),
                                        (None, TypeError)])
def test_bad_dtype_is_refused_by_name(bad, error):
    with pytest.raises(error, match="dtype must be 'float64' or 'float32'"):
        fastbp.Network([2, 2], dtype=bad)


def test_data_is_converted_to_the_network_dtype_never_modified():
    net = fastbp.Network([2, 2, 1], seed=0, dtype="float32")
    X, Y = fastbp.data.dataset("xor")
    before = X.copy(), Y.copy()
    x32, y32 = data.check_data(net, X, Y)
    assert x32.dtype == F and y32.dtype == F
    assert np.array_equal(X, before[0]) and np.array_equal(Y, before[1])
    own = np.ascontiguousarray(X, dtype=F)
    assert np.shares_memory(data.check_data(net, own, Y)[0], own)  # a view, not a copy
    with pytest.raises(ValueError, match=r"X must fit in float32, found 1e\+39"):
        fastbp.train(net, [[1e39, 0.0]], [[0.0]], backend="python")
    with pytest.raises(ValueError, match="sample_weight must hold finite weights"):
        fastbp.train(net, X, Y, backend="python", sample_weight=[1e39, 1, 1, 1])


def test_every_entry_point_computes_in_float32_on_the_oracle():
    X, Y = fastbp.data.dataset("xor")
    nets = [fastbp.Network([2, 3, 1], seed=k, dtype="float32") for k in range(3)]
    alone = [net.copy() for net in nets]
    results = fastbp.train_many(nets, X, Y, epochs=20, lr=[0.5, 0.4, 0.3], backend="python",
                                sample_weight=[1, 2, 1, 0.5], record_every=5)
    for net, lr in zip(alone, [0.5, 0.4, 0.3]):
        fastbp.train(net, X, Y, epochs=20, lr=lr, backend="python",
                     sample_weight=[1, 2, 1, 0.5])
    for net, own in zip(nets, alone):
        assert np.array_equal(net.params, own.params) and net.params.dtype == F
    assert all(math.isfinite(r.final_loss) for r in results)
    assert nets[0].forward(X, backend="python").dtype == F
    dW, db = fastbp.gradients(nets[0], X, Y, backend="python", weight_decay=0.1)
    assert all(g.dtype == F for g in dW + db)


def test_float32_checkpoint_resumes_exactly(tmp_path):
    X, Y = fastbp.data.dataset("xor")
    whole = fastbp.Network([2, 3, 1], seed=4, dtype="float32")
    fastbp.train(whole, X, Y, epochs=40, lr=0.05, backend="python", shuffle=True, seed=1,
                 optimizer=fastbp.Adam())
    part = fastbp.Network([2, 3, 1], seed=4, dtype="float32")
    path = tmp_path / "run.ckpt"
    fastbp.train(part, X, Y, epochs=15, lr=0.05, backend="python", shuffle=True, seed=1,
                 optimizer=fastbp.Adam(), checkpoint=path)
    resumed, _ = fastbp.resume(path, X, Y, epochs=40)
    assert resumed.dtype == F
    # the checkpoint of 15 epochs, continued to 40: the run of 40 (the orders are drawn
    # per epoch from one generator, so the first 15 match)
    assert np.array_equal(resumed.params, whole.params)


SMALL_CASES = [  # (sizes, activations, loss, options): small networks, every rule
    ([2, 2, 2], "logistic", "squared", {}),
    ([3, 4, 2], ["tanh", "logistic"], "squared",
     {"momentum": 0.9, "weight_decay": 0.01, "shuffle": True, "seed": 3}),
    ([3, 5, 3], ["relu", "softmax"], "cross_entropy",
     {"optimizer": fastbp.SGD(momentum=0.8, nesterov=True)}),
    ([2, 3, 3, 1], ["identity", "tanh", "logistic"], "cross_entropy",
     {"optimizer": fastbp.Adam(), "weight_decay": 0.001, "weighted": True}),
]


def _small_data(sizes, loss, n=7):
    rng = np.random.default_rng(sum(sizes))
    X = rng.normal(size=(n, sizes[0]))
    Y = rng.uniform(size=(n, sizes[-1]))
    if loss == "cross_entropy" and sizes[-1] > 1:
        Y = Y / Y.sum(axis=1, keepdims=True)
    return X, Y, rng.uniform(0.5, 2.0, size=n)


@pytest.mark.parametrize("case", range(len(SMALL_CASES)))
def test_small_networks_in_float32_equal_the_oracle(compiled_backend, case):
    """Online training of one network and of an ensemble, its loss, gradient and outputs:
    bit for bit with the float32 oracle, on the generic kernels and a shape's own."""
    sizes, acts, loss, options = SMALL_CASES[case]
    options = dict(options)
    X, Y, weights = _small_data(sizes, loss)
    if options.pop("weighted", False):
        options["sample_weight"] = weights
    runs = {}
    for backend in ("python", compiled_backend):
        net = fastbp.Network(sizes, acts, seed=case, dtype="float32")
        nets = [fastbp.Network(sizes, acts, seed=10 + k, dtype="float32") for k in range(3)]
        one = fastbp.train(net, X, Y, epochs=12, lr=0.1, loss=loss, backend=backend,
                           **options)
        many = fastbp.train_many(nets, X, Y, epochs=12, lr=[0.1, 0.05, 0.2], loss=loss,
                                 backend=backend, **options)
        dW, db = fastbp.gradients(net, X, Y, loss=loss, backend=backend, weight_decay=0.01,
                                  sample_weight=options.get("sample_weight"))
        runs[backend] = [net.params, *(n.params for n in nets), *dW, *db,
                         net.forward(X, backend=backend),
                         np.array([one.final_loss] + [r.final_loss for r in many])]
    for want, got in zip(runs["python"], runs[compiled_backend]):
        assert got.dtype == want.dtype
        assert np.array_equal(got, want, equal_nan=True)


def _widened(kernel, *args):
    """The float64 values of ``kernel`` compiled afresh for ``args`` (float32 arrays), but
    the constants a float32 is made of (``F(1.0)``), ``np.nan`` and the value returned:
    any other is arithmetic that numba widened to float64, which would round twice."""
    import numba

    fresh = numba.njit(kernel.py_func)
    fresh.compile(tuple(numba.typeof(a) for a in args))
    (result,) = fresh.overloads.values()
    return sorted(name for name, kind in result.type_annotation.typemap.items()
                  if str(kind) == "float64" and not any(
                      part in name for part in ("const", "return_value", "load_attr", "$phi")))


def test_numba_float32_kernels_compute_nothing_in_float64():
    pytest.importorskip("numba")
    from fastbp.kernels.numba import unrolled
    from fastbp.kernels.protocol import Rule

    net = fastbp.Network([2, 3, 2], ["tanh", "logistic"], dtype="float32")
    shape, f = net.kernel_shape, np.float32
    rule = Rule(0, adam=True, weight_decay=0.01)
    X, Y = np.zeros((2, 2), f), np.zeros((2, 2), f)
    P, V = np.zeros(shape.n_params, f), rule.new_state(shape.n_params, None, f)
    opt, none, zero = rule.opt.astype(f), np.empty((0, 0), np.int64), f(0.0)
    SW, R = np.ones(2, f), np.zeros((1, 2), f)
    looped = unrolled.looped_kernels("float32")
    assert _widened(looped["train_then_loss"], P, V, shape.layout, shape.acts, 0, X, Y, 1,
                    none, zero, opt, zero, True, True, SW, R) == []
    lanes = unrolled.lanes_kernels((True, False, True), "float32")
    assert _widened(lanes["_train_group"], P.reshape(1, -1), V.reshape(1, -1), 0, 1, 1,
                    shape.layout, shape.acts, 0, X, Y, 1, none, np.ones(1, f), opt, zero,
                    True, SW) == []
    own = unrolled.kernel(shape.layout, shape.acts, 0, True, "adam", True, True, True, False,
                          "float32")
    assert _widened(own, P, X, Y, 1, none, zero, opt, zero, V, SW, R) == []
    assert _widened(unrolled.loss_kernel(shape.layout, shape.acts, 0, "float32"), P, X,
                    Y) == []
    from fastbp.kernels import glibc_exp
    from fastbp.kernels.numba import backend, batched

    plan, e = backend._plan(shape.layout), np.empty(0, f)
    assert _widened(backend._twins()["run"], batched.TRAIN_LOSS, e, P, shape.layout,
                    shape.acts, 0, X, Y, 1, none, zero, 2, opt, zero, V, True, plan.at, e, e,
                    e, np.empty((0, 0), f), e, glibc_exp.variant_code(), 0, 1, backend._ALONE,
                    plan.to_work, e, SW, R) == []


def _single(net):
    """``net`` computing in float32 (its values rounded)."""
    return fastbp.Network(net.sizes, list(net.activations), net.bias, weights=net.weights,
                          biases=net.biases, dtype="float32")


TILE_COLS = 16  # float32's register tiles: 6 rows by two vectors of 8 floats


@pytest.fixture(params=[name for name in COMPILED if name != "numba/own"] or [None])
def batched_backend(request):
    """Every compiled backend (numba's tiers change only the small networks' kernels)."""
    if request.param is None:
        pytest.skip("no compiled backend is registered")
    return _require(request.param)


@pytest.mark.parametrize("batch_size", [1, 6, 7, None])
# float32's tile is 2 * TILE_COLS wide: 2 * TILE_COLS - 1 outputs are one vector and 7
@pytest.mark.parametrize("width", [TILE_COLS - 1, TILE_COLS, TILE_COLS + 1, 2 * TILE_COLS - 1,
                                   3 * TILE_COLS + 1])
def test_float32_tile_edges(batched_backend, batch_size, width):
    from test_tiles import _case

    seed = width * 10 + (batch_size or 0)
    sizes = [width + 2, width, width - 1, TILE_COLS + 1]
    net, X, Y, options = _case(seed, sizes, batch_size, 13, momentum=[0.0, 0.5][seed % 2])
    assert_same_as_oracle(batched_backend, _single(net), X, Y, options)


def _wide_case(batch_size):
    rng = np.random.default_rng(batch_size)
    net = _single(fastbp.Network([260, 33, 18, 3], ["tanh", "relu", "softmax"], seed=1))
    X, Y = rng.normal(size=(310, 260)), rng.dirichlet(np.ones(3), size=310)
    options = {"epochs": 2, "lr": 0.05, "batch_size": batch_size, "shuffle": True, "seed": 1,
               "loss": "cross_entropy", "optimizer": fastbp.Adam(), "weight_decay": 0.001,
               "sample_weight": rng.uniform(0.5, 2.0, size=310)}
    return net, X, Y, options


@functools.cache
def _wide_reference(batch_size):
    """The oracle's answers for :func:`_wide_case` (seconds each: computed once)."""
    net, X, Y, options = _wide_case(batch_size)
    trained = net.copy()
    fastbp.train(trained, X, Y, backend="python", **options)
    return (trained.params, net.forward(X, backend="python"),
            fastbp.gradients(net, X, Y, "cross_entropy", "python"))


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("batch_size", [7, 300])
def test_float32_threads_blocks_and_chunks_change_no_bits(batched_backend, threads,
                                                         batch_size):
    # an input wider than a block of terms (256), a batch longer than a block of rows (48)
    # and, at 300, than a chunk (256): every sum continued across them, in any thread
    net, X, Y, options = _wide_case(batch_size)
    params, outputs, (dW, db) = _wide_reference(batch_size)
    ours = net.copy()
    fastbp.train(ours, X, Y, backend=batched_backend, threads=threads, **options)
    assert np.array_equal(ours.params, params)
    assert np.array_equal(net.forward(X, backend=batched_backend, threads=threads), outputs)
    got = fastbp.gradients(net, X, Y, "cross_entropy", batched_backend, threads)
    assert all(np.array_equal(a, b) for a, b in zip(got[0] + got[1], dW + db))


@pytest.mark.parametrize("seed", range(8))
def test_float32_random_networks(compiled_backend, seed):
    from test_backends_agree import random_case

    net, X, Y, options = random_case(np.random.default_rng(100 + seed), 20 if seed % 2 else 6)
    net = _single(net)
    try:  # float32's logistic reaches 1 sooner: where the oracle's run diverges, so must ours
        fastbp.train(net.copy(), X, Y, backend="python", **options)
    except fastbp.DivergenceError as oracle_error:
        with pytest.raises(fastbp.DivergenceError) as ours:
            fastbp.train(net.copy(), X, Y, backend=compiled_backend, **options)
        assert (ours.value.epoch, ours.value.network) == (oracle_error.epoch,
                                                         oracle_error.network)
        return
    assert_same_as_oracle(compiled_backend, net, X, Y, options)


def test_float32_rare_exp_inputs(batched_backend):
    # float32 net inputs beyond exp's range (|x| >= 87, overflow, underflow) and exactly 0:
    # the float32 exp's branch, taken for the whole group where one input needs it
    rng = np.random.default_rng(12)
    net = _single(fastbp.Network([10, 20, 9], seed=12))
    net.params[:] *= np.float32(300.0)
    net.params[: net.params.size // 2] = rng.normal(size=net.params.size // 2)
    X, Y = rng.normal(size=(15, 10)), rng.uniform(size=(15, 9))
    for batch_size in (1, 7):
        ours, reference = net.copy(), net.copy()
        fastbp.train(ours, X, Y, backend=batched_backend, epochs=2, lr=0.1,
                     batch_size=batch_size)
        fastbp.train(reference, X, Y, backend="python", epochs=2, lr=0.1,
                     batch_size=batch_size)
        assert np.array_equal(ours.params, reference.params, equal_nan=True)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", fastbp.SGD(0.9),
                                       fastbp.SGD(0.9, nesterov=True)], ids=str)
def test_trace_follows_a_float32_step(optimizer):
    net = fastbp.Network([2, 2, 2], bias="trainable", seed=0, dtype="float32")
    x, t = [0.05, 0.1], [0.01, 0.99]
    step = fastbp.trace(net, x, t, lr=0.3, weight_decay=0.01, optimizer=optimizer)
    after = net.copy()
    fastbp.train(after, [x], [t], lr=0.3, weight_decay=0.01, optimizer=optimizer,
                 backend="python")
    trained = np.concatenate([after.weights[0].ravel(), after.weights[1].ravel()])
    assert np.array_equal(np.array([step[f"w{i}+"] for i in range(1, 9)], np.float32), trained)
    assert step["b_o2+"] == after.biases[1][1]
    assert step["E_total after"] == fastbp.train(after, [x], [t], epochs=0).final_loss
    # every value is a float32's, and the float64 step differs: the trace did not widen
    values = np.array([e.value for _, entries in step.sections for e in entries])
    assert np.array_equal(values.astype(np.float32).astype(np.float64), values)
    wide = fastbp.trace(fastbp.Network([2, 2, 2], bias="trainable", weights=net.weights,
                                       biases=net.biases), x, t, lr=0.3, weight_decay=0.01,
                        optimizer=optimizer)
    assert step["w5+"] != wide["w5+"]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_float32_page_records_a_float32_run(optimizer):
    from fastbp.learn import page, tutorial

    step = fastbp.trace(tutorial.network("float32"), tutorial.INPUTS, tutorial.TARGETS,
                        optimizer=optimizer)
    content = page.data(step, epochs=30)
    assert content["title"].endswith("network in float32")
    run = tutorial.network("float32")
    fastbp.train(run, tutorial.INPUTS, tutorial.TARGETS, epochs=30, lr=0.5,
                 optimizer=optimizer, backend="python")
    assert content["history"]["epochs"][-1] == 30
    assert np.array_equal(np.array(content["history"]["params"][-1], np.float32), run.params)


def test_explain_takes_dtype(capsys):
    assert main(["explain", "--tutorial", "--dtype", "float32", "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)["sections"][0]["entries"]
    assert entries[0]["name"] == "net_h1"
    assert entries[0]["value"] == float(np.float32(0.15) * np.float32(0.05)
                                        + np.float32(0.2) * np.float32(0.1) + np.float32(0.35))


def test_train_and_sweep_commands_take_dtype(tmp_path):
    saved, table = tmp_path / "net.npz", tmp_path / "xor.npz"
    np.savez(table, X=fastbp.data.dataset("xor")[0], Y=fastbp.data.dataset("xor")[1])
    subprocess.run([sys.executable, "-m", "fastbp", "train", "--data", str(table), "--sizes",
                    "2,3,1",
                    "--epochs", "5", "--dtype", "float32", "--backend", "python", "--save",
                    str(saved)], check=True, capture_output=True, cwd=tmp_path)
    assert fastbp.Network.load(saved).dtype == F
    out = subprocess.run([sys.executable, "-m", "fastbp", "sweep", "--sizes", "2,3,1",
                          "--epochs", "5", "--lr", "0.1:0.5:2", "--dtype", "float32",
                          "--backend", "python"], check=True, capture_output=True, text=True,
                         cwd=tmp_path).stdout
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["0.1", "0.5"]
    bad = subprocess.run([sys.executable, "-m", "fastbp", "sweep", "--sizes", "2,3,1",
                          "--dtype", "float16"], capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "--dtype" in bad.stderr


def test_numba_float32_kernels_are_generated_once():
    pytest.importorskip("numba")
    from fastbp.kernels.numba import online

    assert online.kernels("float32") is online.kernels("float32")  # not a module a call
