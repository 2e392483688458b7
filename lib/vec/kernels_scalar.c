/*
 * kernels_scalar.c - the portable distance kernels. This file is the
 * specification every ISA implementation is tested against: f32 products
 * are exact in double and are summed in double, so the only error left is
 * the final rounding to float (max abs error well under 1e-6 of a double
 * reference for unit-scale data); int8 sums are exact integers.
 */
#include "vec_int.h"

#include <math.h>

float cm__vec_cos_finish(double ab, double aa, double bb)
{
    if (aa == 0.0 || bb == 0.0)
        return 0.0f;
    double r = ab / (sqrt(aa) * sqrt(bb));
    if (r > 1.0)
        r = 1.0;
    else if (r < -1.0)
        r = -1.0;
    return (float)r;
}

static float dot_f32(const float *a, const float *b, size_t d)
{
    double s0 = 0, s1 = 0;
    size_t i = 0;
    for (; i + 2 <= d; i += 2) {
        s0 += (double)a[i] * b[i];
        s1 += (double)a[i + 1] * b[i + 1];
    }
    if (i < d)
        s0 += (double)a[i] * b[i];
    return (float)(s0 + s1);
}

static float l2sq_f32(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++) {
        double t = (double)a[i] - b[i]; /* exact in double */
        s += t * t;
    }
    return (float)s;
}

float cm__vec_cos_f32_scalar(const float *a, const float *b, size_t d)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < d; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return cm__vec_cos_finish(ab, aa, bb);
}

/* Half-precision formats: decode exactly to float, then as f32. */
#define U16_KERNELS(fmt, decode)                                                                   \
    static float dot_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                         \
    {                                                                                              \
        double s = 0;                                                                              \
        for (size_t i = 0; i < d; i++)                                                             \
            s += (double)decode(a[i]) * decode(b[i]);                                              \
        return (float)s;                                                                           \
    }                                                                                              \
    static float l2sq_##fmt(const uint16_t *a, const uint16_t *b, size_t d)                        \
    {                                                                                              \
        double s = 0;                                                                              \
        for (size_t i = 0; i < d; i++) {                                                           \
            double t = (double)decode(a[i]) - decode(b[i]);                                        \
            s += t * t;                                                                            \
        }                                                                                          \
        return (float)s;                                                                           \
    }                                                                                              \
    float cm__vec_cos_##fmt##_scalar(const uint16_t *a, const uint16_t *b, size_t d)               \
    {                                                                                              \
        double ab = 0, aa = 0, bb = 0;                                                             \
        for (size_t i = 0; i < d; i++) {                                                           \
            double x = decode(a[i]), y = decode(b[i]);                                             \
            ab += x * y;                                                                           \
            aa += x * x;                                                                           \
            bb += y * y;                                                                           \
        }                                                                                          \
        return cm__vec_cos_finish(ab, aa, bb);                                                     \
    }

U16_KERNELS(bf16, cm__vec_bf16_to_f32_1)
U16_KERNELS(f16, cm__vec_f16_to_f32_1)

static int64_t dot_i8(const int8_t *a, const int8_t *b, size_t d)
{
    int64_t s = 0;
    for (size_t i = 0; i < d; i++)
        s += (int32_t)a[i] * b[i];
    return s;
}

static void moments_i8(const int8_t *a, const int8_t *b, size_t d, int64_t out[3])
{
    int64_t ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < d; i++) {
        ab += (int32_t)a[i] * b[i];
        aa += (int32_t)a[i] * a[i];
        bb += (int32_t)b[i] * b[i];
    }
    out[0] = ab;
    out[1] = aa;
    out[2] = bb;
}

static void dot4_f32(const float *q, const float *const rows[4], size_t d, float out[4])
{
    for (int j = 0; j < 4; j++)
        out[j] = dot_f32(q, rows[j], d);
}

static void l2sq4_f32(const float *q, const float *const rows[4], size_t d, float out[4])
{
    for (int j = 0; j < 4; j++)
        out[j] = l2sq_f32(q, rows[j], d);
}

void cm__vec_init_scalar(cm__vec_ops *ops)
{
    ops->name = "scalar";
    ops->dot_f32 = dot_f32;
    ops->l2sq_f32 = l2sq_f32;
    ops->cos_f32 = cm__vec_cos_f32_scalar;
    ops->dot_bf16 = dot_bf16;
    ops->l2sq_bf16 = l2sq_bf16;
    ops->cos_bf16 = cm__vec_cos_bf16_scalar;
    ops->dot_f16 = dot_f16;
    ops->l2sq_f16 = l2sq_f16;
    ops->cos_f16 = cm__vec_cos_f16_scalar;
    ops->dot_i8 = dot_i8;
    ops->moments_i8 = moments_i8;
    ops->dot4_f32 = dot4_f32;
    ops->l2sq4_f32 = l2sq4_f32;
    ops->dot8_bf16 = NULL; /* optional scan kernels: callers fall back */
    ops->l2sq8_bf16 = NULL;
    ops->dot4_i8 = NULL;
    ops->dot4x6_f32 = NULL;
    ops->l2sq4x6_f32 = NULL;
}
