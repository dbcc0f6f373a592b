# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, cpow=True
"""Cython kernels of the ``"cython"`` backend, bit-identical to the oracle.

Twin of ``fastbp/kernels/numba/backend.py``: each function here has a numba
twin of the same name and follows the canonical order of arithmetic of
``fastbp/kernels/oracle.py``. Built with ``-O3 -ffp-contract=off``: no FMA
contraction, no fastmath, ``exp``/``tanh``/``log`` from the C library.

Small networks trained online (at most 128 parameters) run kernels generated at
build time from the one description of the step (``fastbp/kernels/step.py``, by
``fastbp/kernels/cython_codegen.py``): a shape's unrolled copy in the module
``fastbp.kernels._cython_small`` where the catalogue has one, else the looped
``_online_looped``; many of them side by side, ``_train_lanes``. Both come in
``_looped.pxi``, with the batched kernels' update stage.

Everything else runs the batched kernels (``_batched.pxi``) on a copy of the
parameters whose weight matrices are transposed, ``(n_in, n_out)``, so a layer's
sums run side by side over its neurons while each still adds in input order.
Inner functions take raw pointers; the ``def`` functions at the bottom take typed
memoryviews and release the GIL for the whole loop.
"""

from libc.math cimport exp, isfinite, log, sqrt, tanh
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from cython.parallel cimport parallel, prange, threadid

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #else
    static int omp_get_max_threads(void) { return 1; }
    static int omp_get_num_threads(void) { return 1; }
    #endif
    """
    int omp_get_max_threads() noexcept nogil
    int omp_get_num_threads() noexcept nogil


cdef extern from *:
    """
    /* The kernels' buffers start on a cache line, so that a row of 64-byte vectors'
       loads and stores does not straddle two lines. With malloc's 16-byte alignment a
       digits 64-32-10 online step took 830-940 ns from run to run, by where the buffers
       fell; aligned, 760 (Zen 4). */
    #include <stdlib.h>
    #include <string.h>
    #if defined(_MSC_VER)
    #include <malloc.h>
    #endif
    static inline double* fastbp_alloc(size_t bytes) {
        void* p = NULL;
        if (bytes == 0) bytes = 1;
    #if defined(_MSC_VER)
        p = _aligned_malloc(bytes, 64);
    #else
        if (posix_memalign(&p, 64, bytes) != 0) p = NULL;
    #endif
        return (double*) p;
    }
    static inline double* fastbp_zeros(size_t bytes) {
        double* p = fastbp_alloc(bytes);
        if (p != NULL) memset(p, 0, bytes);
        return p;
    }
    static inline void fastbp_free(void* p) {
    #if defined(_MSC_VER)
        _aligned_free(p);
    #else
        free(p);
    #endif
    }
    """
    double* _alloc "fastbp_alloc" (size_t bytes) noexcept nogil
    double* _zeros "fastbp_zeros" (size_t bytes) noexcept nogil
    void _free "fastbp_free" (void* p) noexcept nogil

import numpy as np

from fastbp.kernels._cython_small cimport _small_online

include "_common.pxi"

cdef enum:
    UNROLL_PARAMS = 128  # see LANES_MAX_PARAMS
include "_exp.pxi"
include "_squash.pxi"
include "_batched.pxi"
include "_looped.pxi"

cdef struct Net:
    # One network's shape, and the working memory for one sample.
    Py_ssize_t n_layers
    const int64_t* layout     # (n_layers, 4): n_in, n_out, w_offset, b_offset
    const int64_t* acts
    Py_ssize_t* at            # start of each layer's activations in a / d; at[L+1] = size
    double* a                 # every layer's outputs, the input first
    double* d                 # every layer's deltas, laid out as a
    int exp_build             # the logistic's exp: EXP_LIBM, or inlined (EXP_FMA, EXP_PLAIN)
    const uint64_t* exp_table # glibc's table, for an inlined exp


cdef int _open_raw(Net* net, const int64_t* layout, Py_ssize_t n_layers,
                   const int64_t* acts) noexcept nogil:
    """Set up ``net``; -1 where memory ran out (then nothing is left allocated)."""
    cdef Py_ssize_t layer
    net.n_layers = n_layers
    net.layout = layout
    net.acts = acts
    net.a = net.d = NULL
    net.exp_build, net.exp_table = EXP_LIBM, NULL
    net.at = <Py_ssize_t*> malloc((n_layers + 2) * sizeof(Py_ssize_t))
    if net.at == NULL:
        return -1
    net.at[0] = 0
    net.at[1] = layout[0]
    for layer in range(n_layers):
        net.at[layer + 2] = net.at[layer + 1] + layout[4 * layer + 1]
    net.a = _alloc(net.at[n_layers + 1] * sizeof(double))
    net.d = _alloc(net.at[n_layers + 1] * sizeof(double))
    if net.a == NULL or net.d == NULL:
        _close(net)
        return -1
    return 0


cdef int _open(Net* net, const int64_t[:, ::1] layout, const int64_t[::1] acts) except -1:
    if _open_raw(net, &layout[0, 0], layout.shape[0], &acts[0]) != 0:
        raise MemoryError()
    return 0


cdef void _close(Net* net) noexcept nogil:
    free(net.at)
    _free(net.a)
    _free(net.d)
    net.at = net.a = net.d = NULL


cdef inline void _row(const Net* net, Py_ssize_t layer, Py_ssize_t* n_in, Py_ssize_t* n_out,
                      Py_ssize_t* w_at, Py_ssize_t* b_at) noexcept nogil:
    cdef const int64_t* row = net.layout + 4 * layer
    n_in[0], n_out[0], w_at[0], b_at[0] = row[0], row[1], row[2], row[3]


cdef void _transpose_weights(const double* src, const Net* net, double* dst,
                             bint to_work) noexcept nogil:
    """Copy ``src`` to ``dst`` transposing every ``W`` (twin: ``_to_work``, in NumPy)."""
    cdef Py_ssize_t layer, i, j, n_in, n_out, w_at, b_at
    cdef const int64_t* last = net.layout + 4 * (net.n_layers - 1)
    memcpy(dst, src, (last[3] + last[1]) * sizeof(double))
    for layer in range(net.n_layers):
        _row(net, layer, &n_in, &n_out, &w_at, &b_at)
        for j in range(n_out):
            for i in range(n_in):
                if to_work:
                    dst[w_at + i * n_out + j] = src[w_at + j * n_in + i]
                else:
                    dst[w_at + j * n_in + i] = src[w_at + i * n_out + j]


cdef void _add_decay(double* grad, const double* work, const Net* net,
                     double decay) noexcept nogil:
    """``grad += decay * w`` over every weight (both in the working layout), where
    ``decay`` is not 0."""
    cdef Py_ssize_t layer, q, n_in, n_out, w_at, b_at
    if decay == 0.0:
        return
    for layer in range(net.n_layers):
        _row(net, layer, &n_in, &n_out, &w_at, &b_at)
        for q in range(w_at, w_at + n_in * n_out):
            grad[q] = grad[q] + decay * work[q]


cdef inline double _sample_loss(int loss, int64_t out_code, const double* out,
                                const double* t, Py_ssize_t n) noexcept nogil:
    """Per-sample loss (twin: ``_sample_loss``); 0 log 0 counts as 0."""
    cdef Py_ssize_t k
    cdef double total = 0.0, e, term, u
    for k in range(n):
        if loss == SQUARED:
            e = t[k] - out[k]
            total += 0.5 * (e * e)
        else:
            term = 0.0 if t[k] == 0.0 else t[k] * log(out[k])
            if out_code != SOFTMAX:
                u = 1.0 - t[k]
                term = term + (0.0 if u == 0.0 else u * log(1.0 - out[k]))
            total -= term
    return total


cdef double* _working_copy(const double[::1] params, const Net* net) except NULL:
    cdef double* work = _alloc(params.shape[0] * sizeof(double))
    if work == NULL:
        raise MemoryError()
    _transpose_weights(&params[0], net, work, True)
    return work


cdef double _evaluate(int task, const double[::1] params, const int64_t[:, ::1] layout,
                      const int64_t[::1] acts, int loss, const double[:, ::1] X,
                      const double[:, ::1] Y, double* out, int threads, int exp_build,
                      const uint64_t* tab, double decay=0.0,
                      const double* SW=NULL) except? -1:
    """Run ``task`` of ``_run_batches`` over every sample of ``X``, ``CHUNK`` at a time, on
    working copies of ``params``: the outputs into ``out`` (BATCH_FORWARD), the mean
    gradient, flat like ``params``, into ``out`` (BATCH_GRADIENTS); the mean loss is
    returned (BATCH_LOSS, BATCH_GRADIENTS). ``threads`` threads share each batch; ``SW``
    weighs the samples (NULL: none)."""
    cdef Net net
    _open(&net, layout, acts)
    cdef Py_ssize_t q, last = layout.shape[0], size = params.shape[0]
    cdef Py_ssize_t rows = CHUNK if X.shape[0] > CHUNK else X.shape[0]
    cdef double result[1]
    cdef double value, count = 0.0
    cdef int part
    cdef double* work = NULL
    cdef double* grad = NULL
    cdef double* a = NULL
    cdef double* d = NULL
    try:
        work = _working_copy(params, &net)
        grad = _zeros(size * sizeof(double))
        a = _alloc(rows * net.at[last + 1] * sizeof(double))
        d = _alloc(rows * net.at[last + 1] * sizeof(double))
        if grad == NULL or a == NULL or d == NULL:
            raise MemoryError()
        # Evaluation writes nothing into ``orig``: ``params`` can stand in for it.
        if threads <= 1:  # no parallel region: opening one costs a short call microseconds
            with nogil:
                result[0] = _run_batches(task, work, <double*> &params[0], &layout[0, 0], last,
                                         &acts[0], loss, &X[0, 0],
                                         &Y[0, 0] if Y.shape[0] else NULL, X.shape[0], 0, NULL,
                                         0.0, rows, NULL, 0.0, NULL, False, net.at, a, d, grad,
                                         out, exp_build, tab, 0, 1, SW, NULL)
        else:
            with nogil, parallel(num_threads=threads):
                part = threadid()
                value = _run_batches(task, work, <double*> &params[0], &layout[0, 0], last,
                                     &acts[0], loss, &X[0, 0], &Y[0, 0] if Y.shape[0] else NULL,
                                     X.shape[0], 0, NULL, 0.0, rows, NULL, 0.0, NULL, False,
                                     net.at, a, d, grad, out, exp_build, tab, part,
                                     omp_get_num_threads(), SW, NULL)
                if part == 0:
                    result[0] = value
        with nogil:
            if task == BATCH_GRADIENTS:
                _add_decay(grad, work, &net, decay)
                if SW == NULL:
                    count = X.shape[0]
                else:
                    for q in range(X.shape[0]):
                        count = count + SW[q]
                for q in range(size):
                    grad[q] = grad[q] / count
                _transpose_weights(grad, &net, out, False)
    finally:
        _free(work)
        _free(grad)
        _free(a)
        _free(d)
        _close(&net)
    return result[0]


_NO_Y = np.empty((0, 0))
EVALUATION_CHUNK = CHUNK
#: The tiled products' register tile and cache block (twins of fastbp.kernels.limits).
TILES = {"rows": MR, "columns": NR, "block terms": KC, "block rows": MC,
         "padded rows": PADDED}


cdef object _kept_table = None  # the array behind _TABLE, kept alive
cdef const uint64_t* _TABLE = NULL


def keep_exp_table(const uint64_t[::1] exp_table):
    """Keep glibc's table for every later call that passes no ``exp_table``: taking an
    array's buffer costs a short call a fraction of a microsecond, each time."""
    global _kept_table, _TABLE
    if exp_table.shape[0] != 256:
        raise ValueError("exp_table must be glibc's table of 256 entries")
    _kept_table = exp_table.base if exp_table.base is not None else exp_table
    _TABLE = &exp_table[0]


