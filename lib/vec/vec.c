/*
 * vec.c - the public kernel entry points: each forwards to the table the
 * dispatcher chose. The int8 variants turn the exact integer sums into
 * scaled distances in double, so every implementation returns the same
 * value.
 */
#include "vec_int.h"

#include "util/util.h"

#include <math.h>

float cm_vec_dot_f32(const float *a, const float *b, size_t d)
{
    return cm__vec_ops_get()->dot_f32(a, b, d);
}

float cm_vec_l2sq_f32(const float *a, const float *b, size_t d)
{
    return cm__vec_ops_get()->l2sq_f32(a, b, d);
}

float cm_vec_cosine_f32(const float *a, const float *b, size_t d)
{
    return cm__vec_ops_get()->cos_f32(a, b, d);
}

float cm_vec_dot_bf16(const uint16_t *a, const uint16_t *b, size_t d)
{
    return cm__vec_ops_get()->dot_bf16(a, b, d);
}

float cm_vec_l2sq_bf16(const uint16_t *a, const uint16_t *b, size_t d)
{
    return cm__vec_ops_get()->l2sq_bf16(a, b, d);
}

float cm_vec_cosine_bf16(const uint16_t *a, const uint16_t *b, size_t d)
{
    return cm__vec_ops_get()->cos_bf16(a, b, d);
}

float cm_vec_dot_f16(const uint16_t *a, const uint16_t *b, size_t d)
{
    return cm__vec_ops_get()->dot_f16(a, b, d);
}

float cm_vec_l2sq_f16(const uint16_t *a, const uint16_t *b, size_t d)
{
    return cm__vec_ops_get()->l2sq_f16(a, b, d);
}

float cm_vec_cosine_f16(const uint16_t *a, const uint16_t *b, size_t d)
{
    return cm__vec_ops_get()->cos_f16(a, b, d);
}

float cm_vec_dot_i8(const int8_t *a, float a_scale, const int8_t *b, float b_scale, size_t d)
{
    int64_t ab = cm__vec_ops_get()->dot_i8(a, b, d);
    return (float)((double)a_scale * b_scale * (double)ab);
}

/*
 * |sa*a - sb*b|^2 = sa^2 aa - 2 sa sb ab + sb^2 bb. The integer sums are
 * exact and the expansion is done in double, so cancellation costs at most
 * ~1e-16 of the terms; clamped at 0.
 */
float cm_vec_l2sq_i8(const int8_t *a, float a_scale, const int8_t *b, float b_scale, size_t d)
{
    int64_t m[3];
    cm__vec_ops_get()->moments_i8(a, b, d, m);
    double sa = a_scale, sb = b_scale;
    double r = sa * sa * (double)m[1] - 2.0 * sa * sb * (double)m[0] + sb * sb * (double)m[2];
    return r > 0 ? (float)r : 0.0f;
}

float cm_vec_cosine_i8(const int8_t *a, float a_scale, const int8_t *b, float b_scale, size_t d)
{
    if (a_scale == 0.0f || b_scale == 0.0f)
        return 0.0f;
    int64_t m[3];
    cm__vec_ops_get()->moments_i8(a, b, d, m);
    float c = cm__vec_cos_finish((double)m[0], (double)m[1], (double)m[2]);
    return ((a_scale < 0) != (b_scale < 0)) ? -c : c;
}
