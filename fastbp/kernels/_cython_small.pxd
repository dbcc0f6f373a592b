# The catalogue of small-network kernels (src_cython/_small.pyx, which setup.py writes from
# fastbp/kernels/cython_codegen.py), as _kernels.pyx sees it.

from libc.stdint cimport int64_t


cdef bint _small_online(double* params, double* velocity, const double* X, const double* Y,
                        const int64_t* order, Py_ssize_t n, Py_ssize_t epochs, double lr,
                        const double* opt, double decay, int loss, int64_t a1, int64_t a2,
                        Py_ssize_t n0, Py_ssize_t n1, Py_ssize_t n2,
                        bint train_bias, const double* SW, double* R) noexcept nogil
