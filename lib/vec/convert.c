/*
 * convert.c - exact conversions between f32 and bfloat16, IEEE binary16 and
 * scaled int8, one value at a time (for the scalar kernels) and as the
 * public array functions. Portable C: the specification for any faster
 * conversion.
 */
#include "vec_int.h"

#include "util/util.h"

#include <math.h>
#include <string.h>

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float cm__vec_bf16_to_f32_1(uint16_t h)
{
    return u2f((uint32_t)h << 16);
}

/* Round to nearest even; NaN becomes a quiet NaN of the same sign. */
uint16_t cm__vec_f32_to_bf16_1(float f)
{
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float cm__vec_f16_to_f32_1(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu;
    uint32_t m = h & 0x3ffu;
    if (e == 0) {
        float v = (float)m * 0x1p-24f; /* subnormal or zero: exact */
        return u2f(f2u(v) | sign);
    }
    if (e == 31)
        return u2f(sign | 0x7f800000u | (m << 13));
    return u2f(sign | ((e + 112u) << 23) | (m << 13));
}

/*
 * Round to nearest even with subnormals (F. Giesen's float_to_half_fast3_rtne):
 * subnormal results are aligned by adding a magic float, so the FPU does the
 * rounding; normal ones get the rounding bias in integer arithmetic.
 */
uint16_t cm__vec_f32_to_f16_1(float f)
{
    const uint32_t f32infty = 255u << 23;
    const uint32_t f16max = (127u + 16u) << 23;
    const uint32_t denorm_magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    uint32_t u = f2u(f);
    uint32_t sign = u & 0x80000000u;
    uint16_t o;
    u ^= sign;
    if (u >= f16max) {
        o = (u > f32infty) ? 0x7e00 : 0x7c00;
    } else if (u < (113u << 23)) {
        float fu = u2f(u) + u2f(denorm_magic);
        o = (uint16_t)(f2u(fu) - denorm_magic);
    } else {
        uint32_t mant_odd = (u >> 13) & 1u;
        u += ((uint32_t)(15 - 127) << 23) + 0xfffu;
        u += mant_odd;
        o = (uint16_t)(u >> 13);
    }
    return (uint16_t)(o | (sign >> 16));
}

void cm_vec_f32_to_bf16(uint16_t *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = cm__vec_f32_to_bf16_1(in[i]);
}

void cm_vec_bf16_to_f32(float *out, const uint16_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = cm__vec_bf16_to_f32_1(in[i]);
}

void cm_vec_f32_to_f16(uint16_t *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = cm__vec_f32_to_f16_1(in[i]);
}

void cm_vec_f16_to_f32(float *out, const uint16_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = cm__vec_f16_to_f32_1(in[i]);
}

/*
 * Symmetric quantization: scale = max|x| / 127, q = round(x / scale).
 * Rounding is half away from zero; |q| <= 127 so that -q never overflows.
 */
int cm_vec_f32_to_i8(int8_t *out, float *scale_out, const float *in, size_t n)
{
    if ((n && (!out || !in)) || !scale_out)
        return cm__error_set(CM_EINVAL, "cm_vec_f32_to_i8: NULL argument");
    float maxabs = 0.0f;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(in[i]))
            return cm__error_set_field(CM_EINVAL, "vector", "element %zu is NaN or infinite", i);
        float a = fabsf(in[i]);
        if (a > maxabs)
            maxabs = a;
    }
    if (maxabs == 0.0f) {
        if (n)
            memset(out, 0, n);
        *scale_out = 0.0f;
        return CM_OK;
    }
    double inv = 127.0 / (double)maxabs;
    for (size_t i = 0; i < n; i++) {
        double q = round((double)in[i] * inv);
        if (q > 127.0)
            q = 127.0;
        if (q < -127.0)
            q = -127.0;
        out[i] = (int8_t)q;
    }
    *scale_out = (float)((double)maxabs / 127.0);
    return CM_OK;
}

void cm_vec_i8_to_f32(float *out, const int8_t *in, float scale, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)in[i] * scale;
}
