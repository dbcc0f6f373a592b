# Many small networks trained online side by side, one per vector lane (included by
# _kernels.pyx). Twin: kernel_many of numba.codegen.py. Every value of a group of G
# networks lives in one scratch array, row by row (S[row * G + lane]); each step is loops
# over the lanes, innermost, which the C compiler vectorises, glibc's exp inlined in them
# (fastbp_exp_*, where glibc_exp.variant() has verified it). Each lane does exactly the
# scalar operations of the oracle, so every network has the bits of training it alone.

from libc.stdint cimport uint64_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>
    /* glibc's exp (sysdeps/ieee754/dbl-64/e_exp.c) without its branch for rare inputs:
       the twin of libm_exp.exp_fma_unchecked / exp_plain_unchecked, with the table that
       glibc_exp.table() computes, passed in at run time. */
    static inline uint64_t fastbp_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
    static inline double fastbp_double(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
    #define FASTBP_INVLN2N 0x1.71547652b82fep0 * 128
    #define FASTBP_NEGLN2HIN -0x1.62e42fefa0000p-8
    #define FASTBP_NEGLN2LON -0x1.cf79abc9e3b3ap-47
    #define FASTBP_SHIFT 0x1.8p52
    #define FASTBP_C2 0x1.ffffffffffdbdp-2
    #define FASTBP_C3 0x1.555555555543cp-3
    #define FASTBP_C4 0x1.55555cf172b91p-5
    #define FASTBP_C5 0x1.1111167a4d017p-7
    static inline int fastbp_exp_special(double x) {
        return ((fastbp_bits(x) >> 52) & 0x7ff) - 0x3c9 >= 0x408 - 0x3c9;
    }
    static inline double fastbp_exp_fma(double x, const uint64_t* tab) {
        double kd = fma(x, FASTBP_INVLN2N, FASTBP_SHIFT);
        uint64_t ki = fastbp_bits(kd);
        kd = kd - FASTBP_SHIFT;
        double r = fma(kd, FASTBP_NEGLN2LON, fma(kd, FASTBP_NEGLN2HIN, x));
        uint64_t idx = (ki & 127) << 1;
        double scale = fastbp_double(tab[idx + 1] + (ki << 45));
        double r2 = r * r;
        double tmp = fma(r2 * r2, fma(r, FASTBP_C5, FASTBP_C4),
                         fma(fma(r, FASTBP_C3, FASTBP_C2), r2, fastbp_double(tab[idx]) + r));
        return fma(scale, tmp, scale);
    }
    static inline double fastbp_exp_plain(double x, const uint64_t* tab) {
        double kd = FASTBP_INVLN2N * x + FASTBP_SHIFT;
        uint64_t ki = fastbp_bits(kd);
        kd = kd - FASTBP_SHIFT;
        double r = (x + kd * FASTBP_NEGLN2HIN) + kd * FASTBP_NEGLN2LON;
        uint64_t idx = (ki & 127) << 1;
        double scale = fastbp_double(tab[idx + 1] + (ki << 45));
        double r2 = r * r;
        double tmp = ((fastbp_double(tab[idx]) + r) + r2 * (FASTBP_C2 + r * FASTBP_C3))
                     + (r2 * r2) * (FASTBP_C4 + r * FASTBP_C5);
        return scale + scale * tmp;
    }
    """
    bint _exp_special "fastbp_exp_special" (double x) noexcept nogil
    double _exp_fma "fastbp_exp_fma" (double x, const uint64_t* tab) noexcept nogil
    double _exp_plain "fastbp_exp_plain" (double x, const uint64_t* tab) noexcept nogil


cdef enum:  # glibc_exp.CODES
    EXP_LIBM = 0
    EXP_FMA = 1
    EXP_PLAIN = 2


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


cdef void _activate_lanes(int64_t code, double* z, Py_ssize_t n, Py_ssize_t G,
                          Py_ssize_t g, int exp_build, const uint64_t* tab) noexcept nogil:
    """Squash the ``n`` rows of net inputs at ``z`` (row j at ``z + j G``), lane by lane
    (twin: ``_activate``)."""
    cdef Py_ssize_t j, lane
    if code == SOFTMAX:
        for lane in range(g):
            _softmax_lane(z + lane, n, G)
        return
    for j in range(n):  # elementwise: each row's lanes as one layer of g neurons
        _squash(code, z + j * G, g, exp_build, tab)


cdef inline void _softmax_lane(double* z, Py_ssize_t n, Py_ssize_t G) noexcept nogil:
    cdef Py_ssize_t j
    cdef double largest = z[0], total = 0.0
    for j in range(1, n):
        if z[j * G] > largest:
            largest = z[j * G]
    for j in range(n):
        z[j * G] = exp(z[j * G] - largest)
        total += z[j * G]
    for j in range(n):
        z[j * G] = z[j * G] / total


cdef int _train_lanes(double* P, double* V, Py_ssize_t stride, const int64_t* layout,
                      Py_ssize_t last, const int64_t* acts, int loss, const double* X,
                      const double* Y, Py_ssize_t n, Py_ssize_t epochs, const int64_t* order,
                      const double* lrs, Py_ssize_t g, Py_ssize_t G, double momentum,
                      bint train_bias, int exp_build, const uint64_t* tab) noexcept nogil:
    """Train the ``g`` networks of rows ``P[lane * stride]`` (velocities ``V``) online, one
    per lane of a group of ``G`` (twin: ``kernel_many``); -1 where memory ran out."""
    cdef Py_ssize_t n0 = layout[0], n_top = layout[4 * (last - 1) + 1]
    cdef Py_ssize_t size = layout[4 * (last - 1) + 3] + n_top
    cdef Py_ssize_t layer, width = 0, rows, q, lane, e, pos, s, i, j, k
    cdef Py_ssize_t n_in, n_out, w_at, b_at, a_out, n_h, n_next
    for layer in range(last):
        width += layout[4 * layer + 1]
    # Rows: parameters, velocities, every layer's outputs, every layer's deltas, lr.
    rows = 2 * size + 2 * width + 1
    cdef Py_ssize_t* a_at = <Py_ssize_t*> malloc((last + 1) * sizeof(Py_ssize_t))
    cdef double* S = <double*> malloc(rows * G * sizeof(double))
    if a_at == NULL or S == NULL:
        free(a_at)
        free(S)
        return -1
    a_at[0] = -1  # the inputs are the sample's own, the same in every lane
    a_at[1] = 2 * size
    for layer in range(1, last):
        a_at[layer + 1] = a_at[layer] + layout[4 * (layer - 1) + 1]
    cdef Py_ssize_t d_at = width  # a layer's deltas lie ``width`` rows after its outputs
    cdef Py_ssize_t lr_row = rows - 1
    cdef double* zr
    cdef double* wr
    cdef double* ar
    cdef double* dr
    cdef double* vr
    cdef double* pr
    cdef double xi, ti
    cdef const double* x
    cdef const double* t
    for lane in range(g):
        S[lr_row * G + lane] = lrs[lane]
        for q in range(size):
            S[q * G + lane] = P[lane * stride + q]
            S[(size + q) * G + lane] = V[lane * stride + q]
    for e in range(epochs):
        for pos in range(n):
            s = order[e * n + pos] if order != NULL else pos
            x = X + s * n0
            t = Y + s * n_top
            for layer in range(last):
                n_in, n_out, w_at, b_at = layout[4 * layer], layout[4 * layer + 1], \
                    layout[4 * layer + 2], layout[4 * layer + 3]
                for j in range(n_out):
                    zr = S + (a_at[layer + 1] + j) * G
                    for lane in range(g):
                        zr[lane] = 0.0
                    for i in range(n_in):
                        wr = S + (w_at + j * n_in + i) * G
                        if layer == 0:
                            xi = x[i]
                            for lane in range(g):
                                zr[lane] = zr[lane] + wr[lane] * xi
                        else:
                            ar = S + (a_at[layer] + i) * G
                            for lane in range(g):
                                zr[lane] = zr[lane] + wr[lane] * ar[lane]
                    wr = S + (b_at + j) * G
                    for lane in range(g):
                        zr[lane] = zr[lane] + wr[lane]
                _activate_lanes(acts[layer], S + a_at[layer + 1] * G, n_out, G, g, exp_build,
                                tab)
            # The output deltas (twin: _output_deltas), then each hidden layer's.
            a_out = a_at[last]
            if loss == SQUARED and acts[last - 1] == SOFTMAX:
                for lane in range(g):
                    xi = 0.0
                    for k in range(n_top):
                        ar = S + (a_out + k) * G
                        xi += (ar[lane] - t[k]) * ar[lane]
                    for k in range(n_top):
                        ar = S + (a_out + k) * G
                        S[(a_out + d_at + k) * G + lane] = ar[lane] * ((ar[lane] - t[k]) - xi)
            else:
                for k in range(n_top):
                    ar = S + (a_out + k) * G
                    dr = S + (a_out + d_at + k) * G
                    ti = t[k]
                    if loss != SQUARED:
                        for lane in range(g):
                            dr[lane] = ar[lane] - ti
                    else:
                        for lane in range(g):
                            dr[lane] = (ar[lane] - ti) * _derivative(acts[last - 1], ar[lane])
            for layer in range(last - 1, 0, -1):
                n_h, n_next, w_at = layout[4 * layer], layout[4 * layer + 1], \
                    layout[4 * layer + 2]
                for j in range(n_h):
                    zr = S + (a_at[layer] + d_at + j) * G
                    for lane in range(g):
                        zr[lane] = 0.0
                    for k in range(n_next):
                        dr = S + (a_at[layer + 1] + d_at + k) * G
                        wr = S + (w_at + k * n_h + j) * G
                        for lane in range(g):
                            zr[lane] = zr[lane] + dr[lane] * wr[lane]
                    ar = S + (a_at[layer] + j) * G
                    for lane in range(g):
                        zr[lane] = zr[lane] * _derivative(acts[layer - 1], ar[lane])
            # Every delta above used the weights from before this step; now update.
            for layer in range(last):
                n_in, n_out, w_at, b_at = layout[4 * layer], layout[4 * layer + 1], \
                    layout[4 * layer + 2], layout[4 * layer + 3]
                for j in range(n_out):
                    dr = S + (a_at[layer + 1] + d_at + j) * G
                    for i in range(n_in + 1 if train_bias else n_in):
                        q = w_at + j * n_in + i if i < n_in else b_at + j
                        pr = S + q * G
                        vr = S + (size + q) * G
                        ar = S + (a_at[layer] + i) * G if layer > 0 and i < n_in else NULL
                        xi = x[i] if layer == 0 and i < n_in else 1.0
                        _update_lanes(pr, vr, dr, ar, xi, S + lr_row * G, g, momentum)
    for lane in range(g):
        for q in range(size):
            P[lane * stride + q] = S[q * G + lane]
            V[lane * stride + q] = S[(size + q) * G + lane]
    free(a_at)
    free(S)
    return 0


cdef inline void _update_lanes(double* p, double* v, const double* d, const double* a,
                               double xi, const double* lr, Py_ssize_t g,
                               double momentum) noexcept nogil:
    """``g = 0 + d a`` (``a`` a lane's input, or the sample's ``xi`` where ``a`` is NULL),
    then ``p -= lr g``, or ``v = m v - lr g; p += v``, in every lane."""
    cdef Py_ssize_t lane
    cdef double grad
    if a != NULL and momentum == 0.0:
        for lane in range(g):
            p[lane] = p[lane] - lr[lane] * (0.0 + d[lane] * a[lane])
    elif a != NULL:
        for lane in range(g):
            grad = 0.0 + d[lane] * a[lane]
            v[lane] = momentum * v[lane] - lr[lane] * grad
            p[lane] = p[lane] + v[lane]
    elif momentum == 0.0:
        for lane in range(g):
            p[lane] = p[lane] - lr[lane] * (0.0 + d[lane] * xi)
    else:
        for lane in range(g):
            grad = 0.0 + d[lane] * xi
            v[lane] = momentum * v[lane] - lr[lane] * grad
            p[lane] = p[lane] + v[lane]
