"""The two ends of qemu/check.c: the latents header it is built with, and what it prints.

    write_latents_header(latents, path)   # then: make run CPU=... LATENTS=path MODULE_DIR=...
    outputs, instructions = parse_check_output(stdout, count, output_size)

Used by tests/test_mcu_qemu.py and benchmarks/mcu_qemu.py; numpy only.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

_INSTRUCTIONS = re.compile(r"^instructions per gan_generate: (\d+\.\d) \(mean of (\d+) calls", re.M)


def write_latents_header(latents: np.ndarray, path: Path, *, passes: int | None = None) -> Path:
    """Write int8 latents, shape (n, latent_dim), as the header check.c includes.

    passes: how many times check.c times the whole set (default: enough for 2**20 SysTick
    ticks); tests that trace every instruction set it low to keep the trace small.
    """
    latents = np.asarray(latents)
    if latents.ndim != 2 or latents.dtype != np.int8 or len(latents) == 0:
        raise ValueError(f"latents must be a non-empty int8 array of shape (n, latent_dim), "
                         f"got {latents.dtype} {latents.shape}")
    rows = ",\n".join("    {" + ", ".join(str(v) for v in row) + "}" for row in latents.tolist())
    lines = ["/* Written by firmware_examples/mcu/qemu/check_io.py for qemu/check.c. */",
             "#include <stdint.h>",
             f"#define GAN_CHECK_COUNT {latents.shape[0]}",
             f"#define GAN_CHECK_DIM {latents.shape[1]}"]
    if passes is not None:
        lines.append(f"#define GAN_CHECK_PASSES {int(passes)}u")
    lines += ["static const int8_t gan_check_latents[GAN_CHECK_COUNT][GAN_CHECK_DIM] = {", rows, "};", ""]
    path = Path(path)
    path.write_text("\n".join(lines))
    return path


def parse_check_output(stdout: str, count: int, output_size: int) -> tuple[np.ndarray, float, int]:
    """check.c's stdout -> (int8 outputs of shape (count, output_size), mean instructions
    per gan_generate, number of calls the mean is over). Raises ValueError naming what
    is missing, with the output's tail."""
    rows = {}
    for index, hex_bytes in re.findall(r"^out (\d+) ([0-9a-f]+)$", stdout, re.M):
        rows[int(index)] = np.frombuffer(bytes.fromhex(hex_bytes), np.int8)
    found = _INSTRUCTIONS.search(stdout)
    if sorted(rows) != list(range(count)) or found is None:
        raise ValueError(f"check.c printed {len(rows)} of {count} outputs"
                         f"{'' if found else ' and no instruction count'}; its output ends:\n{stdout[-800:]}")
    outputs = np.stack([rows[i] for i in range(count)])
    if outputs.shape != (count, output_size):
        raise ValueError(f"outputs must have shape ({count}, {output_size}), got {outputs.shape}")
    return outputs, float(found.group(1)), int(found.group(2))