cdef const uint64_t* _table(int exp_build, const uint64_t[::1] exp_table) except? NULL:
    """glibc's table, which an inlined exp needs (``exp_table``, or else the one kept by
    ``keep_exp_table``); NULL for the library's."""
    if exp_build == EXP_LIBM:
        return NULL
    if exp_table is None and _TABLE != NULL:
        return _TABLE
    if exp_table is None or exp_table.shape[0] != 256:
        raise ValueError("exp_table must be glibc's table of 256 entries with an inlined exp")
    return &exp_table[0]


def forward(const double[::1] params, const int64_t[:, ::1] layout, const int64_t[::1] acts,
            const double[:, ::1] X, int threads=1, int exp_build=EXP_LIBM,
            const uint64_t[::1] exp_table=None):
    """Outputs for every row of ``X`` (twin: ``forward``)."""
    cdef double[:, ::1] out = np.empty((X.shape[0], layout[layout.shape[0] - 1, 1]))
    _evaluate(BATCH_FORWARD, params, layout, acts, 0, X, _NO_Y, &out[0, 0], threads, exp_build,
              _table(exp_build, exp_table))
    return out.base


cdef inline const double* _weights(const double[::1] sample_weight):
    """The samples' weights, or NULL for none."""
    return NULL if sample_weight is None or sample_weight.shape[0] == 0 else &sample_weight[0]


