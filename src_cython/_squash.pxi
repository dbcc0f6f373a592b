# The activations of a batch's rows, with the logistic's exp glibc's, inlined (_exp.pxi)
# where glibc_exp.variant() has verified it (included by _kernels.pyx). Twin: numba
# batched.py's ``_squash``.

cdef void _logistic_lanes(double* z, Py_ssize_t g, int exp_build,
                          const uint64_t* tab) noexcept nogil:
    """z = 1 / (1 + exp(-z)) in every lane. glibc's exp inlined where no input is one
    it treats apart (|x| >= 512, tiny, inf, NaN); else, rarely, the library's."""
    cdef Py_ssize_t lane
    cdef int rare = 0
    if exp_build != EXP_LIBM:
        for lane in range(g):
            rare += _exp_special(-z[lane])
    if rare or exp_build == EXP_LIBM:
        for lane in range(g):
            z[lane] = 1.0 / (1.0 + exp(-z[lane]))
    elif exp_build == EXP_FMA:
        for lane in range(g):
            z[lane] = 1.0 / (1.0 + _exp_fma(-z[lane], tab))
    else:
        for lane in range(g):
            z[lane] = 1.0 / (1.0 + _exp_plain(-z[lane], tab))


cdef inline void _squash(int64_t code, double* z, Py_ssize_t n, int exp_build,
                         const uint64_t* tab) noexcept nogil:
    """``_activate`` with the logistic's exp as ``exp_build`` says (the same bits)."""
    if code == LOGISTIC:
        _logistic_lanes(z, n, exp_build, tab)
    else:
        _activate(code, z, n)
