/* The module on fixed latents, for tests and benchmarks: `make run LATENTS=latents.h`.
 *
 * LATENTS is force-included (-include) before this file:
 *   #include <stdint.h>
 *   #define GAN_CHECK_COUNT n
 *   #define GAN_CHECK_DIM d
 *   static const int8_t gan_check_latents[GAN_CHECK_COUNT][GAN_CHECK_DIM] = {...};
 * and may define GAN_CHECK_PASSES, the times the whole set is timed (default: enough for
 * 2**20 SysTick ticks). qemu/check_io.py writes it and reads the output back.
 *
 * Prints one line per latent, "out INDEX HEX" (the int8 outputs as two's-complement
 * bytes), then "instructions per gan_generate: MEAN (mean of CALLS calls; ...)". Built
 * with -DGAN_PROFILE (make run PROFILE=1), the module calls gan_profile_op after each op
 * and this then prints "op INDEX instructions MEAN" for each op, over the same calls; the
 * total above then includes those calls, the per-op figures do not.
 *
 * Instructions, not cycles: `make run` starts QEMU with -icount shift=0, so the virtual
 * clock advances one nanosecond per instruction, and SysTick, clocked by the core clock,
 * advances one tick per 1e9 / f instructions (40 on the 25 MHz MPS2). The ratio is
 * measured here on a loop of known length, so no board clock is assumed. On a real chip
 * the same code would count cycles through a miscalibrated ratio: do not use it there.
 */
#include <stdint.h>

#include "gan_generator.h"

#ifndef GAN_CHECK_COUNT
#error "build with make run LATENTS=latents.h: that header defines the latents"
#endif
#if GAN_CHECK_DIM != GAN_LATENT_DIM
#error "the latents of LATENTS have GAN_CHECK_DIM values, the module wants GAN_LATENT_DIM"
#endif

void uart_putc(char c);

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define ICSR_PENDSTSET (1u << 26)
#define SYSTICK_PERIOD 0x1000000u /* 24-bit counter */

/* SysTick wraps every 2**24 ticks; counting the wraps makes a 64-bit clock. */
static volatile uint32_t systick_wraps;

void SysTick_Handler(void)
{
    ++systick_wraps;
}

static uint64_t ticks_now(void)
{
    uint32_t wraps, value;
    do { /* retry if a wrap happened (or is pending) between the two reads */
        wraps = systick_wraps;
        value = SYST_CVR;
    } while (wraps != systick_wraps || (SCB_ICSR & ICSR_PENDSTSET));
    return (uint64_t)wraps * SYSTICK_PERIOD + (SYSTICK_PERIOD - 1u - value);
}

/* Exactly 2 * n instructions (subs, bne) for n >= 1. */
__attribute__((noinline)) static uint64_t ticks_of_loop(uint32_t n)
{
    const uint64_t start = ticks_now();
    __asm__ volatile("1:\n\tsubs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
    return ticks_now() - start;
}

#ifdef GAN_PROFILE
/* Ticks between the marks, per op; the extra last entry times an empty interval (two
 * marks back to back), which is subtracted from each op. */
static uint64_t op_ticks[GAN_OP_COUNT + 1];
static uint64_t op_mark;

void gan_profile_op(int op)
{
    const uint64_t now = ticks_now();
    if (op >= 0) {
        op_ticks[op] += now - op_mark;
    }
    op_mark = now;
}
#endif

typedef void (*generate_fn)(const int8_t *latent, int8_t *out);

static void generate_nothing(const int8_t *latent, int8_t *out)
{
    (void)latent;
    (void)out;
}

/* Ticks to run fn on every latent, passes times. Called through a volatile pointer, so
 * that the loop is the same for gan_generate and for generate_nothing: the difference is
 * gan_generate. */
static uint64_t ticks_of_all(generate_fn volatile fn, uint32_t passes)
{
    int8_t out[GAN_OUTPUT_SIZE];
    const uint64_t start = ticks_now();
    uint32_t pass;
    int i;
    for (pass = 0; pass < passes; ++pass) {
        for (i = 0; i < GAN_CHECK_COUNT; ++i) {
            fn(gan_check_latents[i], out);
        }
    }
    return ticks_now() - start;
}

static void put_str(const char *s)
{
    while (*s) {
        uart_putc(*s++);
    }
}

static void put_uint(uint64_t v)
{
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0) {
        uart_putc(digits[--n]);
    }
}

