/* Minimal Cortex-M4 startup: vector table, .data copy, .bss clear, then main. */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);

void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    uint32_t *dst = &_sdata;
    while (dst < &_edata) {
        *dst++ = *src++;
    }
    for (dst = &_sbss; dst < &_ebss; ++dst) {
        *dst = 0;
    }
    main();
    for (;;) {
    }
}

static void Default_Handler(void)
{
    for (;;) {
    }
}

/* The 16 core exceptions; a real board appends its peripheral interrupts. A union,
 * because entry 0 is the initial stack pointer, not a handler. */
typedef union {
    void (*handler)(void);
    const uint32_t *stack;
} vector_t;

__attribute__((section(".isr_vector"), used)) static const vector_t vectors[16] = {
    {.stack = &_estack}, {Reset_Handler}, {Default_Handler}, {Default_Handler},
    {Default_Handler}, {Default_Handler}, {Default_Handler}, {0}, {0}, {0}, {0},
    {Default_Handler}, {Default_Handler}, {0}, {Default_Handler}, {Default_Handler},
};
