# A batch's forward pass, deltas and gradient as tiled products (included by _kernels.pyx).
# Twin: fastbp/kernels/numba.batched.py, function by function. Every output element of
# a product is summed in a register from its current value, its terms in the order of the
# summation index, so the bits are the oracle's however the tiles fall. The tile itself
# is C with GCC's vector extension (multiplies and adds kept apart: -ffp-contract=off);
# other compilers get the same sums one element at a time.

cdef enum:
    MR = 6  # a register tile: rows by two vectors of columns (FASTBP_LANES below)
    NR = 64 // sizeof(double)
    KC = 256  # a cache block: terms of each sum by rows
    MC = 48
    PACK_EXTRA = (MC + MR + NR) * KC + MR * NR  # padded columns, a block of L, leftover rows
    PADDED = 3  # limits.PADDED_ROWS: leftover rows run as a tile padded with zeros
    CHUNK = 240  # samples per pass of forward, mean_loss and gradients

cdef enum:
    BATCH_FORWARD = 0
    BATCH_LOSS = 1
    BATCH_GRADIENTS = 2
    BATCH_TRAIN = 3


cdef extern from *:
    """
    /* n columns of one row, a column at a time: the portable row kernels. */
    static inline void fastbp_row_n(const double* l, Py_ssize_t lk, const double* R,
                                    Py_ssize_t rk, double* out, Py_ssize_t depth,
                                    Py_ssize_t n) {
        for (Py_ssize_t j = 0; j < n; j++) {
            double s = out[j];
            for (Py_ssize_t k = 0; k < depth; k++)
                s = s + R[k * rk + j] * l[k * lk];
            out[j] = s;
        }
    }
    /* The register tile of _batched.pxi, 6 rows by two vectors of columns (8 doubles, 16
       floats): out[i, j] += sum over k of L[i, k] R[k, j], each sum in a vector lane of
       its own, its terms in k order. Written with GCC's vector extension: twelve 32-byte
       accumulators, multiplies and adds apart (-ffp-contract=off), loads and stores
       unaligned. Twin: _tile in numba.batched.py. */
    #define FASTBP_LANES ((Py_ssize_t) (32 / sizeof(double)))
    #if defined(__GNUC__)
    typedef double fastbp_v4 __attribute__((vector_size(32), aligned(sizeof(double))));
    #define FASTBP_ROW(c, p) fastbp_v4 c##0 = *(const fastbp_v4*) (p), \
                                       c##1 = *(const fastbp_v4*) ((p) + FASTBP_LANES)
    #define FASTBP_STORE(c, p) (*(fastbp_v4*) (p) = c##0, \
                                *(fastbp_v4*) ((p) + FASTBP_LANES) = c##1)
    #define FASTBP_MULADD(c, x) (c##0 = c##0 + w0 * (x), c##1 = c##1 + w1 * (x))
    #if defined(__AVX512F__)
    /* With 512-bit vectors the same tile is 6 rows by one 64-byte vector: six
       accumulators, half the instructions (on Zen 4, 52-54 GFLOP/s in a C bench where
       two 32-byte vectors a row gave 38-52). */
    typedef double fastbp_v8 __attribute__((vector_size(64), aligned(sizeof(double))));
    #define FASTBP_AT8(p) (*(fastbp_v8*) (p))
    static inline void fastbp_tile(const double* L, Py_ssize_t lr, Py_ssize_t lk,
                                   const double* R, Py_ssize_t rk, double* out,
                                   Py_ssize_t orow, Py_ssize_t depth) {
        fastbp_v8 c0 = FASTBP_AT8(out), c1 = FASTBP_AT8(out + orow),
                  c2 = FASTBP_AT8(out + 2 * orow), c3 = FASTBP_AT8(out + 3 * orow),
                  c4 = FASTBP_AT8(out + 4 * orow), c5 = FASTBP_AT8(out + 5 * orow);
        for (Py_ssize_t k = 0; k < depth; k++) {
            const double* l = L + k * lk;
            fastbp_v8 w = *(const fastbp_v8*) (R + k * rk);
            c0 = c0 + w * l[0]; c1 = c1 + w * l[lr]; c2 = c2 + w * l[2 * lr];
            c3 = c3 + w * l[3 * lr]; c4 = c4 + w * l[4 * lr]; c5 = c5 + w * l[5 * lr];
        }
        FASTBP_AT8(out) = c0; FASTBP_AT8(out + orow) = c1; FASTBP_AT8(out + 2 * orow) = c2;
        FASTBP_AT8(out + 3 * orow) = c3; FASTBP_AT8(out + 4 * orow) = c4;
        FASTBP_AT8(out + 5 * orow) = c5;
    }
    #else
    static inline void fastbp_tile(const double* L, Py_ssize_t lr, Py_ssize_t lk,
                                   const double* R, Py_ssize_t rk, double* out,
                                   Py_ssize_t orow, Py_ssize_t depth) {
        FASTBP_ROW(c0, out); FASTBP_ROW(c1, out + orow); FASTBP_ROW(c2, out + 2 * orow);
        FASTBP_ROW(c3, out + 3 * orow); FASTBP_ROW(c4, out + 4 * orow);
        FASTBP_ROW(c5, out + 5 * orow);
        for (Py_ssize_t k = 0; k < depth; k++) {
            const double* l = L + k * lk;
            fastbp_v4 w0 = *(const fastbp_v4*) (R + k * rk);
            fastbp_v4 w1 = *(const fastbp_v4*) (R + k * rk + FASTBP_LANES);
            FASTBP_MULADD(c0, l[0]); FASTBP_MULADD(c1, l[lr]); FASTBP_MULADD(c2, l[2 * lr]);
            FASTBP_MULADD(c3, l[3 * lr]); FASTBP_MULADD(c4, l[4 * lr]);
            FASTBP_MULADD(c5, l[5 * lr]);
        }
        FASTBP_STORE(c0, out); FASTBP_STORE(c1, out + orow); FASTBP_STORE(c2, out + 2 * orow);
        FASTBP_STORE(c3, out + 3 * orow); FASTBP_STORE(c4, out + 4 * orow);
        FASTBP_STORE(c5, out + 5 * orow);
    }
    #endif
    /* Two tiles at once where the CPU has 512-bit vectors (AVX-512): 12 rows by one
       64-byte vector of columns, rows 0-5 read from L and 6-11 from L2 (two tiles'
       rows, wherever they lie), twelve accumulators. The same sums in the same order as
       two calls of fastbp_tile; a loop of half the instructions, where two 32-byte
       tiles run as fast as the decoder feeds them (on Zen 4: 38 GFLOP/s on a
       forward pass's rows read in place, 55 with this). Twin: _tile2 in
       numba.batched.py. */
    #if defined(__GNUC__) && defined(__AVX512F__)
    #define FASTBP_WIDE 1
    static inline void fastbp_tile2(const double* L, const double* L2, Py_ssize_t lr,
                                    Py_ssize_t lk, const double* R, Py_ssize_t rk,
                                    double* out, Py_ssize_t orow, Py_ssize_t depth) {
        double* o2 = out + 6 * orow;
        fastbp_v8 c0 = FASTBP_AT8(out), c1 = FASTBP_AT8(out + orow),
                  c2 = FASTBP_AT8(out + 2 * orow), c3 = FASTBP_AT8(out + 3 * orow),
                  c4 = FASTBP_AT8(out + 4 * orow), c5 = FASTBP_AT8(out + 5 * orow),
                  c6 = FASTBP_AT8(o2), c7 = FASTBP_AT8(o2 + orow),
                  c8 = FASTBP_AT8(o2 + 2 * orow), c9 = FASTBP_AT8(o2 + 3 * orow),
                  c10 = FASTBP_AT8(o2 + 4 * orow), c11 = FASTBP_AT8(o2 + 5 * orow);
        for (Py_ssize_t k = 0; k < depth; k++) {
            const double* l = L + k * lk;
            const double* m = L2 + k * lk;
            fastbp_v8 w = *(const fastbp_v8*) (R + k * rk);
            c0 = c0 + w * l[0]; c1 = c1 + w * l[lr]; c2 = c2 + w * l[2 * lr];
            c3 = c3 + w * l[3 * lr]; c4 = c4 + w * l[4 * lr]; c5 = c5 + w * l[5 * lr];
            c6 = c6 + w * m[0]; c7 = c7 + w * m[lr]; c8 = c8 + w * m[2 * lr];
            c9 = c9 + w * m[3 * lr]; c10 = c10 + w * m[4 * lr]; c11 = c11 + w * m[5 * lr];
        }
        FASTBP_AT8(out) = c0; FASTBP_AT8(out + orow) = c1; FASTBP_AT8(out + 2 * orow) = c2;
        FASTBP_AT8(out + 3 * orow) = c3; FASTBP_AT8(out + 4 * orow) = c4;
        FASTBP_AT8(out + 5 * orow) = c5; FASTBP_AT8(o2) = c6; FASTBP_AT8(o2 + orow) = c7;
        FASTBP_AT8(o2 + 2 * orow) = c8; FASTBP_AT8(o2 + 3 * orow) = c9;
        FASTBP_AT8(o2 + 4 * orow) = c10; FASTBP_AT8(o2 + 5 * orow) = c11;
    }
    #else
    #define FASTBP_WIDE 0
    static inline void fastbp_tile2(const double* L, const double* L2, Py_ssize_t lr,
                                    Py_ssize_t lk, const double* R, Py_ssize_t rk,
                                    double* out, Py_ssize_t orow, Py_ssize_t depth) {
        fastbp_tile(L, lr, lk, R, rk, out, orow, depth);
        fastbp_tile(L2, lr, lk, R, rk, out + 6 * orow, orow, depth);
    }
    #endif
    /* Six rows by one vector of columns, what the tiles leave of a narrow layer (10
       outputs in float32). Twin: _strip in numba.batched.py. */
    #define FASTBP_AT(p) (*(fastbp_v4*) (p))
    static inline void fastbp_strip(const double* L, Py_ssize_t lr, Py_ssize_t lk,
                                    const double* R, Py_ssize_t rk, double* out,
                                    Py_ssize_t orow, Py_ssize_t depth) {
        fastbp_v4 c0 = FASTBP_AT(out), c1 = FASTBP_AT(out + orow),
                  c2 = FASTBP_AT(out + 2 * orow), c3 = FASTBP_AT(out + 3 * orow),
                  c4 = FASTBP_AT(out + 4 * orow), c5 = FASTBP_AT(out + 5 * orow);
        for (Py_ssize_t k = 0; k < depth; k++) {
            const double* l = L + k * lk;
            fastbp_v4 w = *(const fastbp_v4*) (R + k * rk);
            c0 = c0 + w * l[0]; c1 = c1 + w * l[lr]; c2 = c2 + w * l[2 * lr];
            c3 = c3 + w * l[3 * lr]; c4 = c4 + w * l[4 * lr]; c5 = c5 + w * l[5 * lr];
        }
        FASTBP_AT(out) = c0; FASTBP_AT(out + orow) = c1; FASTBP_AT(out + 2 * orow) = c2;
        FASTBP_AT(out + 3 * orow) = c3; FASTBP_AT(out + 4 * orow) = c4;
        FASTBP_AT(out + 5 * orow) = c5;
    }
    /* One row by six vectors of columns (24 doubles, 48 floats): a batch of one sample's
       sums, six in flight (one vector's wait for each add). Twin: _row24 in
       numba.batched.py. */
    static inline void fastbp_row24(const double* l, Py_ssize_t lk, const double* R,
                                    Py_ssize_t rk, double* out, Py_ssize_t depth) {
        const Py_ssize_t v = FASTBP_LANES;
        fastbp_v4 c0 = FASTBP_AT(out), c1 = FASTBP_AT(out + v), c2 = FASTBP_AT(out + 2 * v),
                  c3 = FASTBP_AT(out + 3 * v), c4 = FASTBP_AT(out + 4 * v),
                  c5 = FASTBP_AT(out + 5 * v);
        for (Py_ssize_t k = 0; k < depth; k++) {
            const double* r = R + k * rk;
            double x = l[k * lk];
            c0 = c0 + FASTBP_AT(r) * x; c1 = c1 + FASTBP_AT(r + v) * x;
            c2 = c2 + FASTBP_AT(r + 2 * v) * x; c3 = c3 + FASTBP_AT(r + 3 * v) * x;
            c4 = c4 + FASTBP_AT(r + 4 * v) * x; c5 = c5 + FASTBP_AT(r + 5 * v) * x;
        }
        FASTBP_AT(out) = c0; FASTBP_AT(out + v) = c1; FASTBP_AT(out + 2 * v) = c2;
        FASTBP_AT(out + 3 * v) = c3; FASTBP_AT(out + 4 * v) = c4; FASTBP_AT(out + 5 * v) = c5;
    }
    /* One row by eight vectors of columns (32 doubles, 64 floats), eight sums in flight.
       Twin: _row32 in numba.batched.py. */
    static inline void fastbp_row32(const double* l, Py_ssize_t lk, const double* R,
                                    Py_ssize_t rk, double* out, Py_ssize_t depth) {
        const Py_ssize_t v = FASTBP_LANES;
        fastbp_v4 c0 = FASTBP_AT(out), c1 = FASTBP_AT(out + v), c2 = FASTBP_AT(out + 2 * v),
                  c3 = FASTBP_AT(out + 3 * v), c4 = FASTBP_AT(out + 4 * v),
                  c5 = FASTBP_AT(out + 5 * v), c6 = FASTBP_AT(out + 6 * v),
                  c7 = FASTBP_AT(out + 7 * v);
        for (Py_ssize_t k = 0; k < depth; k++) {
            const double* r = R + k * rk;
            double x = l[k * lk];
            c0 = c0 + FASTBP_AT(r) * x; c1 = c1 + FASTBP_AT(r + v) * x;
            c2 = c2 + FASTBP_AT(r + 2 * v) * x; c3 = c3 + FASTBP_AT(r + 3 * v) * x;
            c4 = c4 + FASTBP_AT(r + 4 * v) * x; c5 = c5 + FASTBP_AT(r + 5 * v) * x;
            c6 = c6 + FASTBP_AT(r + 6 * v) * x; c7 = c7 + FASTBP_AT(r + 7 * v) * x;
        }
        FASTBP_AT(out) = c0; FASTBP_AT(out + v) = c1; FASTBP_AT(out + 2 * v) = c2;
        FASTBP_AT(out + 3 * v) = c3; FASTBP_AT(out + 4 * v) = c4; FASTBP_AT(out + 5 * v) = c5;
        FASTBP_AT(out + 6 * v) = c6; FASTBP_AT(out + 7 * v) = c7;
    }
    /* One row by four vectors of columns (16 doubles, 32 floats). Twin: _row16 in
       numba.batched.py. */
    static inline void fastbp_row16(const double* l, Py_ssize_t lk, const double* R,
                                    Py_ssize_t rk, double* out, Py_ssize_t depth) {
        const Py_ssize_t v = FASTBP_LANES;
        fastbp_v4 c0 = FASTBP_AT(out), c1 = FASTBP_AT(out + v), c2 = FASTBP_AT(out + 2 * v),
                  c3 = FASTBP_AT(out + 3 * v);
        for (Py_ssize_t k = 0; k < depth; k++) {
            const double* r = R + k * rk;
            double x = l[k * lk];
            c0 = c0 + FASTBP_AT(r) * x; c1 = c1 + FASTBP_AT(r + v) * x;
            c2 = c2 + FASTBP_AT(r + 2 * v) * x; c3 = c3 + FASTBP_AT(r + 3 * v) * x;
        }
        FASTBP_AT(out) = c0; FASTBP_AT(out + v) = c1; FASTBP_AT(out + 2 * v) = c2;
        FASTBP_AT(out + 3 * v) = c3;
    }
    /* One row's last n columns, fewer than four vectors of them, in one pass: four
       vectors, the lanes past n masked off (not read, not stored): one pass takes the
       time of one vector's, where a vector and two lone columns had taken two. AVX's
       masked moves (by lane width: one text for double and float); without AVX, a
       column at a time. Twin: _row_rest in numba.batched.py. */
    #if defined(__AVX__)
    #include <immintrin.h>
    static inline fastbp_v4 fastbp_lane_index(void) {
        fastbp_v4 at;
        for (int i = 0; i < FASTBP_LANES; i++) at[i] = i;
        return at;
    }
    #define FASTBP_MASK(n) (fastbp_lane_index() < (double) (n))
    typedef __typeof__(FASTBP_MASK(0)) fastbp_mask;
    static inline fastbp_v4 fastbp_mload(const double* p, fastbp_mask m) {
        return sizeof(double) == 8
            ? (fastbp_v4) _mm256_maskload_pd((const void*) p, (__m256i) m)
            : (fastbp_v4) _mm256_maskload_ps((const void*) p, (__m256i) m);
    }
    static inline void fastbp_mstore(double* p, fastbp_mask m, fastbp_v4 c) {
        if (sizeof(double) == 8)
            _mm256_maskstore_pd((void*) p, (__m256i) m, (__m256d) c);
        else
            _mm256_maskstore_ps((void*) p, (__m256i) m, (__m256) c);
    }
    static inline void fastbp_row_rest(const double* l, Py_ssize_t lk, const double* R,
                                       Py_ssize_t rk, double* out, Py_ssize_t depth,
                                       Py_ssize_t n) {
        const Py_ssize_t v = FASTBP_LANES;
        fastbp_mask m0 = FASTBP_MASK(n), m1 = FASTBP_MASK(n - v),
                    m2 = FASTBP_MASK(n - 2 * v), m3 = FASTBP_MASK(n - 3 * v);
        fastbp_v4 c0 = fastbp_mload(out, m0), c1 = fastbp_mload(out + v, m1),
                  c2 = fastbp_mload(out + 2 * v, m2), c3 = fastbp_mload(out + 3 * v, m3);
        for (Py_ssize_t k = 0; k < depth; k++) {
            const double* r = R + k * rk;
            double x = l[k * lk];
            c0 = c0 + fastbp_mload(r, m0) * x; c1 = c1 + fastbp_mload(r + v, m1) * x;
            c2 = c2 + fastbp_mload(r + 2 * v, m2) * x;
            c3 = c3 + fastbp_mload(r + 3 * v, m3) * x;
        }
        fastbp_mstore(out, m0, c0); fastbp_mstore(out + v, m1, c1);
        fastbp_mstore(out + 2 * v, m2, c2); fastbp_mstore(out + 3 * v, m3, c3);
    }
    #else
    static inline void fastbp_row_rest(const double* l, Py_ssize_t lk, const double* R,
                                       Py_ssize_t rk, double* out, Py_ssize_t depth,
                                       Py_ssize_t n) {
        fastbp_row_n(l, lk, R, rk, out, depth, n);
    }
    #endif
    #else
    static inline void fastbp_tile(const double* L, Py_ssize_t lr, Py_ssize_t lk,
                                   const double* R, Py_ssize_t rk, double* out,
                                   Py_ssize_t orow, Py_ssize_t depth) {
        for (Py_ssize_t i = 0; i < 6; i++)
            for (Py_ssize_t j = 0; j < 2 * FASTBP_LANES; j++) {
                double s = out[i * orow + j];
                for (Py_ssize_t k = 0; k < depth; k++)
                    s = s + R[k * rk + j] * L[i * lr + k * lk];
                out[i * orow + j] = s;
            }
    }
    static inline void fastbp_strip(const double* L, Py_ssize_t lr, Py_ssize_t lk,
                                    const double* R, Py_ssize_t rk, double* out,
                                    Py_ssize_t orow, Py_ssize_t depth) {
        for (Py_ssize_t i = 0; i < 6; i++)
            for (Py_ssize_t j = 0; j < FASTBP_LANES; j++) {
                double s = out[i * orow + j];
                for (Py_ssize_t k = 0; k < depth; k++)
                    s = s + R[k * rk + j] * L[i * lr + k * lk];
                out[i * orow + j] = s;
            }
    }
    static inline void fastbp_row_rest(const double* l, Py_ssize_t lk, const double* R,
                                       Py_ssize_t rk, double* out, Py_ssize_t depth,
                                       Py_ssize_t n) {
        fastbp_row_n(l, lk, R, rk, out, depth, n);
    }
    static inline void fastbp_row24(const double* l, Py_ssize_t lk, const double* R,
                                    Py_ssize_t rk, double* out, Py_ssize_t depth) {
        fastbp_row_n(l, lk, R, rk, out, depth, 6 * FASTBP_LANES);
    }
    static inline void fastbp_row32(const double* l, Py_ssize_t lk, const double* R,
                                    Py_ssize_t rk, double* out, Py_ssize_t depth) {
        fastbp_row_n(l, lk, R, rk, out, depth, 8 * FASTBP_LANES);
    }
    static inline void fastbp_row16(const double* l, Py_ssize_t lk, const double* R,
                                    Py_ssize_t rk, double* out, Py_ssize_t depth) {
        fastbp_row_n(l, lk, R, rk, out, depth, 4 * FASTBP_LANES);
    }
    #endif
    """
    void _tile "fastbp_tile" (const double* L, Py_ssize_t lr, Py_ssize_t lk, const double* R,
                              Py_ssize_t rk, double* out, Py_ssize_t orow,
                              Py_ssize_t depth) noexcept nogil
    void _tile2 "fastbp_tile2" (const double* L, const double* L2, Py_ssize_t lr,
                                Py_ssize_t lk, const double* R, Py_ssize_t rk, double* out,
                                Py_ssize_t orow, Py_ssize_t depth) noexcept nogil
    bint _WIDE "FASTBP_WIDE"
    void _strip "fastbp_strip" (const double* L, Py_ssize_t lr, Py_ssize_t lk,
                                const double* R, Py_ssize_t rk, double* out, Py_ssize_t orow,
                                Py_ssize_t depth) noexcept nogil
    void _row24 "fastbp_row24" (const double* l, Py_ssize_t lk, const double* R, Py_ssize_t rk,
                                double* out, Py_ssize_t depth) noexcept nogil
    void _row32 "fastbp_row32" (const double* l, Py_ssize_t lk, const double* R, Py_ssize_t rk,
                                double* out, Py_ssize_t depth) noexcept nogil
    void _row16 "fastbp_row16" (const double* l, Py_ssize_t lk, const double* R, Py_ssize_t rk,
                                double* out, Py_ssize_t depth) noexcept nogil
    void _row_rest "fastbp_row_rest" (const double* l, Py_ssize_t lk, const double* R,
                                      Py_ssize_t rk, double* out, Py_ssize_t depth,
                                      Py_ssize_t n) noexcept nogil


