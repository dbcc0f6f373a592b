# The math both Cython modules share (_kernels.pyx and the catalogue of small networks),
# included into each so that the C compiler can inline it there. Twins: the oracle's
# activate, derivative and output_deltas, and numba.backend's helpers of the same names.

from libc.math cimport exp, tanh
from libc.stdint cimport int64_t


cdef enum:
    IDENTITY = 0
    LOGISTIC = 1
    TANH = 2
    RELU = 3
    SOFTMAX = 4
    SQUARED = 0


cdef inline void _activate(int64_t code, double* z, Py_ssize_t n) noexcept nogil:
    """Squash one layer's net inputs in place (twin: ``_activate``)."""
    cdef Py_ssize_t j
    cdef double largest, total
    if code == LOGISTIC:
        for j in range(n):
            z[j] = 1.0 / (1.0 + exp(-z[j]))
    elif code == TANH:
        for j in range(n):
            z[j] = tanh(z[j])
    elif code == RELU:
        for j in range(n):
            if not z[j] > 0.0:
                z[j] = 0.0
    elif code == SOFTMAX:
        largest = z[0]
        for j in range(1, n):
            if z[j] > largest:
                largest = z[j]
        total = 0.0
        for j in range(n):
            z[j] = exp(z[j] - largest)
            total += z[j]
        for j in range(n):
            z[j] = z[j] / total


cdef inline double _derivative(int64_t code, double out) noexcept nogil:
    """d out / d net in terms of the output (twin: ``_derivative``)."""
    if code == LOGISTIC:
        return out * (1.0 - out)
    if code == TANH:
        return 1.0 - out * out
    if code == RELU:
        return 1.0 if out > 0.0 else 0.0
    return 1.0


cdef inline void _output_deltas(int loss, int64_t code, const double* o, const double* t,
                                double* d, Py_ssize_t n) noexcept nogil:
    """dE/dnet of each output neuron (twin: ``_output_deltas`` in numba.batched)."""
    cdef Py_ssize_t k
    cdef double total
    if loss != SQUARED:
        for k in range(n):
            d[k] = o[k] - t[k]
    elif code == SOFTMAX:
        total = 0.0
        for k in range(n):
            total += (o[k] - t[k]) * o[k]
        for k in range(n):
            d[k] = o[k] * ((o[k] - t[k]) - total)
    else:
        for k in range(n):
            d[k] = (o[k] - t[k]) * _derivative(code, o[k])
