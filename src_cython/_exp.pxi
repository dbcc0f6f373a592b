# glibc's exp inlined (included by _kernels.pyx): the exp of loops the C compiler
# vectorises, in _train_lanes (generated into _looped.pxi) and in the batched kernels'
# activations (_squash.pxi), where glibc_exp.variant() has verified it. Twin:
# fastbp/kernels/numba/libm_exp.py. It computes in double in the float32 kernels too
# (their exp is the double exp, rounded): setup.py includes this file in both as it is.

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
