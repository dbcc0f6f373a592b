"""Batched kernels: every tile edge, batch size and block gives the oracle's bits.

The compiled backends compute a batch as tiled products: register tiles of 6 rows by
8 columns (two at once, 12 rows, where the CPU has 512-bit vectors), blocks of 48 rows
and of 256 terms per sum (see numba/batched.py and _batched.pxi). These cases put a
layer's width, a batch's size and a sum's length on each side of those edges.
"""

import numpy as np
import pytest
from conftest import random_data
from test_backends_agree import assert_same_as_oracle

import fastbp
from fastbp.kernels import resolve
from fastbp.kernels.limits import CHUNK, UNROLL_PARAMS

TILE_ROWS, TILE_COLS, BLOCK_ROWS, BLOCK_TERMS = 6, 8, 48, 256


def _case(seed, sizes, batch_size, n, **options):
    rng = np.random.default_rng(seed)
    pool = ["logistic", "tanh", "relu", "identity"]
    acts = [pool[int(rng.integers(4))] for _ in sizes[1:]]
    net = fastbp.Network(sizes, acts, bias=["fixed", "trainable"][seed % 2], seed=seed)
    X, Y = random_data(rng, net, n)
    defaults = {"epochs": 2, "lr": 0.05, "batch_size": batch_size, "momentum": 0.0,
                "shuffle": bool(seed % 3), "seed": seed, "loss": "squared"}
    return net, X, Y, {**defaults, **options}


def _same_as_oracle_in(dtype, backend, net, X, Y, options):
    """``assert_same_as_oracle`` with the network and the data in ``dtype``."""
    net = fastbp.Network(net.sizes, net.activations, bias=net.bias, dtype=dtype,
                         weights=net.weights, biases=net.biases)
    assert_same_as_oracle(backend, net, X.astype(dtype), Y.astype(dtype), options)


@pytest.mark.parametrize("batch_size", [1, 2, TILE_ROWS - 1, TILE_ROWS, TILE_ROWS + 1, None])
@pytest.mark.parametrize("width", [TILE_COLS - 1, TILE_COLS, TILE_COLS + 1, 2 * TILE_COLS + 3,
                                   3 * TILE_COLS + 1])
def test_tile_edges(compiled_backend, batch_size, width):
    seed = width * 10 + (batch_size or 0)
    sizes = [width + 2, width, width - 1, TILE_COLS + 1]
    assert_same_as_oracle(compiled_backend, *_case(seed, sizes, batch_size, 2 * TILE_ROWS + 1,
                                                   momentum=[0.0, 0.5][seed % 2]))


@pytest.mark.parametrize("batch_size", [2 * TILE_ROWS - 1, 2 * TILE_ROWS, 2 * TILE_ROWS + 1,
                                        3 * TILE_ROWS, 4 * TILE_ROWS + 3])
def test_pairs_of_tiles(compiled_backend, batch_size):
    # Batches (the forward pass's rows) and inputs (the gradient's rows: 29 = two pairs,
    # then a tile and 5 rows) on each side of two tiles at once, in float64 and float32.
    for dtype in ("float64", "float32"):
        net, X, Y, options = _case(batch_size, [29, 2 * TILE_COLS + 1, 7], batch_size, 61)
        _same_as_oracle_in(dtype, compiled_backend, net, X, Y, options)


@pytest.mark.parametrize("left", range(1, 2 * TILE_COLS))
def test_columns_short_of_a_tile(compiled_backend, left):
    # Every count of columns short of a tile (8 in float64, 16 in float32): from two, but
    # for half a tile, they run as a tile padded with zero columns, in whole tiles of rows
    # and in the last rows of a block (17 samples: two tiles and 5 rows; 9 inputs).
    for dtype in ("float64", "float32"):
        net, X, Y, options = _case(left, [9, 2 * TILE_COLS + left, left + 1], None,
                                   2 * TILE_ROWS + 5, momentum=0.5)
        _same_as_oracle_in(dtype, compiled_backend, net, X, Y, options)


@pytest.mark.parametrize("batch_size", [1, 2])
@pytest.mark.parametrize("tiles", [2, 3, 4, 5, 7, 8])
def test_rows_of_a_few_samples(compiled_backend, batch_size, tiles):
    # A sample's row of sums, a few at once: four tiles wide, then the 3 or 2 left in one
    # pass (a tile is 8 columns in float64, 16 in float32), then what is left, a tile and
    # 0-3 columns short of one (the last layer's 1-3 outputs: a row's last pass).
    for dtype, cols in (("float64", TILE_COLS), ("float32", 2 * TILE_COLS)):
        width = tiles * cols + tiles % 4
        net, X, Y, options = _case(tiles, [13, width, tiles % 3 + 1], batch_size, 7,
                                   momentum=0.5)
        _same_as_oracle_in(dtype, compiled_backend, net, X, Y, options)


