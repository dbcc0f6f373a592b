# fastbp's float32 exp (docs/design.md), included by the float32 twins (_kernels32.pyx,
# _small32.pyx): cython_codegen.single calls it where the float64 text calls exp. Twin:
# fastbp/kernels/exp32.py.

from libc.stdint cimport uint64_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>
    static inline uint64_t fastbp_bits32(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
    static inline double fastbp_double32(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
    /* fastbp's float32 exp (docs/design.md): glibc's expf (sysdeps/ieee754/flt-32/e_expf.c,
       from Arm's optimized-routines) in double, without fused multiply-adds (setup.py
       compiles with -ffp-contract=off). The table is exp32.table(). */
    static const uint64_t fastbp_exp32_table[32] = {
        0x3ff0000000000000ULL, 0x3fefd9b0d3158574ULL, 0x3fefb5586cf9890fULL, 0x3fef9301d0125b51ULL,
        0x3fef72b83c7d517bULL, 0x3fef54873168b9aaULL, 0x3fef387a6e756238ULL, 0x3fef1e9df51fdee1ULL,
        0x3fef06fe0a31b715ULL, 0x3feef1a7373aa9cbULL, 0x3feedea64c123422ULL, 0x3feece086061892dULL,
        0x3feebfdad5362a27ULL, 0x3feeb42b569d4f82ULL, 0x3feeab07dd485429ULL, 0x3feea47eb03a5585ULL,
        0x3feea09e667f3bcdULL, 0x3fee9f75e8ec5f74ULL, 0x3feea11473eb0187ULL, 0x3feea589994cce13ULL,
        0x3feeace5422aa0dbULL, 0x3feeb737b0cdc5e5ULL, 0x3feec49182a3f090ULL, 0x3feed503b23e255dULL,
        0x3feee89f995ad3adULL, 0x3feeff76f2fb5e47ULL, 0x3fef199bdd85529cULL, 0x3fef3720dcef9069ULL,
        0x3fef5818dcfba487ULL, 0x3fef7c97337b9b5fULL, 0x3fefa4afa2a490daULL, 0x3fefd0765b6e4540ULL};
    static inline uint32_t fastbp_bits_float(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
    static inline int fastbp_exp32_special(float x) {  /* |x| >= 88, inf or NaN */
        return (fastbp_bits_float(x) & 0x7fffffffu) >= 0x42b00000u;
    }
    static inline float fastbp_exp32_unchecked(float value) {
        double z = 0x1.71547652b82fep+5 * (double) value;
        double kd = z + 0x1.8p52;
        uint64_t ki = fastbp_bits32(kd);
        kd = kd - 0x1.8p52;
        double r = z - kd;
        double s = fastbp_double32(fastbp_exp32_table[ki & 31] + (ki << 47));
        double p = 0x1.c6af84b912394p-20 * r + 0x1.ebfce50fac4f3p-13;
        double r2 = r * r;
        double y = 0x1.62e42ff0c52d6p-6 * r + 1.0;
        y = p * r2 + y;
        return (float) (y * s);
    }
    static inline float fastbp_exp32(float x) {
        if (fastbp_exp32_special(x)) {
            if (x != x) return x;
            if (x > 0x1.62e42ep6f) return (float) INFINITY;  /* above log(2^128) */
            if (x < -0x1.9fe368p6f) return 0.0f;  /* below log(2^-150) */
        }
        return fastbp_exp32_unchecked(x);
    }
    /* where the float64 text inlines glibc's exp with its table: no table needed here */
    static inline float fastbp_exp32_tab(float x, const uint64_t* tab) {
        return fastbp_exp32_unchecked(x);
    }
    """
    float _exp32 "fastbp_exp32" (float x) noexcept nogil
    float _exp32_tab "fastbp_exp32_tab" (float x, const uint64_t* tab) noexcept nogil
    bint _exp32_special "fastbp_exp32_special" (float x) noexcept nogil