def mean_loss(const double[::1] params, const int64_t[:, ::1] layout, const int64_t[::1] acts,
              int loss, const double[:, ::1] X, const double[:, ::1] Y, int threads=1,
              int exp_build=EXP_LIBM, const uint64_t[::1] exp_table=None,
              const double[::1] sample_weight=None):
    """Mean per-sample loss, summed in sample order then divided (twin: ``mean_loss``)."""
    return _evaluate(BATCH_LOSS, params, layout, acts, loss, X, Y, NULL, threads, exp_build,
                     _table(exp_build, exp_table), 0.0, _weights(sample_weight))


def loss_and_gradients(const double[::1] params, const int64_t[:, ::1] layout,
                       const int64_t[::1] acts, int loss, const double[:, ::1] X,
                       const double[:, ::1] Y, int threads=1, int exp_build=EXP_LIBM,
                       const uint64_t[::1] exp_table=None, double weight_decay=0.0,
                       const double[::1] sample_weight=None):
    """The mean loss and its gradient, flat like ``params``: each sum, plus ``weight_decay
    * w`` for a weight, divided by the number of samples (their weights' sum), in one pass
    (twin: ``loss_and_gradients``)."""
    cdef double[::1] out = np.empty(params.shape[0])
    cdef double value = _evaluate(BATCH_GRADIENTS, params, layout, acts, loss, X, Y, &out[0],
                                  threads, exp_build, _table(exp_build, exp_table),
                                  weight_decay, _weights(sample_weight))
    return value, out.base


