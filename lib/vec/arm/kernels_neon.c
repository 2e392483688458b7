/*
 * kernels_neon.c - AArch64 Advanced SIMD distance kernels (NEON is part of
 * the base ISA: no extra flags). Four f32 lanes, two accumulators; tails
 * through zero-padded copies, which add nothing to any sum. Called only
 * through the dispatcher (cm__vec_init_neon).
 */
#include "../vec_int.h"

#include <arm_neon.h>
#include <string.h>

#define TAIL_COPY(T, ta, tb, a, b, i, d, w)                                                        \
    T ta[w] = {0}, tb[w] = {0};                                                                    \
    memcpy(ta, (a) + (i), ((d) - (i)) * sizeof(T));                                                \
    memcpy(tb, (b) + (i), ((d) - (i)) * sizeof(T))

static float dot_f32(const float *a, const float *b, size_t d)
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    }
    for (; i + 4 <= d; i += 4)
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    if (i < d) {
        TAIL_COPY(float, ta, tb, a, b, i, d, 4);
        s1 = vfmaq_f32(s1, vld1q_f32(ta), vld1q_f32(tb));
    }
    return vaddvq_f32(vaddq_f32(s0, s1));
}

static float l2sq_f32(const float *a, const float *b, size_t d)
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        float32x4_t t0 = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
        float32x4_t t1 = vsubq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s0 = vfmaq_f32(s0, t0, t0);
        s1 = vfmaq_f32(s1, t1, t1);
    }
    for (; i < d; i += 4) {
        float32x4_t t;
        if (d - i >= 4) {
            t = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
        } else {
            TAIL_COPY(float, ta, tb, a, b, i, d, 4);
            t = vsubq_f32(vld1q_f32(ta), vld1q_f32(tb));
        }
        s0 = vfmaq_f32(s0, t, t);
    }
    return vaddvq_f32(vaddq_f32(s0, s1));
}

static float cos_f32(const float *a, const float *b, size_t d)
{
    float32x4_t ab = vdupq_n_f32(0), aa = ab, bb = ab;
    for (size_t i = 0; i < d; i += 4) {
        float32x4_t x, y;
        if (d - i >= 4) {
            x = vld1q_f32(a + i);
            y = vld1q_f32(b + i);
        } else {
            TAIL_COPY(float, ta, tb, a, b, i, d, 4);
            x = vld1q_f32(ta);
            y = vld1q_f32(tb);
        }
        ab = vfmaq_f32(ab, x, y);
        aa = vfmaq_f32(aa, x, x);
        bb = vfmaq_f32(bb, y, y);
    }
    float sab = vaddvq_f32(ab), saa = vaddvq_f32(aa), sbb = vaddvq_f32(bb);
    if (!(saa >= CM__VEC_COS_SAFE_MIN && saa <= CM__VEC_COS_SAFE_MAX &&
          sbb >= CM__VEC_COS_SAFE_MIN && sbb <= CM__VEC_COS_SAFE_MAX))
        return cm__vec_cos_f32_scalar(a, b, d);
    return cm__vec_cos_finish(sab, saa, sbb);
}

static float32x4_t load_bf16(const uint16_t *p)
{
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
}

static float32x4_t load_f16(const uint16_t *p)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

#define U16_KERNELS(fmt, load)                                                                     \
    static float dot_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                         \
    {                                                                                              \
        float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);                                      \
        size_t i = 0;                                                                              \
        for (; i + 8 <= d; i += 8) {                                                               \
            s0 = vfmaq_f32(s0, load(a + i), load(b + i));                                          \
            s1 = vfmaq_f32(s1, load(a + i + 4), load(b + i + 4));                                  \
        }                                                                                          \
        for (; i < d; i += 4) {                                                                    \
            if (d - i >= 4) {                                                                      \
                s0 = vfmaq_f32(s0, load(a + i), load(b + i));                                      \
            } else {                                                                               \
                TAIL_COPY(uint16_t, ta, tb, a, b, i, d, 4);                                        \
                s0 = vfmaq_f32(s0, load(ta), load(tb));                                            \
            }                                                                                      \
        }                                                                                          \
        return vaddvq_f32(vaddq_f32(s0, s1));                                                      \
    }                                                                                              \
    static float l2sq_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                        \
    {                                                                                              \
        float32x4_t s0 = vdupq_n_f32(0);                                                           \
        for (size_t i = 0; i < d; i += 4) {                                                        \
            float32x4_t t;                                                                         \
            if (d - i >= 4) {                                                                      \
                t = vsubq_f32(load(a + i), load(b + i));                                           \
            } else {                                                                               \
                TAIL_COPY(uint16_t, ta, tb, a, b, i, d, 4);                                        \
                t = vsubq_f32(load(ta), load(tb));                                                 \
            }                                                                                      \
            s0 = vfmaq_f32(s0, t, t);                                                              \
        }                                                                                          \
        return vaddvq_f32(s0);                                                                     \
    }                                                                                              \
    static float cos_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                         \
    {                                                                                              \
        float32x4_t ab = vdupq_n_f32(0), aa = ab, bb = ab;                                         \
        for (size_t i = 0; i < d; i += 4) {                                                        \
            float32x4_t x, y;                                                                      \
            if (d - i >= 4) {                                                                      \
                x = load(a + i);                                                                   \
                y = load(b + i);                                                                   \
            } else {                                                                               \
                TAIL_COPY(uint16_t, ta, tb, a, b, i, d, 4);                                        \
                x = load(ta);                                                                      \
                y = load(tb);                                                                      \
            }                                                                                      \
            ab = vfmaq_f32(ab, x, y);                                                              \
            aa = vfmaq_f32(aa, x, x);                                                              \
            bb = vfmaq_f32(bb, y, y);                                                              \
        }                                                                                          \
        float sab = vaddvq_f32(ab), saa = vaddvq_f32(aa), sbb = vaddvq_f32(bb);                    \
        if (!(saa >= CM__VEC_COS_SAFE_MIN && saa <= CM__VEC_COS_SAFE_MAX &&                        \
              sbb >= CM__VEC_COS_SAFE_MIN && sbb <= CM__VEC_COS_SAFE_MAX))                         \
            return cm__vec_cos_##fmt##_scalar(a, b, d);                                            \
        return cm__vec_cos_finish(sab, saa, sbb);                                                  \
    }