cdef extern from *:
    """
    /* Wait for every thread of the enclosing OpenMP parallel region (twin: numba.sync's
       barrier); nothing to wait for in one thread or without OpenMP. */
    static inline void fastbp_barrier(int parts) {
    #ifdef _OPENMP
        if (parts > 1) {
            _Pragma("omp barrier")
        }
    #endif
    }
    """
    void _barrier "fastbp_barrier" (int parts) noexcept nogil


cdef inline void _share(Py_ssize_t total, int part, int parts, Py_ssize_t unit,
                        Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """``part``'s range of ``0..total`` in whole ``unit``s (twin: numba.sync's ``share``)."""
    cdef Py_ssize_t units = (total + unit - 1) // unit
    lo[0] = min(units * part // parts * unit, total)
    hi[0] = min(units * (part + 1) // parts * unit, total)


cdef inline void _block(const double* L, Py_ssize_t lr, Py_ssize_t lk, const double* R,
                        Py_ssize_t rk, double* out, Py_ssize_t orow, Py_ssize_t rows,
                        Py_ssize_t cols, Py_ssize_t depth, bint tiles) noexcept nogil:
    """One block of ``_product``: its whole tiles where ``tiles`` (else the caller ran them
    on copies); its leftover rows one by one, every column (four tiles wide, then what is
    left: 3 or 2 tiles, then fewer than four vectors in one pass, ``_row_rest``), where
    ``tiles`` or where they are fewer than ``PADDED`` (else the caller ran them as a padded
    tile); then the leftover columns of the other rows."""
    cdef Py_ssize_t i, j = 0, jj, k, whole = rows - rows % MR, tiled = cols - cols % NR
    cdef Py_ssize_t alone
    cdef double c[NR]
    cdef double x, s, s0, s1, s2, s3, w
    cdef const double* r
    cdef const double* l
    cdef double* o
    if tiles:
        while j < tiled:
            i = 0
            while i + MR <= rows:
                _tile(L + i * lr, lr, lk, R + j, rk, out + i * orow + j, orow, depth)
                i += MR
            j += NR
    # leftover rows one at a time (those of a padded tile are done), every column: a
    # row's sums each wait for their last add (a batch of one), so the columns after its
    # 8, 6 or 4 vectors go in one pass of four vectors, masked
    alone = whole if tiles or rows - whole < PADDED else rows
    for i in range(alone, rows):
        j = 0
        while j + 4 * NR <= cols:
            _row32(L + i * lr, lk, R + j, rk, out + i * orow + j, depth)
            j += 4 * NR
        if cols - j >= 3 * NR:
            _row24(L + i * lr, lk, R + j, rk, out + i * orow + j, depth)
            j += 3 * NR
        elif cols - j >= 2 * NR:
            _row16(L + i * lr, lk, R + j, rk, out + i * orow + j, depth)
            j += 2 * NR
        if j < cols:
            _row_rest(L + i * lr, lk, R + j, rk, out + i * orow + j, depth, cols - j)
    rows = alone  # the columns short of a tile of the rows whose tiles ran elsewhere
    j = tiled
    if cols - j >= NR // 2:  # a vector of leftover columns: six rows at a time, then one
        i = 0
        while i + MR <= rows:
            _strip(L + i * lr, lr, lk, R + j, rk, out + i * orow + j, orow, depth)
            i += MR
        while i < rows:
            for jj in range(NR // 2):
                c[jj] = out[i * orow + j + jj]
            for k in range(depth):
                x = L[i * lr + k * lk]
                r = R + k * rk + j
                for jj in range(NR // 2):
                    c[jj] = c[jj] + r[jj] * x
            for jj in range(NR // 2):
                out[i * orow + j + jj] = c[jj]
            i += 1
        j += NR // 2
    for jj in range(j, cols):  # leftover columns: four rows at a time
        i = 0
        while i + 4 <= rows:
            o = out + i * orow + jj
            l = L + i * lr
            s0, s1, s2, s3 = o[0], o[orow], o[2 * orow], o[3 * orow]
            for k in range(depth):
                w = R[k * rk + jj]
                s0 = s0 + w * l[k * lk]
                s1 = s1 + w * l[lr + k * lk]
                s2 = s2 + w * l[2 * lr + k * lk]
                s3 = s3 + w * l[3 * lr + k * lk]
            o[0], o[orow], o[2 * orow], o[3 * orow] = s0, s1, s2, s3
            i += 4
    for i in range(rows - rows % 4, rows):  # the rows left, two columns at a time
        jj = j
        while jj + 2 <= cols:
            o = out + i * orow + jj
            s0, s1 = o[0], o[1]
            for k in range(depth):
                x = L[i * lr + k * lk]
                s0 = s0 + R[k * rk + jj] * x
                s1 = s1 + R[k * rk + jj + 1] * x
            o[0], o[1] = s0, s1
            jj += 2
        if jj < cols:
            s = out[i * orow + jj]
            for k in range(depth):
                s = s + R[k * rk + jj] * L[i * lr + k * lk]
            out[i * orow + jj] = s


cdef inline bint _pads(Py_ssize_t left) noexcept nogil:
    """Do a product's ``left`` columns short of a tile run as a tile padded with zero
    columns? Where a vector and single columns would take longer (twin: ``_pads``)."""
    return left >= 2 and left != NR // 2


cdef void _padded_columns(const double* L, Py_ssize_t lr, Py_ssize_t lk, const double* panel,
                          double* out, Py_ssize_t orow, Py_ssize_t rows, Py_ssize_t left,
                          Py_ssize_t depth, const double* lp, double* lq) noexcept nogil:
    """One block's ``left`` columns short of a tile, every row of it, as tiles padded with
    zero columns, from ``R``'s columns packed in ``panel``; sums copied to ``lq + MR KC``
    and back, a last tile's rows read from ``lq``, padded with zero rows (twin:
    ``_padded_columns``)."""
    cdef double* oq = lq + MR * KC
    cdef Py_ssize_t i, ii, jj, k, n, whole = rows - rows % MR
    i = 0
    while i < rows:
        n = MR if rows - i > MR else rows - i
        if n < MR:
            for k in range(depth):
                for ii in range(MR):
                    lq[k * MR + ii] = L[(i + ii) * lr + k * lk] if ii < n else 0.0
        for ii in range(MR):
            for jj in range(NR):
                oq[ii * NR + jj] = out[(i + ii) * orow + jj] if ii < n and jj < left else 0.0
        if i >= whole:
            _tile(lq, 1, MR, panel, NR, oq, NR, depth)
        elif lr == 1:
            _tile(lp + i * depth, 1, MR, panel, NR, oq, NR, depth)
        else:
            _tile(L + i * lr, lr, lk, panel, NR, oq, NR, depth)
        for ii in range(n):
            for jj in range(left):
                out[(i + ii) * orow + jj] = oq[ii * NR + jj]
        i += MR


cdef void _product(const double* L, Py_ssize_t lr, Py_ssize_t lk, const double* R,
                   Py_ssize_t rk, double* out, Py_ssize_t orow, Py_ssize_t rows,
                   Py_ssize_t cols, Py_ssize_t depth, double* pack) noexcept nogil:
    """``out[i, j] += Σ_k L[i, k] R[k, j]``, each sum continued in ``k`` order, with
    ``L[i, k] = L[i lr + k lk]``, ``R[k, j] = R[k rk + j]``, ``out[i, j] = out[i orow + j]``
    (twin: ``product``), in blocks of ``KC`` terms by ``MC`` rows. The tiles read ``R``'s
    block packed into ``pack`` (``PACK_EXTRA + KC * cols`` values) panel by panel, and
    ``L`` in place, except where its rows are adjacent (``lr`` 1: a gradient's
    activations), whose block is packed tile by tile. A block's last rows short of a tile,
    ``PADDED`` or more, run as one on copies padded with rows of zeros (whose sums are
    dropped); fewer go one by one (a batch of one sample: online training). The columns
    short of a tile run as one more panel padded with zero columns where ``_pads`` says
    so (``_padded_columns``), the rest in ``_block``. With
    ``pack`` NULL the tiles read everything in place, and leftover rows go one by one."""
    cdef Py_ssize_t k0, i0, kd, md, i, j, k, whole, ii, jj
    cdef Py_ssize_t tiled = cols - cols % NR
    cdef bint pair, padded = pack != NULL and rows >= MR and _pads(cols - tiled)
    cdef double* lp = pack + KC * (tiled + NR) if pack != NULL else NULL
    cdef double* lq = lp + MC * KC if pack != NULL else NULL  # leftover rows: lq[k MR + ii]
    cdef double* oq = lq + MR * KC if pack != NULL else NULL  # their sums: oq[ii NR + jj]
    k0 = 0
    while k0 < depth:
        kd = KC if depth - k0 > KC else depth - k0
        if pack != NULL and rows >= MR:  # R's block, panel by panel: pack[j kd + k NR + jj]
            j = 0
            while j < tiled:
                for k in range(kd):
                    memcpy(pack + j * kd + k * NR, R + (k0 + k) * rk + j, NR * sizeof(double))
                j += NR
        if padded:  # and the columns short of a tile, padded with zeros, as one more
            for k in range(kd):
                for jj in range(NR):
                    pack[tiled * kd + k * NR + jj] = R[(k0 + k) * rk + tiled + jj] \
                        if tiled + jj < cols else 0.0
        i0 = 0
        while i0 < rows:
            md = MC if rows - i0 > MC else rows - i0
            if pack != NULL:
                whole = md - md % MR
                if lr == 1:  # L's block, tile by tile: lp[i kd + k MR + ii]
                    i = 0
                    while i < whole:
                        for k in range(kd):
                            memcpy(lp + i * kd + k * MR, L + i0 + i + (k0 + k) * lk,
                                   MR * sizeof(double))
                        i += MR
                i = 0
                while i < whole:  # a row of tiles at a time: its rows of L stay in cache
                    pair = _WIDE and i + 2 * MR <= whole  # two at once: _tile2
                    j = 0
                    while j < tiled:
                        if lr == 1 and pair:
                            _tile2(lp + i * kd, lp + (i + MR) * kd, 1, MR, pack + j * kd, NR,
                                   out + (i0 + i) * orow + j, orow, kd)
                        elif lr == 1:
                            _tile(lp + i * kd, 1, MR, pack + j * kd, NR,
                                  out + (i0 + i) * orow + j, orow, kd)
                        elif pair:
                            _tile2(L + (i0 + i) * lr + k0 * lk, L + (i0 + i + MR) * lr + k0 * lk,
                                   lr, lk, pack + j * kd, NR, out + (i0 + i) * orow + j, orow,
                                   kd)
                        else:
                            _tile(L + (i0 + i) * lr + k0 * lk, lr, lk, pack + j * kd, NR,
                                  out + (i0 + i) * orow + j, orow, kd)
                        j += NR
                    i += 2 * MR if pair else MR
                if md - whole >= PADDED and tiled > 0:
                    for k in range(kd):
                        for ii in range(MR):
                            lq[k * MR + ii] = L[(i0 + whole + ii) * lr + (k0 + k) * lk] \
                                if whole + ii < md else 0.0
                    j = 0
                    while j < tiled:
                        for ii in range(MR):
                            for jj in range(NR):
                                oq[ii * NR + jj] = out[(i0 + whole + ii) * orow + j + jj] \
                                    if whole + ii < md else 0.0
                        if rows >= MR:
                            _tile(lq, 1, MR, pack + j * kd, NR, oq, NR, kd)
                        else:
                            _tile(lq, 1, MR, R + k0 * rk + j, rk, oq, NR, kd)
                        for ii in range(md - whole):
                            for jj in range(NR):
                                out[(i0 + whole + ii) * orow + j + jj] = oq[ii * NR + jj]
                        j += NR
            if padded:
                _padded_columns(L + i0 * lr + k0 * lk, lr, lk, pack + tiled * kd,
                                out + i0 * orow + tiled, orow, md, cols - tiled, kd, lp, lq)
            _block(L + i0 * lr + k0 * lk, lr, lk, R + k0 * rk, rk, out + i0 * orow, orow, md,
                   tiled if padded else cols, kd, pack == NULL)
            i0 += MC
        k0 += KC


cdef double _squares(const double* work, const int64_t* layout,
                     Py_ssize_t last) noexcept nogil:
    """The sum of the squared weights, from 0, layer by layer, each ``W`` row-major in the
    network's layout (``work`` holds it transposed; twin: ``_squares``)."""
    cdef Py_ssize_t layer, i, j, n_in, n_out, w_at
    cdef double total = 0.0
    for layer in range(last):
        n_in, n_out, w_at = layout[4 * layer], layout[4 * layer + 1], layout[4 * layer + 2]
        for j in range(n_out):
            for i in range(n_in):
                total += work[w_at + i * n_out + j] * work[w_at + i * n_out + j]
    return total


cdef void _step_sample(double* work, double* orig, const int64_t* layout, Py_ssize_t last,
                       const double* a, const double* d, const Py_ssize_t* at, double lr,
                       const double* opt, double decay, double* vel, Py_ssize_t P,
                       bint train_bias, bint refresh, double sw) noexcept nogil:
    """One sample's gradient ``(0 + δ a) / 1`` (``(0 + δ a + decay w) / 1`` for a weight
    where ``decay`` is not 0) applied as it is computed, row by row of each transposed
    ``W`` (``_update_rows``: one call a layer), then the biases (``_update_row``); ``orig``
    brought up to date where later batches read it (``refresh``). Layer ``l``'s outputs
    are ``a + at[l]``, its deltas ``d + at[l]`` (twin: ``_step_sample``)."""
    cdef Py_ssize_t layer, n_in, n_out, w_at, b_at
    for layer in range(last):
        n_in, n_out, w_at, b_at = layout[4 * layer], layout[4 * layer + 1], \
            layout[4 * layer + 2], layout[4 * layer + 3]
        _update_rows(work, vel, vel + P, d, at[layer + 1], w_at, n_in, n_out, a, at[layer],
                     lr, opt, decay, sw)
        if train_bias:
            _update_row(work, vel, vel + P, d, at[layer + 1], b_at, n_out, 1.0, lr, opt, 0.0, sw)
        if refresh and layer > 0:
            _refresh(orig, work, w_at, n_in, n_out, 0, n_in)


cdef void _sample_deltas(const double* work, double* d, const double* a, Py_ssize_t h,
                         Py_ssize_t n_h, Py_ssize_t nxt, Py_ssize_t n_next, Py_ssize_t w_at,
                         int64_t code) noexcept nogil:
    """One sample's hidden deltas ``d[h + j] = (Σ_k δ_k W[k, j]) f'(a[h + j])``, the sum
    over the next layer's neurons in order, ``W[k, j]`` read from the transposed copy, so
    that online training need not keep ``orig`` (twin: ``_sample_deltas``). Four sums at a
    time: one alone waits for each add before the next."""
    cdef Py_ssize_t j = 0, jj, k
    cdef const double* w0
    cdef double x, s0, s1, s2, s3, total
    while j + 4 <= n_h:
        w0 = work + w_at + j * n_next
        s0 = s1 = s2 = s3 = 0.0
        for k in range(n_next):
            x = d[nxt + k]
            s0 = s0 + x * w0[k]
            s1 = s1 + x * w0[n_next + k]
            s2 = s2 + x * w0[2 * n_next + k]
            s3 = s3 + x * w0[3 * n_next + k]
        d[h + j] = s0 * _derivative(code, a[h + j])
        d[h + j + 1] = s1 * _derivative(code, a[h + j + 1])
        d[h + j + 2] = s2 * _derivative(code, a[h + j + 2])
        d[h + j + 3] = s3 * _derivative(code, a[h + j + 3])
        j += 4
    for jj in range(j, n_h):
        w0 = work + w_at + jj * n_next
        total = 0.0
        for k in range(n_next):
            total = total + d[nxt + k] * w0[k]
        d[h + jj] = total * _derivative(code, a[h + jj])


cdef inline void _refresh(double* orig, const double* work, Py_ssize_t w_at, Py_ssize_t n_in,
                          Py_ssize_t n_out, Py_ssize_t i0, Py_ssize_t i1) noexcept nogil:
    """Rows ``i0..i1`` of a transposed ``W`` at ``work + w_at`` copied into ``orig``, in
    the network's layout, where the deltas read them (twin: ``_refresh``)."""
    cdef Py_ssize_t i, j
    for i in range(i0, i1):
        for j in range(n_out):
            orig[w_at + j * n_in + i] = work[w_at + i * n_out + j]


cdef void _step(double* work, double* orig, const int64_t* layout, Py_ssize_t last,
                const double* grad, double size, double lr, const double* opt, double decay,
                double* vel, Py_ssize_t P, bint train_bias, int part, int parts) noexcept nogil:
    """Apply the summed gradient divided by ``size`` to this thread's rows of each ``W``
    and share of the biases, and copy those rows into ``orig`` (twin: ``_step``)."""
    cdef Py_ssize_t layer, n_in, n_out, w_at, b_at, i0, i1, j0 = 0, j1 = 0
    for layer in range(last):
        n_in, n_out, w_at, b_at = layout[4 * layer], layout[4 * layer + 1], \
            layout[4 * layer + 2], layout[4 * layer + 3]
        _share(n_in, part, parts, 1, &i0, &i1)
        if train_bias:
            _share(n_out, part, parts, 1, &j0, &j1)
        _update_range(work, grad, vel, vel + P, w_at + i0 * n_out, w_at + i1 * n_out, size, lr,
                      opt, decay)
        _update_range(work, grad, vel, vel + P, b_at + j0, b_at + j1, size, lr, opt, 0.0)
        if layer > 0:
            _refresh(orig, work, w_at, n_in, n_out, i0, i1)


cdef double _run_batches(int task, double* work, double* orig, const int64_t* layout,
                         Py_ssize_t last, const int64_t* acts, int loss, const double* X,
                         const double* Y, Py_ssize_t n, Py_ssize_t epochs,
                         const int64_t* order, double lr, Py_ssize_t batch_size,
                         const double* opt, double decay, double* vel, bint train_bias,
                         const Py_ssize_t* at,
                         double* a, double* d, double* grad, double* out, int exp_build,
                         const uint64_t* tab, int part, int parts,
                         const double* SW, double* R) noexcept nogil:
    """Run ``task`` ``batch_size`` samples at a time, as thread ``part`` of the ``parts`` of
    an OpenMP parallel region (twin: numba.batched's ``run``, which says how the work is
    shared).

    ``work`` holds the parameters with every ``W`` transposed, ``orig`` the same values in
    the network's layout (the layers after the first are read, and kept equal to
    ``work``). Layer ``l`` of a chunk's activations ``a`` and deltas ``d`` is a
    ``(rows, width)`` block at ``rows * at[l]``, ``rows`` at most ``CHUNK``. FORWARD writes the outputs into ``out``
    (n rows); GRADIENTS adds the summed gradient to ``grad``, working layout; TRAIN
    updates ``work``, ``orig`` and ``vel`` (the optimizer's state, working layout; Adam's
    scalars advance in each thread's own copy, stored by part 0 at the end). Returns the
    mean loss for LOSS and GRADIENTS (in part 0), else 0. ``SW`` holds each sample's
    weight (NULL: none; see numba.batched's ``run``); TRAIN reports each epoch's losses
    into ``R[2 * epoch]`` and ``R[2 * epoch + 1]`` (NULL: none; see ``run``).
    """
    cdef Py_ssize_t n0 = layout[0], n_top = layout[4 * (last - 1) + 1]
    cdef Py_ssize_t epoch, start, rows, r, s, i, j, q, layer, z, h, top, n_in, n_out, w_at
    cdef Py_ssize_t b_at, n_h, n_next, r0, r1, j0, j1, i0, i1, size, first
    cdef int64_t code
    cdef bint training = task == BATCH_TRAIN
    cdef double total = 0.0, e, divisor, count = 0.0
    cdef bint weighted = SW != NULL
    cdef bint report = task == BATCH_TRAIN and R != NULL and part == 0
    cdef const double* inputs = a  # the chunk's first layer: X itself, or a copy in a
    cdef double rep0 = 0.0, rep1 = 0.0, bdata = 0.0, squares = 0.0
    cdef Py_ssize_t widest = n0
    for layer in range(last):
        widest = max(widest, layout[4 * layer + 1])
    # This thread's scratch for packed copies; without it the tiles read in place.
    cdef double* pack = _alloc((KC * widest + PACK_EXTRA) * sizeof(double))
    cdef Py_ssize_t P = layout[4 * (last - 1) + 3] + n_top
    cdef bint adam = training and opt[2] != 0.0
    cdef double tail[3]
    cdef double rate = lr
    if adam:
        memcpy(tail, vel + 2 * P, 3 * sizeof(double))
    for epoch in range(epochs if training else 1):
        start = 0
        rep0 = rep1 = 0.0
        while start < n:
            size = batch_size if n - start > batch_size else n - start
            if adam:
                rate = _adam_step(tail, 0, lr, opt)
            divisor = <double> size  # the batch's weight: its samples' weights in order
            if weighted and training:
                divisor = 0.0
                for r in range(size):
                    divisor = divisor + SW[order[epoch * n + start + r] if order != NULL
                                           else start + r]
            bdata = squares = 0.0
            if report and decay != 0.0:
                squares = _squares(work, layout, last)
            first = start
            while first < start + size:  # CHUNK samples at a time (see numba.batched)
                rows = CHUNK if start + size - first > CHUNK else start + size - first
                # This thread's samples, whole tiles of them: every phase up to the
                # gradient reads and writes only its own rows, without waiting
                _share(rows, part, parts, MR, &r0, &r1)
                # The chunk's samples lie in order in X: read them there (but for one
                # sample, whose update reads its inputs from a)
                if (order == NULL or not training) and rows > 1:
                    inputs = X + first * n0
                else:
                    for r in range(r0, r1):
                        s = order[epoch * n + first + r] if training and order != NULL \
                            else first + r
                        for i in range(n0):
                            a[r * n0 + i] = X[s * n0 + i]
                    inputs = a
                for layer in range(last):
                    n_in, n_out, w_at, b_at = layout[4 * layer], layout[4 * layer + 1], \
                        layout[4 * layer + 2], layout[4 * layer + 3]
                    z = rows * at[layer + 1]
                    for q in range(z + r0 * n_out, z + r1 * n_out):
                        a[q] = 0.0
                    _product((a + rows * at[layer] if layer > 0 else inputs) + r0 * n_in, n_in,
                             1, work + w_at, n_out, a + z + r0 * n_out, n_out, r1 - r0, n_out,
                             n_in, pack)
                    for r in range(r0, r1):
                        for j in range(n_out):
                            a[z + r * n_out + j] = a[z + r * n_out + j] + work[b_at + j]
                        _squash(acts[layer], a + z + r * n_out, n_out, exp_build, tab)
                top = rows * at[last]
                if task == BATCH_FORWARD:
                    for r in range(r0, r1):
                        for j in range(n_top):
                            out[(first + r) * n_top + j] = a[top + r * n_top + j]
                    # A shorter last chunk lays its layers out anew, over other rows.
                    _barrier(parts)
                    first += rows
                    continue
                if task == BATCH_LOSS:
                    for r in range(r0, r1):
                        d[r] = _sample_loss(loss, acts[last - 1], a + top + r * n_top,
                                            Y + (first + r) * n_top, n_top)
                    _barrier(parts)
                    if part == 0:
                        for r in range(rows):
                            total += d[r] * SW[first + r] if weighted else d[r]
                            count += SW[first + r] if weighted else 1.0
                    _barrier(parts)  # before the next chunk's losses overwrite d
                    first += rows
                    continue
                for r in range(r0, r1):
                    s = order[epoch * n + first + r] if training and order != NULL \
                        else first + r
                    _output_deltas(loss, acts[last - 1], a + top + r * n_top, Y + s * n_top,
                                   d + top + r * n_top, n_top)
                    if weighted:
                        for j in range(n_top):
                            d[top + r * n_top + j] = d[top + r * n_top + j] * SW[s]
                for layer in range(last - 1, 0, -1):
                    n_h, n_next, w_at = layout[4 * layer], layout[4 * layer + 1], \
                        layout[4 * layer + 2]
                    h = rows * at[layer]
                    if batch_size == 1:  # online: the same sums, read from ``work``
                        if r1 > r0:
                            _sample_deltas(work, d, a, h, n_h, rows * at[layer + 1],
                                           n_next, w_at, acts[layer - 1])
                        continue
                    for q in range(h + r0 * n_h, h + r1 * n_h):
                        d[q] = 0.0
                    # Σ over the next layer's neurons k in order of δ_k W[k, j], W as it is
                    _product(d + rows * at[layer + 1] + r0 * n_next, n_next, 1, orig + w_at,
                             n_h, d + h + r0 * n_h, n_h, r1 - r0, n_h, n_next, pack)
                    code = acts[layer - 1]
                    for q in range(h + r0 * n_h, h + r1 * n_h):
                        d[q] = d[q] * _derivative(code, a[q])
                _barrier(parts)  # the gradient sums over every sample of the chunk
                if report:
                    for r in range(rows):
                        s = order[epoch * n + first + r] if order != NULL else first + r
                        e = _sample_loss(loss, acts[last - 1], a + top + r * n_top,
                                         Y + s * n_top, n_top)
                        bdata += e * SW[s] if weighted else e
                if task == BATCH_GRADIENTS and part == 0:  # the loss on the way, in order
                    for r in range(rows):
                        e = _sample_loss(loss, acts[last - 1], a + top + r * n_top,
                                         Y + (first + r) * n_top, n_top)
                        total += e * SW[first + r] if weighted else e
                        count += SW[first + r] if weighted else 1.0
                if training and size == 1:
                    if part == 0:
                        # ``orig`` kept up to date where later batches read it: a
                        # batch of one sample's hidden deltas read ``work``
                        _step_sample(work, orig, layout, last, a, d, at, rate, opt, decay,
                                     vel, P, train_bias, batch_size > 1, divisor)
                    _barrier(parts)
                    first += rows
                    continue
                for layer in range(last):
                    n_in, n_out, w_at, b_at = layout[4 * layer], layout[4 * layer + 1], \
                        layout[4 * layer + 2], layout[4 * layer + 3]
                    _share(n_in, part, parts, MR, &i0, &i1)
                    if training and first == start:
                        for q in range(w_at + i0 * n_out, w_at + i1 * n_out):
                            grad[q] = 0.0
                    # grad[i, j] += Σ over the batch's samples s in order of a_s[i] δ_s[j]
                    _product((a + rows * at[layer] if layer > 0 else inputs) + i0, 1, n_in,
                             d + rows * at[layer + 1],
                             n_out, grad + w_at + i0 * n_out, n_out, i1 - i0, n_out, rows,
                             pack)
                    _share(n_out, part, parts, 1, &j0, &j1)
                    if training and first == start:
                        for j in range(j0, j1):
                            grad[b_at + j] = 0.0
                    for r in range(rows):  # each sum in sample order, the columns side by side
                        q = rows * at[layer + 1] + r * n_out
                        for j in range(j0, j1):
                            grad[b_at + j] = grad[b_at + j] + d[q + j]
                _barrier(parts)
                first += rows
            if training and size > 1:
                _step(work, orig, layout, last, grad, divisor, rate, opt, decay,
                      vel, P, train_bias, part, parts)
                _barrier(parts)
            if report:
                rep0 += (bdata / divisor) * <double> size
                if decay != 0.0:
                    rep1 += (squares / divisor) * <double> size
            start += size
        if report:
            R[2 * epoch], R[2 * epoch + 1] = rep0, rep1
    if adam and part == 0:
        memcpy(vel + 2 * P, tail, 3 * sizeof(double))
    _free(pack)
    return total / count if task == BATCH_LOSS or task == BATCH_GRADIENTS else 0.0