cdef int _train_one(double* params, double* velocity, const int64_t* layout,
                    Py_ssize_t n_layers, const int64_t* acts, int loss, const double* X,
                    const double* Y, Py_ssize_t n, Py_ssize_t epochs, const int64_t* order,
                    double lr, Py_ssize_t batch_size, const double* opt, double decay,
                    bint train_bias, int threads, int exp_build,
                    const uint64_t* tab, const double* SW, double* R) noexcept nogil:
    """Train one network in place (twin: numba.backend's ``train``); -1 where memory ran
    out. ``order`` holds ``epochs`` rows of ``n`` sample indices, or is NULL for 0..n-1;
    ``SW`` the samples' weights, or NULL; ``R`` gets each epoch's losses, or is NULL.

    A small network (at most ``UNROLL_PARAMS`` parameters) trained online runs a kernel
    generated from the description of the step: its shape's unrolled copy in
    ``_cython_small`` where the catalogue has one, else ``_online_looped``. Everything else
    goes through ``_run_batches``, ``threads`` threads sharing each batch.
    """
    cdef Py_ssize_t size = layout[4 * (n_layers - 1) + 3] + layout[4 * (n_layers - 1) + 1]
    if batch_size == 1 and size <= UNROLL_PARAMS:
        if n_layers == 2 and _small_online(params, velocity, X, Y, order, n, epochs, lr,
                                           opt, decay, loss, acts[0], acts[1], layout[0],
                                           layout[1], layout[5], train_bias, SW, R):
            return 0
        return _train_looped(params, velocity, layout, n_layers, acts, loss, X, Y, n, epochs,
                             order, lr, opt, decay, train_bias, exp_build, tab, SW, R)
    return _train_batched(params, velocity, layout, n_layers, acts, loss, X, Y, n, epochs,
                          order, lr, batch_size, opt, decay, train_bias, threads,
                          exp_build, tab, SW, R)


