/* Minimal Cortex-M startup (M4, M7, M55): vector table, FPU on, .data copy, .bss clear,
 * then main; its return status goes to board_exit. */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);

static void Default_Handler(void)
{
    for (;;) {
    }
}

/* Weak, so that a board (or qemu/semihosting.c) can define its own. */
__attribute__((weak)) void board_exit(int status)
{
    (void)status;
    for (;;) {
    }
}

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    uint32_t *dst = &_sdata;
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* Built for an FPU (-mfloat-abi=hard/softfp; MVE shares its registers): grant CP10
     * and CP11 before the first FP or vector instruction, which would fault otherwise. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* SCB->CPACR */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    while (dst < &_edata) {
        *dst++ = *src++;
    }
    for (dst = &_sbss; dst < &_ebss; ++dst) {
        *dst = 0;
    }
    board_exit(main());
}

/* The 16 core exceptions; a real board appends its peripheral interrupts. A union,
 * because entry 0 is the initial stack pointer, not a handler. */
typedef union {
    void (*handler)(void);
    const uint32_t *stack;
} vector_t;

__attribute__((section(".isr_vector"), used)) static const vector_t vectors[16] = {
    {.stack = &_estack}, {Reset_Handler}, {NMI_Handler}, {HardFault_Handler},
    {MemManage_Handler}, {BusFault_Handler}, {UsageFault_Handler}, {0}, {0}, {0}, {0},
    {SVC_Handler}, {DebugMon_Handler}, {0}, {PendSV_Handler}, {SysTick_Handler},
};
