/* Cortex-M example: draw latents, run the generated GAN module, print the points.
 *
 * Everything here is integer-only except gan_dequantize (soft-float on a plain M4,
 * the FPU on an M4F built with -mfpu=fpv4-sp-d16 -mfloat-abi=hard). Output goes
 * through uart_putc, a weak stub: a board defines its own to write its UART.
 */
#include <stdint.h>

#include "gan_generator.h"

#define POINTS 8

/* Weak default: keeps the last character in a variable a debugger can watch. A board
 * overrides it, e.g. { while (!(USART2->SR & USART_SR_TXE)) {} USART2->DR = c; } */
volatile char uart_last_char;
__attribute__((weak)) void uart_putc(char c)
{
    uart_last_char = c;
}

static void uart_puts(const char *s)
{
    while (*s) {
        uart_putc(*s++);
    }
}

static void uart_put_int(int32_t v)
{
    char digits[12];
    int n = 0;
    uint32_t u = v < 0 ? (uint32_t)(-(v + 1)) + 1u : (uint32_t)v;
    if (v < 0) {
        uart_putc('-');
    }
    do {
        digits[n++] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u != 0u);
    while (n > 0) {
        uart_putc(digits[--n]);
    }
}

/* A value in data space, printed with three decimals without printf's float support. */
static void uart_put_milli(float value)
{
    int32_t milli = (int32_t)(value * 1000.0f + (value < 0 ? -0.5f : 0.5f));
    int32_t frac = milli % 1000;
    if (milli < 0 && milli > -1000) {
        uart_putc('-');
    }
    uart_put_int(milli / 1000);
    uart_putc('.');
    frac = frac < 0 ? -frac : frac;
    uart_putc((char)('0' + frac / 100));
    uart_putc((char)('0' + frac / 10 % 10));
    uart_putc((char)('0' + frac % 10));
}

int main(void)
{
    uint32_t rng = 0x2545F491u; /* any non-zero seed: a hardware RNG or the chip's UID */
    int8_t latent[GAN_LATENT_DIM];
    int8_t out[GAN_OUTPUT_SIZE];
    float values[GAN_OUTPUT_SIZE];
    int p, i;

    uart_puts("gan-edge: generated points\r\n");
    for (p = 0; p < POINTS; ++p) {
        gan_sample_latent(&rng, latent);
        gan_generate(latent, out);
        gan_dequantize(out, values);
        for (i = 0; i < GAN_OUTPUT_SIZE; ++i) {
            uart_put_milli(values[i]);
            uart_putc(i + 1 < GAN_OUTPUT_SIZE ? ' ' : '\r');
        }
        uart_putc('\n');
    }
    return 0; /* to startup.c's board_exit: under QEMU the exit status, on a board a halt */
}