cdef int _train_batched(double* params, double* velocity, const int64_t* layout,
                        Py_ssize_t n_layers, const int64_t* acts, int loss, const double* X,
                        const double* Y, Py_ssize_t n, Py_ssize_t epochs, const int64_t* order,
                        double lr, Py_ssize_t batch_size, const double* opt, double decay,
                        bint train_bias, int threads, int exp_build,
                        const uint64_t* tab, const double* SW, double* R) noexcept nogil:
    """Train one network in place by ``_run_batches`` on working copies with transposed
    weights, ``threads`` threads sharing each batch; -1 where memory ran out."""
    cdef Py_ssize_t n_out = layout[4 * (n_layers - 1) + 1]
    cdef Py_ssize_t size = layout[4 * (n_layers - 1) + 3] + n_out
    cdef int part
    cdef Net net
    if _open_raw(&net, layout, n_layers, acts) != 0:
        return -1
    net.exp_build, net.exp_table = exp_build, tab
    cdef Py_ssize_t batch = batch_size if batch_size < n else n
    cdef Py_ssize_t rows = batch if batch < CHUNK else CHUNK  # the buffers hold a chunk
    cdef double* work = _alloc(size * sizeof(double))
    cdef bint adam = opt[2] != 0.0
    cdef double* vel = _alloc((2 * size + 3 if adam else size) * sizeof(double))
    cdef double* grad = _alloc(size * sizeof(double))
    cdef double* orig = _alloc(size * sizeof(double))
    cdef double* a = _alloc(rows * net.at[n_layers + 1] * sizeof(double))
    cdef double* d = _alloc(rows * net.at[n_layers + 1] * sizeof(double))
    cdef int status = 0
    if work == NULL or vel == NULL or grad == NULL or orig == NULL or a == NULL or d == NULL:
        status = -1
    else:
        _transpose_weights(params, &net, work, True)
        _transpose_weights(velocity, &net, vel, True)
        if adam:  # the second moments as the first, then Adam's scalars as they are
            _transpose_weights(velocity + size, &net, vel + size, True)
            memcpy(vel + 2 * size, velocity + 2 * size, 3 * sizeof(double))
        memcpy(orig, params, size * sizeof(double))
        if threads == 1:
            _run_batches(BATCH_TRAIN, work, orig, layout, n_layers, acts, loss, X, Y, n, epochs,
                         order, lr, batch, opt, decay, vel, train_bias, net.at, a, d, grad,
                         NULL, exp_build, tab, 0, 1, SW, R)
        else:
            with parallel(num_threads=threads):
                part = threadid()
                _run_batches(BATCH_TRAIN, work, orig, layout, n_layers, acts, loss, X, Y, n,
                             epochs, order, lr, batch, opt, decay, vel, train_bias, net.at,
                             a, d, grad, NULL, exp_build, tab, part, omp_get_num_threads(),
                             SW, R)
        _transpose_weights(work, &net, params, False)
        _transpose_weights(vel, &net, velocity, False)
        if adam:
            _transpose_weights(vel + size, &net, velocity + size, False)
            memcpy(velocity + 2 * size, vel + 2 * size, 3 * sizeof(double))
    _free(work)
    _free(vel)
    _free(grad)
    _free(orig)
    _free(a)
    _free(d)
    _close(&net)
    return status


