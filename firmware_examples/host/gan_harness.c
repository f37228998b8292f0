/* Host harness for the generated C module (used by tests/test_c_module.py).
 *
 *   gan_harness generate   < latents.bin > outputs.bin
 *       reads int8 latents, GAN_LATENT_DIM bytes each, writes GAN_OUTPUT_SIZE bytes each
 *   gan_harness sample N SEED > latents.bin
 *       writes N latents drawn by gan_sample_latent from the xorshift32 state SEED
 *
 * Build: cc -std=c99 -O2 -Wall -Wextra -pedantic -I MODULE_DIR gan_harness.c MODULE_DIR/gan_generator.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gan_generator.h"

static int generate(void)
{
    int8_t latent[GAN_LATENT_DIM];
    int8_t out[GAN_OUTPUT_SIZE];
    while (fread(latent, 1, sizeof latent, stdin) == sizeof latent) {
        gan_generate(latent, out);
        if (fwrite(out, 1, sizeof out, stdout) != sizeof out) {
            return 1;
        }
    }
    return ferror(stdin) ? 1 : 0;
}

static int sample(long n, unsigned long seed)
{
    uint32_t state = (uint32_t)seed;
    int8_t latent[GAN_LATENT_DIM];
    long i;
    if (state == 0) {
        fprintf(stderr, "gan_harness: SEED must not be 0\n");
        return 2;
    }
    for (i = 0; i < n; ++i) {
        gan_sample_latent(&state, latent);
        if (fwrite(latent, 1, sizeof latent, stdout) != sizeof latent) {
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "generate") == 0) {
        return generate();
    }
    if (argc == 4 && strcmp(argv[1], "sample") == 0) {
        return sample(strtol(argv[2], NULL, 10), strtoul(argv[3], NULL, 10));
    }
    fprintf(stderr, "usage: gan_harness generate < latents.bin > outputs.bin\n"
                    "       gan_harness sample N SEED > latents.bin\n");
    return 2;
}
