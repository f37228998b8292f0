/* Cortex-M example: draw latents, run the generated GAN module, print what it makes.
 *
 * A point generator (the toy GAN): POINTS points, dequantized and printed with three
 * decimals. An image generator (the header defines GAN_OUTPUT_HEIGHT, e.g. the mcu
 * DCGAN): GAN_IMAGES images drawn as ASCII art, integers only; each latent and each
 * image's raw int8 bytes also go to board_file_write, a weak no-op here that the QEMU
 * build (qemu/semihosting.c) turns into files on the host, GAN_LATENTS_FILE and
 * GAN_IMAGES_FILE (`make run` passes their paths).
 *
 * Everything here is integer-only except gan_dequantize (soft-float on a plain M4,
 * the FPU on an M4F built with -mfpu=fpv4-sp-d16 -mfloat-abi=hard). Output goes
 * through uart_putc, a weak stub: a board defines its own to write its UART.
 */
#include <stdint.h>

#include "gan_generator.h"

#define POINTS 8
#ifndef GAN_IMAGES
#define GAN_IMAGES 4
#endif
#ifndef GAN_LATENTS_FILE
#define GAN_LATENTS_FILE "gan_latents.bin"
#endif
#ifndef GAN_IMAGES_FILE
#define GAN_IMAGES_FILE "gan_images.bin"
#endif

/* Weak default: keeps the last character in a variable a debugger can watch. A board
 * overrides it, e.g. { while (!(USART2->SR & USART_SR_TXE)) {} USART2->DR = c; } */
volatile char uart_last_char;
__attribute__((weak)) void uart_putc(char c)
{
    uart_last_char = c;
}

/* Weak defaults: a board without a file system drops the bytes. The QEMU build's
 * semihosting.c writes files on the host instead. Each returns a negative value on
 * failure; open returns a handle. */
__attribute__((weak)) int32_t board_file_open(const char *name)
{
    (void)name;
    return 0;
}

__attribute__((weak)) int32_t board_file_write(int32_t handle, const void *data, uint32_t size)
{
    (void)handle;
    (void)data;
    (void)size;
    return 0;
}

__attribute__((weak)) int32_t board_file_close(int32_t handle)
{
    (void)handle;
    return 0;
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

#ifdef GAN_OUTPUT_HEIGHT
/* One character per pixel, twice across (a terminal cell is about twice as tall as wide),
 * darkest to brightest; the first channel only. */
static void uart_put_image(const int8_t *image)
{
    static const char ramp[] = " .:-=+*#%@";
    int y, x;
    for (y = 0; y < GAN_OUTPUT_HEIGHT; ++y) {
        for (x = 0; x < GAN_OUTPUT_WIDTH; ++x) {
            const int32_t level = (int32_t)image[(y * GAN_OUTPUT_WIDTH + x) * GAN_OUTPUT_CHANNELS] + 128;
            const char c = ramp[level * (int32_t)(sizeof ramp - 1) / 256];
            uart_putc(c);
            uart_putc(c);
        }
        uart_putc('\r');
        uart_putc('\n');
    }
}

int main(void)
{
    uint32_t rng = 0x2545F491u; /* any non-zero seed: a hardware RNG or the chip's UID */
    int8_t latent[GAN_LATENT_DIM];
    int8_t out[GAN_OUTPUT_SIZE];
    int n;

    const int32_t latents_file = board_file_open(GAN_LATENTS_FILE);
    const int32_t images_file = board_file_open(GAN_IMAGES_FILE);
    int32_t failed = latents_file < 0 || images_file < 0;

    uart_puts("gan-edge: generated images\r\n");
    for (n = 0; n < GAN_IMAGES && !failed; ++n) {
        gan_sample_latent(&rng, latent);
        gan_generate(latent, out);
        uart_puts("image ");
        uart_put_int(n);
        uart_puts("\r\n");
        uart_put_image(out);
        failed = board_file_write(latents_file, latent, sizeof latent) < 0 ||
                 board_file_write(images_file, out, sizeof out) < 0;
    }
    failed |= board_file_close(latents_file) < 0 || board_file_close(images_file) < 0;
    if (failed) {
        uart_puts("gan_mcu: could not write " GAN_IMAGES_FILE " or " GAN_LATENTS_FILE "\r\n");
        return 1;
    }
    return 0; /* to startup.c's board_exit: under QEMU the exit status, on a board a halt */
}
#else
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
#endif
