# fastbp's float32 exp (docs/design.md), included by the float32 twins (_kernels32.pyx,
# _small32.pyx): cython_codegen.single calls it where the float64 text calls exp. Twin:
# fastbp/kernels/exp32.py.

from libc.stdint cimport uint64_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>
    /* fastbp's float32 exp (docs/design.md): float32 operations only, without fused
       multiply-adds (setup.py compiles with -ffp-contract=off). Twin: exp32.py. */
    static inline uint32_t fastbp_bits_float(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
    static inline float fastbp_float_bits(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
    static inline int fastbp_exp32_special(float x) {  /* |x| >= 87, inf or NaN */
        return (fastbp_bits_float(x) & 0x7fffffffu) >= 0x42ae0000u;
    }
    /* exp(r) = 1 + r + r^2 P(r), with r = x - n ln 2 and *n = rint(x / ln 2), which is
       (x / ln 2 + 1.5 * 2^23) - 1.5 * 2^23 (the oracle's steps) where |x / ln 2| < 2^22 */
    static inline float fastbp_exp32_reduced(float x, float* n_out) {
        float n = rintf(x * 0x1.715476p+0f);
        float r = (x - n * 0x1.63p-1f) - n * -0x1.bd0106p-13f;
        float r2 = r * r;
        float p = (0x1.a0d2cep-13f * r + 0x1.6e879cp-10f) * (r2 * r2)
                  + ((0x1.111210p-7f * r + 0x1.555382p-5f) * r2 + (0x1.555554p-3f * r + 0x1p-1f));
        *n_out = n;
        return (p * r2 + r) + 1.0f;
    }
    /* 2^n for an integer-valued n, |n| < 127: the low bits of n + 1.5 * 2^23 (exact)
       moved into the exponent's; no conversion to int, undefined for a rare input */
    static inline float fastbp_exp32_power(float n) {
        return fastbp_float_bits((fastbp_bits_float(n + 0x1.8p23f) << 23) + 0x3f800000u);
    }
    static inline float fastbp_exp32_unchecked(float x) {
        float n;
        float y = fastbp_exp32_reduced(x, &n);
        return y * fastbp_exp32_power(n);
    }
    static inline float fastbp_exp32(float x) {
        if (fastbp_exp32_special(x)) {
            if (x != x) return x;
            if (x > 0x1.62e42ep6f) return (float) INFINITY;  /* above log(2^128) */
            if (x < -0x1.9fe368p6f) return 0.0f;  /* below log(2^-150) */
            float n;
            float y = fastbp_exp32_reduced(x, &n);
            int k = (int) n;
            int half = k >= 0 ? k / 2 : -((1 - k) / 2);  /* floor(k / 2) */
            return (y * ldexpf(1.0f, half)) * ldexpf(1.0f, k - half);
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