cdef int _train_looped(double* params, double* velocity, const int64_t* layout,
                       Py_ssize_t n_layers, const int64_t* acts, int loss, const double* X,
                       const double* Y, Py_ssize_t n, Py_ssize_t epochs, const int64_t* order,
                       double lr, const double* opt, double decay, bint train_bias,
                       int exp_build, const uint64_t* tab, const double* SW,
                       double* R) noexcept nogil:
    """``_online_looped`` on its buffers; -1 where memory ran out."""
    cdef Net net
    if _open_raw(&net, layout, n_layers, acts) != 0:
        return -1
    _online_looped(params, velocity, layout, n_layers, acts, loss, X, Y, n, epochs, order, lr,
                   opt, decay, train_bias, net.at, net.a, net.d, exp_build, tab, SW, R)
    _close(&net)
    return 0


def train(double[::1] params, const int64_t[:, ::1] layout, const int64_t[::1] acts, int loss,
          const double[:, ::1] X, const double[:, ::1] Y, Py_ssize_t epochs,
          const int64_t[:, ::1] order, double lr, Py_ssize_t batch_size, const double[::1] opt,
          double[::1] velocity, bint train_bias, int threads=1, int exp_build=EXP_LIBM,
          const uint64_t[::1] exp_table=None, double weight_decay=0.0,
          const double[::1] sample_weight=None, double[:, ::1] report=None):
    """Train in place; the oracle's ``train`` defines every option (twin: ``train``).
    ``exp_build`` picks the logistic's exp (an inlined one needs glibc's ``exp_table``)."""
    _train_view(params, layout, acts, loss, X, Y, epochs, order, lr, batch_size, opt,
                velocity, train_bias, threads, exp_build, _table(exp_build, exp_table),
                weight_decay, _weights(sample_weight),
                NULL if report is None or report.shape[0] == 0 else &report[0, 0])


def train_then_loss(double[::1] params, const int64_t[:, ::1] layout,
                    const int64_t[::1] acts, int loss, const double[:, ::1] X,
                    const double[:, ::1] Y, Py_ssize_t epochs, const int64_t[:, ::1] order,
                    double lr, Py_ssize_t batch_size, const double[::1] opt, double[::1] velocity,
                    bint train_bias, int threads=1, int loss_threads=1,
                    int exp_build=EXP_LIBM, const uint64_t[::1] exp_table=None,
                    double weight_decay=0.0, const double[::1] sample_weight=None):
    """``train``, then the mean loss over ``X, Y`` (``mean_loss`` on ``loss_threads``
    threads), or NaN where a parameter is not finite (twin: numba.backend's
    ``train_then_loss``). One call: a short run would pay twice for its arguments."""
    cdef const uint64_t* tab = _table(exp_build, exp_table)
    _train_view(params, layout, acts, loss, X, Y, epochs, order, lr, batch_size, opt,
                velocity, train_bias, threads, exp_build, tab, weight_decay,
                _weights(sample_weight), NULL)
    cdef Py_ssize_t q
    for q in range(params.shape[0]):
        if not isfinite(params[q]):
            return float("nan")
    return _evaluate(BATCH_LOSS, params, layout, acts, loss, X, Y, NULL, loss_threads,
                     exp_build, tab, 0.0, _weights(sample_weight))


cdef int _train_view(double[::1] params, const int64_t[:, ::1] layout,
                     const int64_t[::1] acts, int loss, const double[:, ::1] X,
                     const double[:, ::1] Y, Py_ssize_t epochs, const int64_t[:, ::1] order,
                     double lr, Py_ssize_t batch_size, const double[::1] opt,
                     double[::1] velocity, bint train_bias, int threads, int exp_build,
                     const uint64_t* tab, double weight_decay,
                     const double* SW, double* R) except -1:
    """``_train_one`` on memoryviews: ``train``'s body, without the GIL."""
    cdef const int64_t* visits = NULL  # order None (no buffer to take) or empty: 0..n-1
    if order is not None and order.shape[0] == epochs and epochs > 0:
        visits = &order[0, 0]
    cdef int status
    with nogil:
        status = _train_one(&params[0], &velocity[0], &layout[0, 0], layout.shape[0], &acts[0],
                            loss, &X[0, 0], &Y[0, 0], X.shape[0], epochs, visits, lr,
                            batch_size, &opt[0], weight_decay, train_bias, threads, exp_build,
                            tab, SW, R)
    if status != 0:
        raise MemoryError()
    return 0