U16_KERNELS(bf16, load_bf16)
U16_KERNELS(f16, load_f16)

/* int8: widening multiplies into int16 (exact), pairwise-accumulated into
 * int32 lanes; flushed to int64 every CHUNK elements. */
#define CHUNK ((size_t)1 << 18)

static int32x4_t mac_i8(int32x4_t acc, int8x16_t x, int8x16_t y)
{
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(x), vget_low_s8(y)));
    return vpadalq_s16(acc, vmull_high_s8(x, y));
}

static void moments(const int8_t *a, const int8_t *b, size_t d, int64_t out[3], int all)
{
    int64_t tab = 0, taa = 0, tbb = 0;
    for (size_t c = 0; c < d; c += CHUNK) {
        size_t e = d - c < CHUNK ? d : c + CHUNK;
        int32x4_t ab = vdupq_n_s32(0), aa = ab, bb = ab;
        for (size_t i = c; i < e; i += 16) {
            int8x16_t x, y;
            if (e - i >= 16) {
                x = vld1q_s8(a + i);
                y = vld1q_s8(b + i);
            } else {
                int8_t ta[16] = {0}, tb[16] = {0};
                memcpy(ta, a + i, e - i);
                memcpy(tb, b + i, e - i);
                x = vld1q_s8(ta);
                y = vld1q_s8(tb);
            }
            ab = mac_i8(ab, x, y);
            if (all) {
                aa = mac_i8(aa, x, x);
                bb = mac_i8(bb, y, y);
            }
        }
        tab += vaddlvq_s32(ab);
        if (all) {
            taa += vaddlvq_s32(aa);
            tbb += vaddlvq_s32(bb);
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

static void dot4_f32(const float *q, const float *const rows[4], size_t d, float out[4])
{
    float32x4_t s[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float32x4_t x = vld1q_f32(q + i);
        for (int j = 0; j < 4; j++)
            s[j] = vfmaq_f32(s[j], x, vld1q_f32(rows[j] + i));
    }
    for (int j = 0; j < 4; j++) {
        out[j] = vaddvq_f32(s[j]);
        if (i < d) {
            float t[4] = {0}, r[4] = {0};
            memcpy(t, q + i, (d - i) * sizeof(float));
            memcpy(r, rows[j] + i, (d - i) * sizeof(float));
            out[j] += vaddvq_f32(vmulq_f32(vld1q_f32(t), vld1q_f32(r)));
        }
    }
}

static void l2sq4_f32(const float *q, const float *const rows[4], size_t d, float out[4])
{
    float32x4_t s[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float32x4_t x = vld1q_f32(q + i);
        for (int j = 0; j < 4; j++) {
            float32x4_t t = vsubq_f32(x, vld1q_f32(rows[j] + i));
            s[j] = vfmaq_f32(s[j], t, t);
        }
    }
    for (int j = 0; j < 4; j++) {
        out[j] = vaddvq_f32(s[j]);
        if (i < d) {
            float t[4] = {0}, r[4] = {0};
            memcpy(t, q + i, (d - i) * sizeof(float));
            memcpy(r, rows[j] + i, (d - i) * sizeof(float));
            float32x4_t u = vsubq_f32(vld1q_f32(t), vld1q_f32(r));
            out[j] += vaddvq_f32(vmulq_f32(u, u));
        }
    }
}

void cm__vec_init_neon(cm__vec_ops *ops)
{
    ops->dot_f32 = dot_f32;
    ops->l2sq_f32 = l2sq_f32;
    ops->cos_f32 = cos_f32;
    ops->dot_bf16 = dot_bf16;
    ops->l2sq_bf16 = l2sq_bf16;
    ops->cos_bf16 = cos_bf16;
    ops->dot_f16 = dot_f16;
    ops->l2sq_f16 = l2sq_f16;
    ops->cos_f16 = cos_f16;
    ops->dot_i8 = dot_i8;
    ops->moments_i8 = moments_i8;
    ops->dot4_f32 = dot4_f32;
    ops->l2sq4_f32 = l2sq4_f32;
}
