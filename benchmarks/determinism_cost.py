"""What does TensorFlow's op determinism cost the DCGAN's four-step round?

``tf.config.experimental.enable_op_determinism()`` is process-wide and cannot be
turned off again, so each setting runs in its own child process; the children
alternate (off, on, off, on, ...) so that load from other work falls on both.
Each child builds the DCGAN, runs warm-up rounds, then times rounds at batch 128.

    python benchmarks/determinism_cost.py [--pairs 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, {root!r})
import numpy as np, tensorflow as tf
if {deterministic}:
    tf.config.experimental.enable_op_determinism()
from gan_edge.training.config import default_config
from gan_edge.training.train import build_round
config = default_config("dcgan")
round_ = build_round(config)
images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (config.batch_size * 64, 28, 28, 1)).astype("float32"))
iterator = iter(tf.data.Dataset.from_tensor_slices(images).batch(config.batch_size).repeat())
round_.run_rounds(iterator, tf.constant(2))["d_loss"].numpy()  # trace and warm up
times = []
for _ in range({rounds}):
    start = time.perf_counter()
    round_.run_rounds(iterator, tf.constant(1))["d_loss"].numpy()
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def run_child(deterministic: bool, rounds: int) -> list[float]:
    code = CHILD.format(root=str(ROOT), deterministic=deterministic, rounds=rounds)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2, help="child processes per setting")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per child")
    args = parser.parse_args()
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.pairs):
        for deterministic in (False, True):
            times[deterministic] += run_child(deterministic, args.rounds)
    print(f"DCGAN four-step round, batch 128, {args.pairs} processes x {args.rounds} rounds per setting")
    for deterministic, label in ((False, "default"), (True, "op determinism")):
        t = times[deterministic]
        print(f"  {label:15} median {statistics.median(t) * 1000:8.0f} ms   min {min(t) * 1000:8.0f} ms")
    ratio = statistics.median(times[True]) / statistics.median(times[False])
    print(f"op determinism costs {100 * (ratio - 1):+.0f}% per round (median ratio {ratio:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
