/* Arm semihosting for `make run`: the program's console and exit status go to QEMU
 * (-semihosting-config enable=on,target=native). Linked only into the QEMU images;
 * it replaces the weak uart_putc and board_file_* of main.c and board_exit /
 * HardFault_Handler of startup.c. Without a debugger or QEMU, `bkpt 0xAB` would halt a real chip.
 */
#include <stdint.h>

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITEC 0x03
#define SYS_WRITE0 0x04
#define SYS_WRITE 0x05
#define SYS_EXIT_EXTENDED 0x20
#define OPEN_MODE_WB 5 /* fopen's "wb" */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

/* Exit status of a fault, apart from any status main returns (0 or 1 here). */
#define FAULT_STATUS 3

static int32_t semihost(int32_t op, const void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void uart_putc(char c)
{
    semihost(SYS_WRITEC, &c);
}

static uint32_t string_length(const char *s)
{
    uint32_t n = 0;
    while (s[n]) {
        ++n;
    }
    return n;
}

/* main.c's board files as files on the host (a path relative to QEMU's working
 * directory, or absolute): SYS_OPEN ("wb"), SYS_WRITE, SYS_CLOSE. One open per file:
 * QEMU 7.2 truncates a file opened "ab" as if "wb". */
int32_t board_file_open(const char *name)
{
    const uint32_t block[3] = {(uint32_t)name, OPEN_MODE_WB, string_length(name)};
    return semihost(SYS_OPEN, block);
}

int32_t board_file_write(int32_t handle, const void *data, uint32_t size)
{
    const uint32_t block[3] = {(uint32_t)handle, (uint32_t)data, size};
    return semihost(SYS_WRITE, block) == 0 ? 0 : -1; /* SYS_WRITE returns the bytes not written */
}

int32_t board_file_close(int32_t handle)
{
    const uint32_t block[1] = {(uint32_t)handle};
    return semihost(SYS_CLOSE, block);
}

/* SYS_EXIT_EXTENDED, not SYS_EXIT: on AArch32 only the extended call carries a status
 * (QEMU exits with it); plain SYS_EXIT has a reason code alone. */
void board_exit(int status)
{
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

/* Every fault escalates to HardFault (no handler enables MemManage, BusFault, UsageFault
 * or SecureFault), so this one catches them all: it names the faulting pc and exits. */
__attribute__((used)) static void hard_fault_report(const uint32_t *frame)
{
    static const char hex[] = "0123456789abcdef";
    char line[] = "gan_mcu: HardFault at pc 0x00000000\n";
    const uint32_t pc = frame[6]; /* stacked r0-r3, r12, lr, pc, xpsr */
    int i;
    for (i = 0; i < 8; ++i) {
        line[sizeof line - 3 - i] = hex[(pc >> (4 * i)) & 0xFu];
    }
    semihost(SYS_WRITE0, line);
    board_exit(FAULT_STATUS);
}

/* Naked: lr still holds EXC_RETURN, whose bit 2 says which stack the frame is on. */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm__ volatile("tst lr, #4\n\t"
                     "ite eq\n\t"
                     "mrseq r0, msp\n\t"
                     "mrsne r0, psp\n\t"
                     "b hard_fault_report");
}