#: Networks of at most this many parameters train online by the generated kernels, one at
#: a time or side by side, one per lane (twin of fastbp.kernels.limits.UNROLL_PARAMS).
LANES_MAX_PARAMS = UNROLL_PARAMS


def lanes(Py_ssize_t n_params):
    """Networks per group of ``_train_lanes`` (twin: ``limits.unrolled_lanes``): float32's
    twice float64's, the same bytes a row."""
    return (32 if n_params <= 32 else 16 if n_params <= 64 else 8) * 8 // sizeof(double)


def train_many(double[:, ::1] params, const int64_t[:, ::1] layout, const int64_t[::1] acts,
               int loss, const double[:, ::1] X, const double[:, ::1] Y, Py_ssize_t epochs,
               const int64_t[:, ::1] order, const double[::1] lrs, Py_ssize_t batch_size,
               const double[::1] opt, double[:, ::1] velocity, bint train_bias, threads,
               int exp_build=EXP_LIBM, const uint64_t[::1] exp_table=None,
               double weight_decay=0.0, const double[::1] sample_weight=None):
    """``train`` every row of ``params`` with its own ``lrs[k]`` (twin: ``train_many``).

    Parallel over rows with OpenMP where the extension was built with it, else serial.
    Small networks trained online go ``lanes`` at a time, one per vector lane, with the
    exp ``exp_build`` says (EXP_FMA or EXP_PLAIN need glibc's table, ``exp_table``).
    """
    cdef const int64_t* visits = NULL  # order None (no buffer to take) or empty: 0..n-1
    if order is not None and order.shape[0] == epochs and epochs > 0:
        visits = &order[0, 0]
    cdef Py_ssize_t k, group, count = params.shape[0], size = params.shape[1], G, groups
    cdef int failed = 0
    cdef int n_threads = threads if threads is not None else openmp_threads()
    cdef const uint64_t* tab = _table(exp_build, exp_table)
    cdef const double* SW = _weights(sample_weight)
    if batch_size == 1 and size <= UNROLL_PARAMS:
        G = lanes(size)
        groups = (count + G - 1) // G
        for group in prange(groups, nogil=True, schedule="dynamic", num_threads=n_threads):
            if _train_lanes(&params[group * G, 0], &velocity[group * G, 0], size,
                            velocity.shape[1],
                            &layout[0, 0], layout.shape[0], &acts[0], loss, &X[0, 0],
                            &Y[0, 0], X.shape[0], epochs, visits, &lrs[group * G],
                            min(G, count - group * G), G, &opt[0], weight_decay, train_bias,
                            exp_build, tab, SW) != 0:
                failed = 1
    else:
        for k in prange(count, nogil=True, schedule="dynamic", num_threads=n_threads):
            if _train_one(&params[k, 0], &velocity[k, 0], &layout[0, 0], layout.shape[0],
                          &acts[0], loss, &X[0, 0], &Y[0, 0], X.shape[0], epochs, visits,
                          lrs[k], batch_size, &opt[0], weight_decay, train_bias, 1, exp_build,
                          tab, SW, NULL) != 0:
                failed = 1
    if failed:
        raise MemoryError()


def openmp_threads():
    """Threads an OpenMP parallel region would use here (1 without OpenMP)."""
    return omp_get_max_threads()


# Thin wrappers over inner functions, for tests.

#: The forms of the step ``train_form`` runs (fastbp.kernels.steps).
FORMS = ("unrolled", "looped", "lanes", "batched")


