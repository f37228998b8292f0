/* The C kernels of gan-edge's generated modules (export/c_ops.py), TFLite Micro's int8
 * reference arithmetic bit for bit. Not compiled on its own: export/c_module.py copies the
 * sections a model uses into its gan_generator.c, each section running from its
 * "@section NAME" line to the next one.
 *
 * Two kinds of kernel: the portable ones (TFLM's reference loops, gan_fully_connected,
 * gan_conv_2d, ...), which run anything the generator accepts, and the fast ones
 * (gan_fully_connected_fast, gan_conv_2d_fast), which the generator calls for the layers
 * they cover. A fast kernel picks its code when the module is compiled, from the core's
 * own macros, so one generated file serves every core: Helium (MVE, e.g. Cortex-M55),
 * else the DSP extension (Cortex-M4, M7, M33 with DSP), else it calls the portable kernel.
 * -DGAN_PORTABLE_KERNELS forces the portable kernels everywhere. Both give the same bits:
 * the int32 accumulators are exact (the generator proved they cannot overflow), so the
 * order of the multiply-accumulates does not matter, and every output is requantized by
 * the same gan_requantize. */
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
GAN_MAYBE_UNUSED static void gan_fully_connected(const int8_t *in, int8_t *out, const int8_t *weights, const int32_t *bias,
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
GAN_MAYBE_UNUSED static void gan_conv_2d(const int8_t *in, int8_t *out, const int8_t *weights, const int32_t *bias,
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
/* @section fast helpers */
/* What the fast kernels share. Requantization is done once per output, after its
 * accumulator is complete, never in the inner loop; it is gan_requantize's arithmetic,
 * written for the multipliers the generator makes (0 <= multiplier < 2**31, so the
 * saturating case of SaturatingRoundingDoublingHighMul cannot occur) and for GCC and
 * Clang, which shift negative values arithmetically. */
#if defined(GAN_FAST_DSP) || defined(GAN_FAST_MVE)
#define GAN_FAST 1

/* One output: acc * multiplier * 2**(shift - 31), gemmlowp's two roundings, + offset, clamped. */
static inline int8_t gan_output(int32_t acc, int32_t multiplier, int shift, int32_t output_offset,
                                int32_t act_min, int32_t act_max)
{
    const int right = shift > 0 ? 0 : -shift;
    const int64_t product = (int64_t)(acc * (1 << (shift > 0 ? shift : 0))) * multiplier;
    /* floor((a * b + 2**30) / 2**31): gemmlowp's nudge-and-truncate, in one shift */
    const int32_t high = (int32_t)((product + (1 << 30)) >> 31);
    /* RoundingDivideByPOT: half away from zero */
    const int32_t mask = (int32_t)((1u << right) - 1u);
    const int32_t threshold = (mask >> 1) + (high < 0 ? 1 : 0);
    int32_t v = (high >> right) + ((high & mask) > threshold ? 1 : 0) + output_offset;
    v = v < act_min ? act_min : v;
    return (int8_t)(v > act_max ? act_max : v);
}
#endif
#if defined(GAN_FAST_DSP)
typedef int32_t gan_word __attribute__((may_alias, aligned(4)));       /* scratch: a pair of int16 */

static inline uint32_t gan_load32(const void *p) /* any alignment: one LDR on these cores */
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline int16x2_t gan_odd_plus(int16x2_t a, uint32_t q) /* a + bytes 1 and 3 */
{
    int16x2_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(q));
    return r;
}

/* x + offset (n values, n a multiple of 4) as int16 into to, each group of four as the two
 * words that pair it with gan_even and gan_odd of four weights, (x0, x2) and (x1, x3), then
 * step more words on (0 for a plain array, 2 to interleave two rows). |x + offset| <= 255. */
GAN_MAYBE_UNUSED static void gan_widen(const int8_t *x, gan_word *to, int n, int32_t offset, int step)
{
    const int16x2_t offsets = (int16x2_t)(((uint32_t)offset & 0xFFFFu) * 0x10001u);
    const int8_t *end = x + n;
    while (x < end) {
        const uint32_t q = gan_load32(x);
        x += 4;
        to[0] = __sxtab16(offsets, (int8x4_t)q);
        to[1] = gan_odd_plus(offsets, q);
        to += 2 + step;
    }
}

/* One output pixel's im2col row, widened, into every other pair of words of rows (the
 * other pixel of the pair goes between): kernel_height * kernel_width taps of in_channels
 * (a multiple of 4); a tap outside the image is 0, i.e. x + offset = 0, as TFLM skips it. */
GAN_MAYBE_UNUSED static void gan_im2col(const int8_t *in, gan_word *rows, int y, int x, int height, int width, int in_channels,
                       int kernel_height, int kernel_width, int pad_height, int pad_width, int32_t offset)
{
    int ky, kx;
    for (ky = 0; ky < kernel_height; ++ky) {
        const int iy = y - pad_height + ky;
        for (kx = 0; kx < kernel_width; ++kx) {
            const int ix = x - pad_width + kx;
            if (iy < 0 || iy >= height || ix < 0 || ix >= width) {
                volatile gan_word *zero = rows; /* volatile: a loop, not a call to memset */
                int i;
                for (i = 0; i < in_channels; i += 4) {
                    zero[i] = 0;
                    zero[i + 1] = 0;
                }
            } else {
                gan_widen(in + ((long)iy * width + ix) * in_channels, rows, in_channels, offset, 2);
            }
            rows += in_channels; /* in_channels / 4 groups of four words */
        }
    }
}

/* The inner loops, in assembly: GCC 12 spills the accumulators of the same loops in C.
 * GAN_ASM_2X2: four columns of weight rows o (at w) and o + 1 (at w + cols) against the
 * interleaved widened im2col rows of two pixels (at b): the 2x2 register block of
 * CMSIS-NN's arm_nn_mat_mult_kernel_s8_s16, 16 MACs in 8 SMLADs and 8 other instructions. */
#define GAN_ASM_2X2                                  \
    "ldr %[qb], [%[w], %[cols]]\n\t"                 \
    "ldr %[qa], [%[w]], #4\n\t"                      \
    "ldrd %[xe], %[xo], [%[b]], #8\n\t"              \
    "sxtb16 %[ta], %[qa]\n\t"                        \
    "sxtb16 %[qa], %[qa], ror #8\n\t"                \
    "sxtb16 %[tb], %[qb]\n\t"                        \
    "sxtb16 %[qb], %[qb], ror #8\n\t"                \
    "smlad %[a00], %[ta], %[xe], %[a00]\n\t"         \
    "smlad %[a00], %[qa], %[xo], %[a00]\n\t"         \
    "smlad %[a10], %[tb], %[xe], %[a10]\n\t"         \
    "smlad %[a10], %[qb], %[xo], %[a10]\n\t"         \
    "ldrd %[xe], %[xo], [%[b]], #8\n\t"              \
    "smlad %[a01], %[ta], %[xe], %[a01]\n\t"         \
    "smlad %[a01], %[qa], %[xo], %[a01]\n\t"         \
    "smlad %[a11], %[tb], %[xe], %[a11]\n\t"         \
    "smlad %[a11], %[qb], %[xo], %[a11]\n\t"
#define GAN_ASM_2X2_OPERANDS                                                                            \
    : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [w] "+r"(w), [b] "+r"(b), \
      [qa] "=&r"(qa), [qb] "=&r"(qb), [ta] "=&r"(ta), [tb] "=&r"(tb), [xe] "=&r"(xe), [xo] "=&r"(xo)  \
    : [cols] "r"(cols)

/* GAN_ASM_ROW: four columns of one weight row (loaded by LOAD into q) against the widened
 * input pair (xe, xo): 4 MACs. GAN_ASM_4ROWS: rows o..o+3 at p0, p0 + s, p1, p1 + s. */
#define GAN_ASM_ROW(load, acc)                     \
    load                                           \
    "sxtb16 %[t], %[q]\n\t"                        \
    "sxtb16 %[q], %[q], ror #8\n\t"                \
    "smlad %[" acc "], %[t], %[xe], %[" acc "]\n\t" \
    "smlad %[" acc "], %[q], %[xo], %[" acc "]\n\t"
#define GAN_ASM_4ROWS                                          \
    "ldrd %[xe], %[xo], [%[x]], #8\n\t"                        \
    GAN_ASM_ROW("ldr %[q], [%[p0], %[s]]\n\t", "a1")           \
    GAN_ASM_ROW("ldr %[q], [%[p0]], #4\n\t", "a0")             \
    GAN_ASM_ROW("ldr %[q], [%[p1], %[s]]\n\t", "a3")           \
    GAN_ASM_ROW("ldr %[q], [%[p1]], #4\n\t", "a2")
#define GAN_ASM_4ROWS_OPERANDS                                                                              \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [p0] "+r"(p0), [p1] "+r"(p1), [x] "+r"(x), \
      [q] "=&r"(q), [t] "=&r"(tq), [xe] "=&r"(xe), [xo] "=&r"(xo)                                           \
    : [s] "r"(in_dim)
#elif defined(GAN_FAST_MVE)
/* One output pixel's im2col row: kernel_height * kernel_width taps of in_channels int8;
 * a tap outside the image holds the input zero point (x + offset = 0), as TFLM skips it. */
GAN_MAYBE_UNUSED static void gan_im2col(const int8_t *in, int8_t *row, int y, int x, int height, int width, int in_channels,
                       int kernel_height, int kernel_width, int pad_height, int pad_width, int32_t offset)
{
    const int8x16_t zero_point = vdupq_n_s8((int8_t)-offset);
    int ky, kx, i;
    for (ky = 0; ky < kernel_height; ++ky) {
        const int iy = y - pad_height + ky;
        for (kx = 0; kx < kernel_width; ++kx) {
            const int ix = x - pad_width + kx;
            if (iy < 0 || iy >= height || ix < 0 || ix >= width) {
                for (i = 0; i < in_channels; i += 16) {
                    vst1q_p_s8(row + i, zero_point, vctp8q((uint32_t)(in_channels - i)));
                }
            } else {
                const int8_t *pixel = in + ((long)iy * width + ix) * in_channels;
                for (i = 0; i + 16 <= in_channels; i += 16) {
                    vst1q_s8(row + i, vld1q_s8(pixel + i));
                }
                if (i < in_channels) {
                    const mve_pred16_t lanes = vctp8q((uint32_t)(in_channels - i));
                    vst1q_p_s8(row + i, vld1q_z_s8(pixel + i, lanes), lanes);
                }
            }
            row += in_channels;
        }
    }
}

/* gan_output on four accumulators at once: VQRDMULH is SaturatingRoundingDoublingHighMul
 * bit for bit; the fix-up before the rounding shift (VRSHL, half up) makes it round half
 * away from zero, as RoundingDivideByPOT does (gemmlowp's own NEON code). shift: per lane. */
static inline int32x4_t gan_requantize_x4(int32x4_t acc, int32x4_t multiplier, int32x4_t shift,
                                          int32_t output_offset, int32_t act_min, int32_t act_max)
{
    const int32x4_t zero = vdupq_n_s32(0);
    const int32x4_t right = vminq_s32(shift, zero); /* -(right shift), for VRSHL */
    int32x4_t v = vqrdmulhq_s32(vshlq_s32(acc, vmaxq_s32(shift, zero)), multiplier);
    v = vqaddq_s32(v, vshrq_n_s32(vandq_s32(v, right), 31));
    v = vaddq_n_s32(vrshlq_s32(v, right), output_offset);
    return vminq_s32(vmaxq_s32(v, vdupq_n_s32(act_min)), vdupq_n_s32(act_max));
}
#endif
/* @section kernel fully_connected_fast */
/* gan_fully_connected for in_dim and out_dim multiples of 4, four output rows at a time.
 * DSP: the input widened once into scratch (2 * in_dim bytes), then two SMLADs per four
 * weights and row. Helium: 16 products per VMLADAVA, the input offset added as
 * offset * sum(weights), four outputs requantized per vector. Elsewhere: gan_fully_connected. */
static void gan_fully_connected_fast(const int8_t *in, int8_t *out, int8_t *scratch, const int8_t *weights,
                                     const int32_t *bias, const int32_t *multiplier, const int8_t *shift,
                                     int in_dim, int out_dim, int32_t input_offset, int32_t output_offset,
                                     int32_t act_min, int32_t act_max)
{
#if defined(GAN_FAST_DSP)
    const gan_word *x16 = (const gan_word *)scratch;
    int o;
    gan_widen(in, (gan_word *)scratch, in_dim, input_offset, 0);
    for (o = 0; o < out_dim; o += 4) {
        const int8_t *p0 = weights + (long)o * in_dim, *p1 = p0 + 2 * in_dim, *end = p0 + (in_dim & ~7);
        const gan_word *x = x16;
        int32_t a0 = bias[o], a1 = bias[o + 1], a2 = bias[o + 2], a3 = bias[o + 3];
        int32_t q, tq, xe, xo;
        if (p0 < end) { /* eight columns a step */
            __asm__("1:\n\t" GAN_ASM_4ROWS GAN_ASM_4ROWS
                    "cmp %[p0], %[end]\n\t"
                    "bne 1b\n\t"
                    GAN_ASM_4ROWS_OPERANDS, [end] "r"(end) : "cc", "memory");
        }
        if (in_dim & 4) { /* four more */
            __asm__(GAN_ASM_4ROWS GAN_ASM_4ROWS_OPERANDS : "memory");
        }
        out[o] = gan_output(a0, multiplier[o], shift[o], output_offset, act_min, act_max);
        out[o + 1] = gan_output(a1, multiplier[o + 1], shift[o + 1], output_offset, act_min, act_max);
        out[o + 2] = gan_output(a2, multiplier[o + 2], shift[o + 2], output_offset, act_min, act_max);
        out[o + 3] = gan_output(a3, multiplier[o + 3], shift[o + 3], output_offset, act_min, act_max);
    }
#elif defined(GAN_FAST_MVE)
    int o, i;
    (void)scratch;
    for (o = 0; o < out_dim; o += 4) {
        const int8_t *w0 = weights + (long)o * in_dim, *w1 = w0 + in_dim, *w2 = w1 + in_dim, *w3 = w2 + in_dim;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        int32x4_t acc;
        if (input_offset == 0) {
            for (i = 0; i + 16 <= in_dim; i += 16) { /* whole vectors, then a predicated tail */
                const int8x16_t x = vld1q_s8(in + i);
                a0 = vmladavaq_s8(a0, vld1q_s8(w0 + i), x);
                a1 = vmladavaq_s8(a1, vld1q_s8(w1 + i), x);
                a2 = vmladavaq_s8(a2, vld1q_s8(w2 + i), x);
                a3 = vmladavaq_s8(a3, vld1q_s8(w3 + i), x);
            }
            if (i < in_dim) {
                const mve_pred16_t lanes = vctp8q((uint32_t)(in_dim - i));
                const int8x16_t x = vld1q_z_s8(in + i, lanes);
                a0 = vmladavaq_s8(a0, vld1q_z_s8(w0 + i, lanes), x);
                a1 = vmladavaq_s8(a1, vld1q_z_s8(w1 + i, lanes), x);
                a2 = vmladavaq_s8(a2, vld1q_z_s8(w2 + i, lanes), x);
                a3 = vmladavaq_s8(a3, vld1q_z_s8(w3 + i, lanes), x);
            }
            acc = vsetq_lane_s32(a3, vsetq_lane_s32(a2, vsetq_lane_s32(a1, vdupq_n_s32(a0), 1), 2), 3);
        } else {
            int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (i = 0; i < in_dim; i += 16) {
                const mve_pred16_t lanes = vctp8q((uint32_t)(in_dim - i));
                const int8x16_t x = vld1q_z_s8(in + i, lanes);
                int8x16_t w = vld1q_z_s8(w0 + i, lanes);
                a0 = vmladavaq_s8(a0, w, x);
                s0 = vaddvaq_s8(s0, w);
                w = vld1q_z_s8(w1 + i, lanes);
                a1 = vmladavaq_s8(a1, w, x);
                s1 = vaddvaq_s8(s1, w);
                w = vld1q_z_s8(w2 + i, lanes);
                a2 = vmladavaq_s8(a2, w, x);
                s2 = vaddvaq_s8(s2, w);
                w = vld1q_z_s8(w3 + i, lanes);
                a3 = vmladavaq_s8(a3, w, x);
                s3 = vaddvaq_s8(s3, w);
            }
            /* sum(w * x) + offset * sum(w), wrapping: the final sum is proven to fit int32 */
            acc = vsetq_lane_s32(a3, vsetq_lane_s32(a2, vsetq_lane_s32(a1, vdupq_n_s32(a0), 1), 2), 3);
            acc = vmlaq_n_s32(acc, vsetq_lane_s32(s3, vsetq_lane_s32(s2, vsetq_lane_s32(s1, vdupq_n_s32(s0), 1),
                                                                         2), 3), input_offset);
        }
        acc = vaddq_s32(acc, vld1q_s32(bias + o));
        vstrbq_s32(out + o, gan_requantize_x4(acc, vld1q_s32(multiplier + o), vldrbq_s32(shift + o), output_offset,
                                              act_min, act_max));
    }
#else
    (void)scratch;
    gan_fully_connected(in, out, weights, bias, multiplier, shift, in_dim, out_dim, input_offset, output_offset,
                        act_min, act_max);
#endif
}
/* @section kernel conv_2d_fast */
/* gan_conv_2d for in_channels a multiple of 4 and an even number of out_channels: CMSIS-NN's
 * scheme (arm_convolve_s8). DSP: the im2col rows of two output pixels widened to int16 in
 * scratch, then each pair of output channels against both rows at once (four accumulators,
 * arm_nn_mat_mult_kernel_s8_s16's register blocking). Helium: the im2col rows of four
 * output pixels in int8, each output channel against all four (arm_nn_mat_mult_nt_t_s8),
 * and the four outputs requantized as one vector. Elsewhere: gan_conv_2d. Scratch:
 * 4 * kernel_height * kernel_width * in_channels bytes either way. */
static void gan_conv_2d_fast(const int8_t *in, int8_t *out, int8_t *scratch, const int8_t *weights,
                             const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int height,
                             int width, int in_channels, int out_height, int out_width, int out_channels,
                             int kernel_height, int kernel_width, int pad_height, int pad_width,
                             int32_t input_offset, int32_t output_offset, int32_t act_min, int32_t act_max)
{
#if defined(GAN_FAST_DSP)
    const int cols = kernel_height * kernel_width * in_channels;
    const int pixels = out_height * out_width;
    gan_word *rows = (gan_word *)scratch;
    int p, o;
    for (p = 0; p < pixels; p += 2) {
        /* The last pixel of an odd count is paired with itself; the copy is not stored. */
        const int q = p + 1 < pixels ? p + 1 : p;
        int8_t *out0 = out + (long)p * out_channels, *out1 = out + (long)q * out_channels;
        gan_im2col(in, rows, p / out_width, p % out_width, height, width, in_channels, kernel_height, kernel_width,
                   pad_height, pad_width, input_offset);
        gan_im2col(in, rows + 2, q / out_width, q % out_width, height, width, in_channels, kernel_height,
                   kernel_width, pad_height, pad_width, input_offset);
        for (o = 0; o < out_channels; o += 2) {
            const int8_t *w = weights + (long)o * cols, *end = w + (cols & ~7);
            const gan_word *b = rows;
            int32_t a00 = bias[o], a01 = bias[o], a10 = bias[o + 1], a11 = bias[o + 1];
            int32_t qa, qb, ta, tb, xe, xo;
            if (w < end) { /* eight columns a step */
                __asm__("1:\n\t" GAN_ASM_2X2 GAN_ASM_2X2
                        "cmp %[w], %[end]\n\t"
                        "bne 1b\n\t"
                        GAN_ASM_2X2_OPERANDS, [end] "r"(end) : "cc", "memory");
            }
            if (cols & 4) { /* four more */
                __asm__(GAN_ASM_2X2 GAN_ASM_2X2_OPERANDS : "memory");
            }
            out0[o] = gan_output(a00, multiplier[o], shift[o], output_offset, act_min, act_max);
            out0[o + 1] = gan_output(a10, multiplier[o + 1], shift[o + 1], output_offset, act_min, act_max);
            if (q != p) {
                out1[o] = gan_output(a01, multiplier[o], shift[o], output_offset, act_min, act_max);
                out1[o + 1] = gan_output(a11, multiplier[o + 1], shift[o + 1], output_offset, act_min, act_max);
            }
        }
    }
#elif defined(GAN_FAST_MVE)
    const int cols = kernel_height * kernel_width * in_channels;
    const int pixels = out_height * out_width;
    int8_t *row0 = scratch, *row1 = row0 + cols, *row2 = row1 + cols, *row3 = row2 + cols;
    const uint32x4_t strides = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)out_channels);
    int p, o, i;
    for (p = 0; p < pixels; p += 4) {
        /* A group short of four pixels repeats its last one; the copies are not stored. */
        const int last = pixels - 1;
        const mve_pred16_t stored = vctp32q((uint32_t)(pixels - p));
        int8_t *out0 = out + (long)p * out_channels;
        int k;
        for (k = 0; k < 4; ++k) {
            const int q = p + k < last ? p + k : last;
            gan_im2col(in, row0 + k * cols, q / out_width, q % out_width, height, width, in_channels,
                       kernel_height, kernel_width, pad_height, pad_width, input_offset);
        }
        for (o = 0; o < out_channels; ++o) {
            const int8_t *w = weights + (long)o * cols;
            int32_t a0 = bias[o], a1 = bias[o], a2 = bias[o], a3 = bias[o];
            int32x4_t acc;
            if (input_offset == 0) {
                for (i = 0; i + 16 <= cols; i += 16) { /* whole vectors, then a predicated tail */
                    const int8x16_t wv = vld1q_s8(w + i);
                    a0 = vmladavaq_s8(a0, wv, vld1q_s8(row0 + i));
                    a1 = vmladavaq_s8(a1, wv, vld1q_s8(row1 + i));
                    a2 = vmladavaq_s8(a2, wv, vld1q_s8(row2 + i));
                    a3 = vmladavaq_s8(a3, wv, vld1q_s8(row3 + i));
                }
                if (i < cols) {
                    const mve_pred16_t lanes = vctp8q((uint32_t)(cols - i));
                    const int8x16_t wv = vld1q_z_s8(w + i, lanes);
                    a0 = vmladavaq_s8(a0, wv, vld1q_z_s8(row0 + i, lanes));
                    a1 = vmladavaq_s8(a1, wv, vld1q_z_s8(row1 + i, lanes));
                    a2 = vmladavaq_s8(a2, wv, vld1q_z_s8(row2 + i, lanes));
                    a3 = vmladavaq_s8(a3, wv, vld1q_z_s8(row3 + i, lanes));
                }
                acc = vsetq_lane_s32(a3, vsetq_lane_s32(a2, vsetq_lane_s32(a1, vdupq_n_s32(a0), 1), 2), 3);
            } else { /* padded taps hold the zero point: sum(w * x) + offset * sum(w) over the row */
                int32_t s = 0;
                for (i = 0; i < cols; i += 16) {
                    const mve_pred16_t lanes = vctp8q((uint32_t)(cols - i));
                    const int8x16_t wv = vld1q_z_s8(w + i, lanes);
                    a0 = vmladavaq_s8(a0, wv, vld1q_z_s8(row0 + i, lanes));
                    a1 = vmladavaq_s8(a1, wv, vld1q_z_s8(row1 + i, lanes));
                    a2 = vmladavaq_s8(a2, wv, vld1q_z_s8(row2 + i, lanes));
                    a3 = vmladavaq_s8(a3, wv, vld1q_z_s8(row3 + i, lanes));
                    s = vaddvaq_s8(s, wv);
                }
                acc = vsetq_lane_s32(a3, vsetq_lane_s32(a2, vsetq_lane_s32(a1, vdupq_n_s32(a0), 1), 2), 3);
                acc = vaddq_n_s32(acc, (int32_t)((uint32_t)s * (uint32_t)input_offset)); /* wraps; the sum fits */
            }
            vstrbq_scatter_offset_p_s32(out0 + o, strides,
                                        gan_requantize_x4(acc, vdupq_n_s32(multiplier[o]), vdupq_n_s32(shift[o]),
                                                          output_offset, act_min, act_max), stored);
        }
    }
#else
    (void)scratch;
    gan_conv_2d(in, out, weights, bias, multiplier, shift, height, width, in_channels, out_height, out_width,
                out_channels, kernel_height, kernel_width, pad_height, pad_width, input_offset, output_offset,
                act_min, act_max);
#endif
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
