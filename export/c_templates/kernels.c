/* The C kernels of gan-edge's generated modules (export/c_ops.py), TFLite Micro's int8
 * reference arithmetic bit for bit. Not compiled on its own: export/c_module.py copies the
 * sections a model uses into its gan_generator.c, each section running from its
 * "@section NAME" line to the next one. */
/* @section requantize */
/* gemmlowp's SaturatingRoundingDoublingHighMul: (a * b * 2) >> 32, rounded to nearest. */
static int32_t gan_doubling_high_mul(int32_t a, int32_t b)
{
    int64_t ab;
    int32_t nudge;
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates, as in gemmlowp */
}

/* gemmlowp's RoundingDivideByPOT: x / 2**exponent, rounded half away from zero. The
 * floor shift is written without right-shifting a negative value (implementation-defined). */
static int32_t gan_rounding_divide_by_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    const int32_t floor_shift = x >= 0 ? (x >> exponent) : ~((~x) >> exponent);
    return floor_shift + (remainder > threshold ? 1 : 0);
}

/* TFLite's MultiplyByQuantizedMultiplier (double rounding): x * multiplier * 2**(shift - 31). */
static int32_t gan_requantize(int32_t x, int32_t multiplier, int shift)
{
    const int left_shift = shift > 0 ? shift : 0;
    const int right_shift = shift > 0 ? 0 : -shift;
    /* The generator proved |x| << left_shift fits int32 for this model. */
    return gan_rounding_divide_by_pot(gan_doubling_high_mul(x * (1 << left_shift), multiplier), right_shift);
}

static int8_t gan_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}
/* @section dot */
/* sum of w[i] * (x[i] + x_offset) for i < n, exactly as the reference loops compute it:
 * the generator proved the int32 sums cannot overflow, so any order gives the same bits.
 * Helium (MVE, e.g. Cortex-M55) takes 16 products per instruction, the DSP extension
 * (Cortex-M4, M7) two; anything else runs the plain loop. */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
static int32_t gan_dot(const int8_t *w, const int8_t *x, int n, int32_t x_offset)
{
    int32_t acc = 0, w_sum = 0;
    while (n > 0) {
        const mve_pred16_t lanes = vctp8q((uint32_t)n);
        const int8x16_t wv = vld1q_z_s8(w, lanes);
        acc = vmladavaq_s8(acc, wv, vld1q_z_s8(x, lanes));
        w_sum = vaddvaq_s8(w_sum, wv);
        w += 16;
        x += 16;
        n -= 16;
    }
    return acc + x_offset * w_sum;
}
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#include <string.h>
static int32_t gan_dot(const int8_t *w, const int8_t *x, int n, int32_t x_offset)
{
    int32_t acc = 0, w_sum = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t wq, xq;
        int16x2_t w_even, w_odd;
        memcpy(&wq, w + i, 4); /* one unaligned word load; the shifts below are a rotation */
        memcpy(&xq, x + i, 4);
        w_even = __sxtb16((int8x4_t)wq);
        w_odd = __sxtb16((int8x4_t)((wq >> 8) | (wq << 24)));
        acc = __smlad(w_even, __sxtb16((int8x4_t)xq), acc);
        acc = __smlad(w_odd, __sxtb16((int8x4_t)((xq >> 8) | (xq << 24))), acc);
        if (x_offset != 0) {
            w_sum = __smlad(w_even, 0x00010001, w_sum);
            w_sum = __smlad(w_odd, 0x00010001, w_sum);
        }
    }
    for (; i < n; ++i) {
        acc += (int32_t)w[i] * (int32_t)x[i];
        w_sum += w[i];
    }
    return acc + x_offset * w_sum;
}
#else
static int32_t gan_dot(const int8_t *w, const int8_t *x, int n, int32_t x_offset)
{
    int32_t acc = 0;
    int i;
    for (i = 0; i < n; ++i) {
        acc += (int32_t)w[i] * ((int32_t)x[i] + x_offset);
    }
    return acc;
}
#endif
/* @section kernel fully_connected */
/* tflite::reference_integer_ops::FullyConnected(PerChannel) for one batch row. */
static void gan_fully_connected(const int8_t *in, int8_t *out, const int8_t *weights, const int32_t *bias,
                   const int32_t *multiplier, const int8_t *shift, int in_dim, int out_dim,
                   int32_t input_offset, int32_t output_offset, int32_t act_min, int32_t act_max)
{
    int o;
    for (o = 0; o < out_dim; ++o) {
        int32_t acc = gan_dot(weights + (long)o * in_dim, in, in_dim, input_offset);
        acc += bias[o];
        acc = gan_requantize(acc, multiplier[o], shift[o]) + output_offset;
        out[o] = gan_clamp(acc, act_min, act_max);
    }
}
/* @section kernel conv_2d */
/* tflite::reference_integer_ops::ConvPerChannel, batch 1, stride 1, no dilation: NHWC
 * input, OHWI weights; taps outside the image are skipped, as TFLM skips them. */