def train_form(str form, double[:, ::1] params, double[:, ::1] velocity,
               const int64_t[:, ::1] layout, const int64_t[::1] acts, int loss,
               const double[:, ::1] X, const double[:, ::1] Y, Py_ssize_t epochs,
               const int64_t[:, ::1] order, const double[::1] lrs, Py_ssize_t batch_size,
               const double[::1] opt, double decay, bint train_bias, int exp_build=EXP_LIBM,
               const uint64_t[::1] exp_table=None, const double[::1] sample_weight=None):
    """Train every row of ``params`` with one form of the step, whatever the router would
    pick: ``"unrolled"`` (the catalogue's copy), ``"looped"``, ``"lanes"`` (all rows in one
    group) or ``"batched"``. False where the form cannot train this: a batch for an online
    form, a shape the catalogue lacks."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}; got {form!r}")
    cdef const int64_t* visits = NULL
    if order is not None and order.shape[0] == epochs and epochs > 0:
        visits = &order[0, 0]
    cdef const uint64_t* tab = _table(exp_build, exp_table)
    cdef Py_ssize_t k, count = params.shape[0], L = layout.shape[0]
    cdef const double* SW = _weights(sample_weight)
    if form != "batched" and batch_size != 1:
        return False
    if form == "lanes":
        if _train_lanes(&params[0, 0], &velocity[0, 0], params.shape[1], velocity.shape[1],
                        &layout[0, 0], L,
                        &acts[0], loss, &X[0, 0], &Y[0, 0], X.shape[0], epochs, visits,
                        &lrs[0], count, count, &opt[0], decay, train_bias, exp_build,
                        tab, SW) != 0:
            raise MemoryError()
        return True
    for k in range(count):
        if form == "unrolled":
            if L != 2 or not _small_online(&params[k, 0], &velocity[k, 0], &X[0, 0], &Y[0, 0],
                                           visits, X.shape[0], epochs, lrs[k], &opt[0], decay,
                                           loss, acts[0], acts[1], layout[0, 0], layout[0, 1],
                                           layout[1, 1], train_bias, SW, NULL):
                return False
        elif form == "looped":
            if _train_looped(&params[k, 0], &velocity[k, 0], &layout[0, 0], L, &acts[0], loss,
                             &X[0, 0], &Y[0, 0], X.shape[0], epochs, visits, lrs[k], &opt[0],
                             decay, train_bias, exp_build, tab, SW, NULL) != 0:
                raise MemoryError()
        elif _train_batched(&params[k, 0], &velocity[k, 0], &layout[0, 0], L, &acts[0], loss,
                            &X[0, 0], &Y[0, 0], X.shape[0], epochs, visits, lrs[k],
                            batch_size, &opt[0], decay, train_bias, 1, exp_build, tab,
                            SW, NULL) != 0:
            raise MemoryError()
    return True


def activate(int64_t code, double[::1] z):
    """Apply ``_activate`` to ``z`` in place."""
    _activate(code, &z[0], z.shape[0])


def derivative(int64_t code, double out):
    """``_derivative`` of one output."""
    return _derivative(code, out)


def exps(double[::1] z):
    """``exp`` of every element of ``z``, in place, as the kernels take it: the C
    library's here, fastbp's float32 exp (``_expf.pxi``) in the float32 twin."""
    cdef Py_ssize_t i
    for i in range(z.shape[0]):
        z[i] = exp(z[i])


def exps_unchecked(double[::1] z, const uint64_t[::1] exp_table):
    """``exp`` of every element of ``z``, in place, as the lanes kernels take it where no
    element is special (else None, ``z`` untouched): here glibc's exp without its branch
    (the build without fused multiply-adds, ``exp_table`` its table), in the float32 twin
    fastbp's float32 exp without its branch (no table)."""
    cdef Py_ssize_t i
    cdef const uint64_t* tab = &exp_table[0]
    for i in range(z.shape[0]):
        if _exp_special(z[i]):
            return None
    for i in range(z.shape[0]):
        z[i] = _exp_plain(z[i], tab)
    return z
