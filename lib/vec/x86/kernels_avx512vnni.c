/*
 * kernels_avx512vnni.c - int8 dot products with AVX512_VNNI's vpdpbusd
 * (64 byte pairs per instruction). vpdpbusd multiplies unsigned by signed
 * bytes, so a is biased to a + 128 (a ^ 0x80) and 128 * sum(b) is taken
 * back off: every sum stays exact. Compiled with -mavx512f -mavx512bw
 * -mavx512vl -mavx512vnni only; overlays the AVX-512 table.
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

static void moments(const int8_t *a, const int8_t *b, size_t d, int64_t out[3], int all)
{
    const __m512i bias = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);
    int64_t tab = 0, taa = 0, tbb = 0;
    for (size_t c = 0; c < d; c += CHUNK) {
        size_t e = d - c < CHUNK ? d : c + CHUNK;
        __m512i ab = _mm512_setzero_si512(), aa = ab, bb = ab, sa = ab, sb = ab;
        for (size_t i = c; i < e; i += 64) {
            __mmask64 m = mask64(e - i);
            __m512i x = _mm512_maskz_loadu_epi8(m, a + i);
            __m512i y = _mm512_maskz_loadu_epi8(m, b + i);
            /* masked-off lanes: x = y = 0, xu = 128 but times y = 0 */
            __m512i xu = _mm512_xor_si512(x, bias);
            ab = _mm512_dpbusd_epi32(ab, xu, y);
            sb = _mm512_dpbusd_epi32(sb, ones, y);
            if (all) {
                __m512i yu = _mm512_xor_si512(y, bias);
                aa = _mm512_dpbusd_epi32(aa, xu, x);
                bb = _mm512_dpbusd_epi32(bb, yu, y);
                sa = _mm512_dpbusd_epi32(sa, ones, x);
            }
        }
        int64_t sum_b = hsum_epi32(sb);
        tab += hsum_epi32(ab) - 128 * sum_b;
        if (all) {
            int64_t sum_a = hsum_epi32(sa);
            taa += hsum_epi32(aa) - 128 * sum_a;
            tbb += hsum_epi32(bb) - 128 * sum_b;
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

void cm__vec_init_avx512vnni(cm__vec_ops *ops)
{
    ops->dot_i8 = dot_i8;
    ops->moments_i8 = moments_i8;
}