static void put_hex_byte(uint8_t b)
{
    static const char hex[] = "0123456789abcdef";
    uart_putc(hex[b >> 4]);
    uart_putc(hex[b & 0xFu]);
}

int main(void)
{
    const uint32_t calibration_loops = 1u << 20;
    int8_t out[GAN_OUTPUT_SIZE];
    uint64_t loop_ticks, ticks, empty_ticks, calls, tenths;
    uint32_t passes;
#ifdef GAN_PROFILE
    uint32_t pass;
#endif
    int i, j;

    SYST_RVR = SYSTICK_PERIOD - 1u;
    SYST_CVR = 0u;
    SYST_CSR = 7u; /* enable, interrupt on wrap, core clock */

    for (i = 0; i < GAN_CHECK_COUNT; ++i) {
        gan_generate(gan_check_latents[i], out);
        put_str("out ");
        put_uint((uint64_t)i);
        uart_putc(' ');
        for (j = 0; j < GAN_OUTPUT_SIZE; ++j) {
            put_hex_byte((uint8_t)out[j]);
        }
        uart_putc('\n');
    }

    /* 2 * calibration_loops instructions take loop_ticks ticks. */
    loop_ticks = ticks_of_loop(calibration_loops + 1u) - ticks_of_loop(1u);
#ifdef GAN_CHECK_PASSES
    passes = GAN_CHECK_PASSES;
#else
    /* Enough passes for 2**20 ticks, so that the +-1 tick at either end is lost in them. */
    ticks = ticks_of_all(gan_generate, 1u);
    passes = ticks < (1u << 20) ? (uint32_t)((1u << 20) / (ticks + 1u)) + 1u : 1u;
#endif
    ticks = ticks_of_all(gan_generate, passes);
    empty_ticks = ticks_of_all(generate_nothing, passes);
    if (loop_ticks == 0u || ticks <= empty_ticks) {
        put_str("gan_mcu: SysTick did not advance: run under QEMU with -icount shift=0\n");
        return 1;
    }
    calls = (uint64_t)passes * GAN_CHECK_COUNT;
    /* + 1: generate_nothing's own instruction (bx lr) is not part of the difference. */
    tenths = ((ticks - empty_ticks) * 2u * calibration_loops * 10u + loop_ticks * calls / 2u)
                 / (loop_ticks * calls) + 10u;
    put_str("instructions per gan_generate: ");
    put_uint(tenths / 10u);
    uart_putc('.');
    uart_putc((char)('0' + (int)(tenths % 10u)));
    put_str(" (mean of ");
    put_uint(calls);
    put_str(" calls; ");
    put_uint((2u * calibration_loops * 1000u + loop_ticks / 2u) / loop_ticks);
    put_str(" instructions per 1000 SysTick ticks)\n");
#ifdef GAN_PROFILE
    for (j = 0; j <= GAN_OP_COUNT; ++j) {
        op_ticks[j] = 0u;
    }
    for (pass = 0; pass < passes; ++pass) {
        for (i = 0; i < GAN_CHECK_COUNT; ++i) {
            gan_profile_op(-1);
            gan_generate(gan_check_latents[i], out);
            gan_profile_op(-1);
            gan_profile_op(GAN_OP_COUNT);
        }
    }
    for (j = 0; j < GAN_OP_COUNT; ++j) { /* in tenths, rounded; an op faster than a mark reads 0 */
        const uint64_t net = op_ticks[j] > op_ticks[GAN_OP_COUNT] ? op_ticks[j] - op_ticks[GAN_OP_COUNT] : 0u;
        tenths = (net * 2u * calibration_loops * 10u + loop_ticks * calls / 2u) / (loop_ticks * calls);
        put_str("op ");
        put_uint((uint64_t)j);
        put_str(" instructions ");
        put_uint(tenths / 10u);
        uart_putc('.');
        uart_putc((char)('0' + (int)(tenths % 10u)));
        uart_putc('\n');
    }
#endif
    return 0;
}