@pytest.mark.parametrize("rest", range(1, 4 * TILE_COLS))
def test_a_rows_last_columns_in_one_pass(compiled_backend, rest):
    # A sample's row of sums: the columns after its 8, 6 or 4 vectors at once (or all of
    # them), fewer than four vectors (16 in float64, 32 in float32), in one pass of four
    # vectors, the lanes past the row masked off. Every count of them, after each of
    # those, in batches of one and two samples. Inputs enough for more parameters than
    # the small networks' kernels take: online training then runs the batched kernel.
    for dtype, tile in (("float64", TILE_COLS), ("float32", 2 * TILE_COLS)):
        if rest >= 2 * tile:
            continue
        width = rest + [0, 2, 3, 4][rest % 4] * tile
        sizes = [max(7, UNROLL_PARAMS // width + 1), width, rest % 5 + 1]
        for batch_size in (1, 2):
            net, X, Y, options = _case(rest, sizes, batch_size, 5, momentum=0.5)
            _same_as_oracle_in(dtype, compiled_backend, net, X, Y, options)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_depths(compiled_backend, depth):
    sizes = [11, 17, 9, 8, 3][:depth + 1]
    assert_same_as_oracle(compiled_backend, *_case(depth, sizes, 7, 20))


def test_blocks_of_rows_and_terms(compiled_backend):
    # Full batches longer than a block of rows; an input wider than a block of terms, so
    # every sum is continued from one block of terms to the next.
    sizes = [BLOCK_TERMS + 5, TILE_COLS * 2 + 1, 4]
    net, X, Y, options = _case(7, sizes, None, BLOCK_ROWS + TILE_ROWS + 1, epochs=1)
    assert_same_as_oracle(compiled_backend, net, X, Y, options)


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_softmax_batches(compiled_backend, loss):
    rng = np.random.default_rng(3)
    net = fastbp.Network([9, 12, 10], ["tanh", "softmax"], seed=3)
    X, Y = random_data(rng, net, 15, loss)
    assert_same_as_oracle(compiled_backend, net, X, Y,
                          {"epochs": 3, "lr": 0.2, "batch_size": 4, "momentum": 0.9,
                           "shuffle": True, "seed": 1, "loss": loss})


@pytest.mark.parametrize("threads", [None, 2, 3])
def test_evaluation_longer_than_a_chunk(compiled_backend, threads):
    # forward, mean_loss and gradients go CHUNK samples at a time; each thread takes its
    # samples of a chunk, and the losses are summed in order once every thread has its.
    rng = np.random.default_rng(5)
    net = fastbp.Network([13, 10, 2], seed=5)
    X, Y = random_data(rng, net, 600)
    assert np.array_equal(net.forward(X, backend=compiled_backend, threads=threads),
                          net.forward(X, backend="python"))
    for got, want in zip(fastbp.gradients(net, X, Y, backend=compiled_backend,
                                          threads=threads),
                         fastbp.gradients(net, X, Y, backend="python")):
        assert all(np.array_equal(a, b) for a, b in zip(got, want))
    losses = [resolve(name)[1].mean_loss(net.kernel_shape, 0, net.params, X, Y,
                                         threads=threads)
              for name in (compiled_backend, "python")]
    assert losses[0] == losses[1]


@pytest.mark.parametrize("threads", [2, 3])
def test_a_short_last_chunk_waits_for_the_others(compiled_backend, threads):
    # The last chunk of 456 samples (216) lays its layers out anew in the scratch, over
    # rows another thread may still be reading in the chunk before: repeated, a missing
    # wait shows.
    rng = np.random.default_rng(12)
    net = fastbp.Network([13, 10, 2], seed=12)
    X, _ = random_data(rng, net, 456)
    want = net.forward(X, backend="python")
    for _ in range(40):
        assert np.array_equal(net.forward(X, backend=compiled_backend, threads=threads), want)


@pytest.mark.parametrize("threads", [1, 2, 3, 4])
@pytest.mark.parametrize("batch_size", [2, TILE_ROWS + 1, 3 * TILE_ROWS + 1, None])
def test_threads_change_no_bits(compiled_backend, threads, batch_size):
    # 3 * TILE_ROWS + 1: each epoch ends with a batch of one sample, which one thread owns.
    sizes = [TILE_COLS + 3, 2 * TILE_COLS + 1, TILE_COLS - 1, 3]
    net, X, Y, options = _case(threads, sizes, batch_size, 3 * TILE_ROWS + 2,
                               momentum=0.5, shuffle=True, lr=0.05)
    ours, reference = net.copy(), net.copy()
    got = fastbp.train(ours, X, Y, backend=compiled_backend, threads=threads, record_every=1,
                       **options)
    want = fastbp.train(reference, X, Y, backend="python", record_every=1, **options)
    assert np.array_equal(ours.params, reference.params)
    assert np.array_equal(got.history, want.history)
    assert np.array_equal(net.forward(X, backend=compiled_backend, threads=threads),
                          net.forward(X, backend="python"))
    for g, w in zip(fastbp.gradients(net, X, Y, backend=compiled_backend, threads=threads),
                    fastbp.gradients(net, X, Y, backend="python")):
        assert all(np.array_equal(a, b) for a, b in zip(g, w))


def test_threads_on_a_large_batch(compiled_backend):
    # Large enough that threads=None shares it among every core.
    rng = np.random.default_rng(11)
    net = fastbp.Network([40, 30, 10], seed=11)
    X, Y = random_data(rng, net, 300)
    results = []
    for threads in (None, 1, 2):
        copy = net.copy()
        fastbp.train(copy, X, Y, epochs=2, batch_size=100, lr=0.2, backend=compiled_backend,
                     threads=threads)
        results.append(copy.params)
    assert all(np.array_equal(results[0], r) for r in results[1:])


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_bad_threads(threads):
    net = fastbp.Network([2, 2, 1], seed=0)
    X, Y = np.zeros((2, 2)), np.zeros((2, 1))
    error = ValueError if isinstance(threads, int) and not isinstance(threads, bool) \
        else TypeError
    for call in (lambda: fastbp.train(net, X, Y, threads=threads),
                 lambda: fastbp.gradients(net, X, Y, threads=threads),
                 lambda: net.forward(X, threads=threads)):
        with pytest.raises(error, match="threads"):
            call()


@pytest.mark.parametrize("batch_size", [CHUNK + 1, None])
@pytest.mark.parametrize("threads", [1, 2])
def test_batches_longer_than_a_chunk(compiled_backend, batch_size, threads):
    # A batch goes CHUNK samples at a time; its gradient sums continue across the chunks.
    rng = np.random.default_rng(9)
    net = fastbp.Network([13, 10, 2], ["tanh", "logistic"], seed=9)
    X, Y = random_data(rng, net, 600)
    options = {"epochs": 2, "lr": 0.3, "batch_size": batch_size, "momentum": 0.5,
               "shuffle": True, "seed": 4}
    ours, reference = net.copy(), net.copy()
    fastbp.train(ours, X, Y, backend=compiled_backend, threads=threads, **options)
    fastbp.train(reference, X, Y, backend="python", **options)
    assert np.array_equal(ours.params, reference.params)


@pytest.mark.parametrize("scale", [0.0, 2000.0])
@pytest.mark.parametrize("batch_size", [1, 7])
def test_rare_exp_inputs_in_a_batch(compiled_backend, scale, batch_size):
    # Net inputs of exactly 0 and in the thousands, where glibc's exp takes another path
    # than the one the kernels inline: the library's then, the same bits.
    rng = np.random.default_rng(12)
    net = fastbp.Network([10, 12, 9], seed=12)
    net.params[:] *= scale
    net.params[: net.params.size // 2] = rng.normal(size=net.params.size // 2)
    X, Y = random_data(rng, net, 15)
    options = {"epochs": 2, "lr": 0.1, "batch_size": batch_size}
    ours, reference = net.copy(), net.copy()
    fastbp.train(ours, X, Y, backend=compiled_backend, **options)
    fastbp.train(reference, X, Y, backend="python", **options)
    assert np.array_equal(ours.params, reference.params, equal_nan=True)
    assert np.array_equal(net.forward(X * 1000.0, backend=compiled_backend),
                          net.forward(X * 1000.0, backend="python"), equal_nan=True)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_inputs_read_in_place_or_copied(compiled_backend, dtype, threads):
    # An unshuffled batch reads its samples where they lie in X; samples visited in a
    # given order (here the same order) are copied first, and so, in numba, are rows
    # that do not lie one after the other (every other row of a larger array; Cython
    # refuses those). Each way gives the same bits, and X is left as it was.
    from fastbp.kernels.protocol import Rule

    _, kernels = resolve(compiled_backend)
    net = fastbp.Network([29, 2 * TILE_COLS + 1, 7], seed=3, dtype=np.dtype(dtype).name)
    rng = np.random.default_rng(3)
    n, epochs = CHUNK + 2 * TILE_ROWS + 5, 2  # two chunks, the second of tiles and rows
    both = rng.normal(size=(2 * n, 29)).astype(dtype)
    strided, Y = both[::2], np.eye(7, dtype=dtype)[rng.integers(0, 7, n)]
    X, kept = np.ascontiguousarray(strided), both.copy()
    ways = [(X, None), (X, np.tile(np.arange(n), (epochs, 1)))]
    if compiled_backend.startswith("numba"):
        ways.append((strided, None))
    trained = []
    for inputs, order in ways:
        params = net.params.copy()
        kernels.train(net.kernel_shape, Rule(0, n, 0.5), params, np.zeros_like(params),
                      inputs, Y, epochs, 0.1, order=order, threads=threads)
        trained.append(params)
    assert not strided.flags.c_contiguous
    assert all(np.array_equal(trained[0], other) for other in trained[1:])
    assert not np.array_equal(trained[0], net.params)
    assert np.array_equal(both, kept)
