/*
 * kernels_avx512bf16.c - bfloat16 dot and cosine with AVX512_BF16's
 * vdpbf16ps (32 pairs per instruction, f32 accumulation; subnormal bf16
 * inputs count as zero). Compiled with -mavx512f -mavx512bw -mavx512vl
 * -mavx512bf16 only; overlays the AVX-512 table when the CPU has BF16.
 */
#include "../vec_int.h"

#include <immintrin.h>

static __mmask32 mask32(size_t r)
{
    return (__mmask32)((1ull << r) - 1u);
} /* r < 32 */

static __m512bh load(__mmask32 m, const uint16_t *p)
{
    return (__m512bh)_mm512_maskz_loadu_epi16(m, p);
}

static float dot_bf16(const uint16_t *a, const uint16_t *b, size_t d)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        s0 = _mm512_dpbf16_ps(s0, load(0xffffffffu, a + i), load(0xffffffffu, b + i));
        s1 = _mm512_dpbf16_ps(s1, load(0xffffffffu, a + i + 32), load(0xffffffffu, b + i + 32));
    }
    for (; i < d; i += 32) {
        __mmask32 m = d - i >= 32 ? (__mmask32)0xffffffffu : mask32(d - i);
        s0 = _mm512_dpbf16_ps(s0, load(m, a + i), load(m, b + i));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static float cos_bf16(const uint16_t *a, const uint16_t *b, size_t d)
{
    __m512 ab = _mm512_setzero_ps(), aa = ab, bb = ab;
    for (size_t i = 0; i < d; i += 32) {
        __mmask32 m = d - i >= 32 ? (__mmask32)0xffffffffu : mask32(d - i);
        __m512bh x = load(m, a + i), y = load(m, b + i);
        ab = _mm512_dpbf16_ps(ab, x, y);
        aa = _mm512_dpbf16_ps(aa, x, x);
        bb = _mm512_dpbf16_ps(bb, y, y);
    }
    float sab = _mm512_reduce_add_ps(ab), saa = _mm512_reduce_add_ps(aa);
    float sbb = _mm512_reduce_add_ps(bb);
    if (!(saa >= CM__VEC_COS_SAFE_MIN && saa <= CM__VEC_COS_SAFE_MAX &&
          sbb >= CM__VEC_COS_SAFE_MIN && sbb <= CM__VEC_COS_SAFE_MAX))
        return cm__vec_cos_bf16_scalar(a, b, d);
    return cm__vec_cos_finish(sab, saa, sbb);
}

void cm__vec_init_avx512bf16(cm__vec_ops *ops)
{
    ops->dot_bf16 = dot_bf16;
    ops->cos_bf16 = cos_bf16;
}
