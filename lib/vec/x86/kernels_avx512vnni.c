/*
 * kernels_avx512vnni.c - int8 dot products with AVX512_VNNI's vpdpbusd
 * (64 byte pairs per instruction). vpdpbusd multiplies unsigned by signed
 * bytes, so a is biased to a + 128 (a ^ 0x80) and 128 * sum(b) is taken
 * back off: every sum stays exact. The byte sums come from vpsadbw, which
 * runs on another port than vpdpbusd, and two accumulator sets per loop
 * hide vpdpbusd's latency. Compiled with -mavx512f -mavx512bw -mavx512vl
 * -mavx512vnni only; overlays the AVX-512 table.
 */
#include "../vec_int.h"

#include <immintrin.h>

static __mmask64 mask64(size_t r)
{
    return r >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << r) - 1u);
}

static int64_t hsum_epi32(__m512i v)
{
    __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
    __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
    return _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

/* A lane gains at most 4 * 255 * 128 per 64 elements: flush every CHUNK. */
#define CHUNK ((size_t)1 << 18)

/*
 * One step over 64 bytes (k = accumulator set). xu = a + 128 and yu =
 * b + 128 as unsigned bytes (LOAD_FULL / LOAD_MASKED below).
 *   ab += (a + 128) * b      sb += sum(b + 128)  (vpsadbw, 64-bit lanes)
 *   aa += (a + 128) * a      sa += sum(a + 128)
 *   bb += (b + 128) * b
 */
#define STEP(k, LOADS)                                                                             \
    do {                                                                                           \
        __m512i x, y, xu, yu;                                                                      \
        LOADS;                                                                                     \
        ab##k = _mm512_dpbusd_epi32(ab##k, xu, y);                                                 \
        sb = _mm512_add_epi64(sb, _mm512_sad_epu8(yu, zero));                                      \
        if (all) {                                                                                 \
            aa##k = _mm512_dpbusd_epi32(aa##k, xu, x);                                             \
            bb##k = _mm512_dpbusd_epi32(bb##k, yu, y);                                             \
            sa = _mm512_add_epi64(sa, _mm512_sad_epu8(xu, zero));                                  \
        }                                                                                          \
    } while (0)

/* x, y and their biased forms; in the masked form, lanes off are 0 in all
 * four (a masked byte add of 0x80 is the xor). */
#define LOAD_FULL(off)                                                                             \
    (x = _mm512_loadu_si512(a + (off)), y = _mm512_loadu_si512(b + (off)),                         \
     xu = _mm512_xor_si512(x, bias), yu = _mm512_xor_si512(y, bias))
#define LOAD_MASKED(m, off)                                                                        \
    (x = _mm512_maskz_loadu_epi8((m), a + (off)), y = _mm512_maskz_loadu_epi8((m), b + (off)),     \
     xu = _mm512_maskz_add_epi8((m), x, bias), yu = _mm512_maskz_add_epi8((m), y, bias))

static void moments(const int8_t *a, const int8_t *b, size_t d, int64_t out[3], int all)
{
    const __m512i bias = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    int64_t tab = 0, taa = 0, tbb = 0;
    for (size_t c = 0; c < d; c += CHUNK) {
        size_t e = d - c < CHUNK ? d : c + CHUNK;
        __m512i ab0 = zero, ab1 = zero, aa0 = zero, aa1 = zero, bb0 = zero, bb1 = zero;
        __m512i sa = zero, sb = zero; /* 64-bit lanes */
        size_t i = c;
        for (; i + 128 <= e; i += 128) {
            STEP(0, LOAD_FULL(i));
            STEP(1, LOAD_FULL(i + 64));
        }
        for (; i < e; i += 64) {
            __mmask64 m = mask64(e - i);
            STEP(0, LOAD_MASKED(m, i));
        }
        /* sum(b) = sum(b + 128) - 128 * len; likewise for a */
        int64_t len = (int64_t)(e - c);
        int64_t sum_b = _mm512_reduce_add_epi64(sb) - 128 * len;
        tab += hsum_epi32(_mm512_add_epi32(ab0, ab1)) - 128 * sum_b;
        if (all) {
            int64_t sum_a = _mm512_reduce_add_epi64(sa) - 128 * len;
            taa += hsum_epi32(_mm512_add_epi32(aa0, aa1)) - 128 * sum_a;
            tbb += hsum_epi32(_mm512_add_epi32(bb0, bb1)) - 128 * sum_b;
        }
    }
    out[0] = tab;
    out[1] = taa;
    out[2] = tbb;
}

static int64_t dot_i8(const int8_t *a, const int8_t *b, size_t d)
{
    int64_t m[3];
    moments(a, b, d, m, 0);
    return m[0];
}

static void moments_i8(const int8_t *a, const int8_t *b, size_t d, int64_t out[3])
{
    moments(a, b, d, out, 1);
}

/*
 * One query against four rows (the int8 scan). Here the rows are biased
 * (r + 128 unsigned) and the query is the signed operand, so the only
 * correction is 128 * sum(q), one vpsadbw per step shared by the rows:
 * per row and 64 bytes, one load, one xor and one vpdpbusd.
 */
static void dot4_i8(const int8_t *q, const int8_t *const rows[4], size_t d, int64_t out[4])
{
    const __m512i bias = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    const int8_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    int64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (size_t c = 0; c < d; c += CHUNK) {
        size_t e = d - c < CHUNK ? d : c + CHUNK, i = c;
        __m512i s0 = zero, s1 = zero, s2 = zero, s3 = zero, sq = zero; /* sq: 64-bit lanes */
        for (; i + 64 <= e; i += 64) {
            __m512i x = _mm512_loadu_si512(q + i);
            s0 = _mm512_dpbusd_epi32(s0, _mm512_xor_si512(_mm512_loadu_si512(r0 + i), bias), x);
            s1 = _mm512_dpbusd_epi32(s1, _mm512_xor_si512(_mm512_loadu_si512(r1 + i), bias), x);
            s2 = _mm512_dpbusd_epi32(s2, _mm512_xor_si512(_mm512_loadu_si512(r2 + i), bias), x);
            s3 = _mm512_dpbusd_epi32(s3, _mm512_xor_si512(_mm512_loadu_si512(r3 + i), bias), x);
            sq = _mm512_add_epi64(sq, _mm512_sad_epu8(_mm512_xor_si512(x, bias), zero));
        }
        if (i < e) { /* lanes off: 0 in x and in every biased row */
            __mmask64 m = mask64(e - i);
            __m512i x = _mm512_maskz_loadu_epi8(m, q + i);
#define ROW_TAIL(s, r)                                                                             \
    s = _mm512_dpbusd_epi32(                                                                       \
        s, _mm512_maskz_add_epi8(m, _mm512_maskz_loadu_epi8(m, (r) + i), bias), x)
            ROW_TAIL(s0, r0);
            ROW_TAIL(s1, r1);
            ROW_TAIL(s2, r2);
            ROW_TAIL(s3, r3);
#undef ROW_TAIL
            sq = _mm512_add_epi64(sq, _mm512_sad_epu8(_mm512_maskz_add_epi8(m, x, bias), zero));
        }
        int64_t sum_q = _mm512_reduce_add_epi64(sq) - 128 * (int64_t)(e - c);
        t0 += hsum_epi32(s0) - 128 * sum_q;
        t1 += hsum_epi32(s1) - 128 * sum_q;
        t2 += hsum_epi32(s2) - 128 * sum_q;
        t3 += hsum_epi32(s3) - 128 * sum_q;
    }
    out[0] = t0;
    out[1] = t1;
    out[2] = t2;
    out[3] = t3;
}

void cm__vec_init_avx512vnni(cm__vec_ops *ops)
{
    ops->dot_i8 = dot_i8;
    ops->moments_i8 = moments_i8;
    ops->dot4_i8 = dot4_i8;
}