static void gan_conv_2d(const int8_t *in, int8_t *out, const int8_t *weights, const int32_t *bias,
                        const int32_t *multiplier, const int8_t *shift, int height, int width,
                        int in_channels, int out_height, int out_width, int out_channels,
                        int kernel_height, int kernel_width, int pad_height, int pad_width,
                        int32_t input_offset, int32_t output_offset, int32_t act_min, int32_t act_max)
{
    int y, x, o, ky, kx;
    for (y = 0; y < out_height; ++y) {
        for (x = 0; x < out_width; ++x) {
            for (o = 0; o < out_channels; ++o) {
                const int8_t *filter = weights + (long)o * kernel_height * kernel_width * in_channels;
                int32_t acc = 0;
                for (ky = 0; ky < kernel_height; ++ky) {
                    const int iy = y - pad_height + ky;
                    if (iy < 0 || iy >= height) {
                        continue;
                    }
                    for (kx = 0; kx < kernel_width; ++kx) {
                        const int ix = x - pad_width + kx;
                        const int8_t *pixel, *taps;
                        if (ix < 0 || ix >= width) {
                            continue;
                        }
                        pixel = in + ((long)iy * width + ix) * in_channels;
                        taps = filter + ((long)ky * kernel_width + kx) * in_channels;
                        acc += gan_dot(taps, pixel, in_channels, input_offset);
                    }
                }
                acc += bias[o];
                acc = gan_requantize(acc, multiplier[o], shift[o]) + output_offset;
                *out++ = gan_clamp(acc, act_min, act_max);
            }
        }
    }
}
/* @section kernel leaky_relu */
/* tflite::reference_ops::QuantizeLeakyRelu: one multiplier for x >= 0, one for alpha * x.
 * Safe in place (out == in). */
static void gan_leaky_relu(const int8_t *in, int8_t *out, int size,
                           int32_t input_zero_point, int32_t output_zero_point,
                           int32_t multiplier_identity, int shift_identity,
                           int32_t multiplier_alpha, int shift_alpha)
{
    int i;
    for (i = 0; i < size; ++i) {
        const int32_t x = (int32_t)in[i] - input_zero_point;
        const int32_t y = x >= 0 ? gan_requantize(x, multiplier_identity, shift_identity)
                                 : gan_requantize(x, multiplier_alpha, shift_alpha);
        out[i] = gan_clamp(output_zero_point + y, -128, 127);
    }
}
/* @section kernel lookup */
/* TANH or LOGISTIC: table[code + 128] is TFLM's int8 result for the code. Safe in place. */
static void gan_lookup(const int8_t *in, int8_t *out, const int8_t *table, int size)
{
    int i;
    for (i = 0; i < size; ++i) {
        out[i] = table[(int32_t)in[i] + 128];
    }
}
/* @section kernel depth_to_space */
/* tflite::reference_ops::DepthToSpace, batch 1: input channel (by * block + bx) * out_channels + c
 * of pixel (y, x) becomes channel c of pixel (y * block + by, x * block + bx). */
static void gan_depth_to_space(const int8_t *in, int8_t *out, int height, int width, int out_channels,
                               int block)
{
    const long out_row = (long)width * block * out_channels;
    int y, x, by, bx, c;
    for (y = 0; y < height; ++y) {
        for (x = 0; x < width; ++x) {
            for (by = 0; by < block; ++by) {
                for (bx = 0; bx < block; ++bx) {
                    int8_t *dst = out + ((long)y * block + by) * out_row + ((long)x * block + bx) * out_channels;
                    for (c = 0; c < out_channels; ++c) {
                        dst[c] = *in++;
                    }
                }
            }
        }
    }
}
/* @section kernel copy */
static void gan_copy(const int8_t *in, int8_t *out, int size)
{
    int i;
    for (i = 0; i < size; ++i) {
        out[i] = in[i];
    }
}
