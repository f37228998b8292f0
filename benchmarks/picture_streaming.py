"""Does a folder of 100,000 pictures train in under 2 GiB, and does streaming it cost time? Issue 22.

Target: "a folder of 100,000 images trains with resident memory under 2 GiB, and an epoch
over it is not slower than 1.3x the in-memory path".

1. Makes N pictures (default 100,000) in a temporary folder from the Twemoji PNGs (64x64
   RGBA, CC-BY 4.0): each a random emoji, flipped left-right and upside down at random,
   cropped to a random square of 40 to 64 pixels, saved as PNG in subfolders of 1,000.
   All of them sit under one top folder, so the subfolders are not taken for labels.
2. Decodes them once with ``load_images`` at 32x32 RGB on white into a uint8 cache in the
   same temporary folder ($GAN_EDGE_CACHE points there for every step).
3. Measures three paths, each in a fresh process so that its peak resident memory
   (``ru_maxrss``) is its own, each for the same number of learning rounds:
     train      the real ``train()`` on the folder: the cache's memmap streamed batch by
                batch, with everything a run does before its first round (the run
                folder, the epoch-0 evaluation, which trains a feature net on the
                pictures) and a mid-epoch checkpoint when ``should_stop`` ends it.
     in-memory  ``build_round`` + ``train_epoch`` fed by ``epoch_batches`` over one
                ``tf.constant`` of every picture as float32 in [-1, 1].
     streaming  the same round and driver fed by ``epoch_batches`` over the uint8
                memmap: it differs from in-memory only in where batches come from.
   The model is the DCGAN at 32x32x3 with the ``mcu`` preset's generator widths
   (128, 32, 32): a small model, so that reading data weighs as much as it can against
   computing (the worst case for streaming). Seconds per round are taken after
   --warmup rounds (tracing, the first batches); the epoch time is projected from them
   (rounds per epoch x s/round), not measured over a whole epoch. With --repeats R the
   in-memory and streaming processes run R times each, alternating, and their ratio is
   the median of the R pairs: on shared cores, load from other work falls on both alike.

Nothing here asserts on a time. Progress goes to stderr, the report to stdout.

    python benchmarks/picture_streaming.py [--images 100000] [--rounds 200] [--warmup 40]
        [--repeats 1] [--keep]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's start-up chatter out of the report
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

import numpy as np  # noqa: E402

TWEMOJI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "twemoji" / "png64"
RESOLUTION, CHANNELS, BACKGROUND = 32, 3, "white"
BATCH = 64
MCU_WIDTHS = [128, 32, 32]  # the "mcu" preset's generator (training/config.py)
PER_FOLDER = 1000
CROP = (40, 64)  # sides of the random square crops, inclusive
RSS_TARGET_MIB = 2048
RATIO_TARGET = 1.3
PATHS = ("train", "in-memory", "streaming")
PIPELINE_BATCHES = 300  # batches timed without training, per path


# -- 1. the pictures ---------------------------------------------------------------------


def make_pictures(folder: Path, count: int, seed: int) -> dict:
    from PIL import Image

    sources = sorted(TWEMOJI.glob("*.png"))
    if not sources:
        raise SystemExit(f"no PNG files in {TWEMOJI}: the Twemoji set is expected beside the repository")
    emoji = [np.asarray(Image.open(path).convert("RGBA")) for path in sources]
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(emoji), count)
    flips = rng.integers(0, 2, (count, 2)).astype(bool)
    sides = rng.integers(CROP[0], CROP[1] + 1, count)
    corners = (rng.random((count, 2)) * (64 - sides[:, None] + 1)).astype(int)
    start = time.perf_counter()
    total_bytes = 0
    for i in range(count):
        if i % PER_FOLDER == 0:
            (folder / f"{i // PER_FOLDER:03d}").mkdir(parents=True)
            if i:
                _progress(f"made {i:,} of {count:,} pictures", start)
        picture = emoji[pick[i]]
        if flips[i, 0]:
            picture = picture[:, ::-1]
        if flips[i, 1]:
            picture = picture[::-1]
        top, left, side = corners[i, 0], corners[i, 1], sides[i]
        path = folder / f"{i // PER_FOLDER:03d}" / f"{i:06d}.png"
        Image.fromarray(np.ascontiguousarray(picture[top : top + side, left : left + side])).save(
            path, compress_level=1  # fast to write; decoding reads any level alike
        )
        total_bytes += path.stat().st_size
    _progress(f"made {count:,} pictures", start, end=True)
    return {"seconds": time.perf_counter() - start, "bytes": total_bytes, "sources": len(sources)}


# -- 2. the decode -----------------------------------------------------------------------


def decode(root: Path, cache_dir: Path) -> dict:
    from gan_edge.training.data.images import load_images

    def on_progress(done: int, total: int) -> None:
        if done % 5000 == 0:
            _progress(f"decoded {done:,} of {total:,}", start)

    start = time.perf_counter()
    data = load_images(root, resolution=RESOLUTION, channels=CHANNELS, background=BACKGROUND,
                       cache_dir=cache_dir, min_images=BATCH, on_progress=on_progress)
    seconds = time.perf_counter() - start
    _progress(f"decoded {len(data):,} pictures", start, end=True)
    cache = next(cache_dir.glob("*.npy"))
    start = time.perf_counter()
    again = load_images(root, resolution=RESOLUTION, channels=CHANNELS, background=BACKGROUND,
                        cache_dir=cache_dir, min_images=BATCH)
    return {"pictures": len(data), "seconds": seconds, "cache_bytes": cache.stat().st_size,
            "cache_hit_seconds": time.perf_counter() - start, "labels": len(again.label_names)}


# -- 3. the paths, each in its own process -----------------------------------------------


def _config(root: Path, epochs: int):
    from gan_edge.training.config import default_config

    return default_config("dcgan").with_overrides({
        "data_path": str(root), "resolution": RESOLUTION, "channels": CHANNELS, "background": BACKGROUND,
        "batch_size": BATCH, "rounds_per_call": 10, "eval_every": 1000, "epochs": epochs,
        "generator_widths": MCU_WIDTHS,
    })


def _memory() -> dict:
    """This process's peak RSS and, now, its anonymous and file-backed resident MiB."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    kib = lambda name: int(status.get(name, "0 kB").split()[0])  # noqa: E731
    return {"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "anon_mib": kib("RssAnon") / 1024, "file_mib": kib("RssFile") / 1024}


def child(path: str, root: Path, rounds: int, epochs: int) -> dict:
    import tensorflow as tf

    from gan_edge.training.data import epoch_batches
    from gan_edge.training.data.images import load_images, to_model_range
    from gan_edge.training.train import build_round, train, train_epoch
    from gan_edge.web_vendor import cache_root

    config = _config(root, epochs)
    # After each compiled call: (wall clock, CPU seconds of every thread of the process, rounds done).
    marks: list[tuple[float, float, int]] = []
    on_rounds = lambda size: marks.append(  # noqa: E731
        (time.perf_counter(), time.process_time(), (marks[-1][2] if marks else 0) + size))
    start = time.perf_counter()
    extra = {}
    if path == "train":
        decoded = []
        result = train(config, root.parent / "run", on_rounds=on_rounds,
                       should_stop=lambda: bool(marks) and marks[-1][2] >= rounds,
                       on_decode=lambda done, total: decoded.append(done))
        extra = {"decoded_again": len(decoded), "stopped_at": result.stopped_at}
    else:
        data = load_images(root, resolution=RESOLUTION, channels=CHANNELS, background=BACKGROUND,
                           cache_dir=cache_root() / "images", min_images=BATCH)
        source = data.images
        if path == "in-memory":
            pictures = np.empty(data.images.shape, np.float32)
            for i in range(0, len(pictures), 4096):
                pictures[i : i + 4096] = to_model_range(data.images[i : i + 4096])
            source = tf.constant(pictures)
            del pictures  # the tensor holds its own copy
        round_ = build_round(config)
        steps, epoch = math.ceil(len(data.images) / BATCH), 1
        extra = {"setup_mib": _memory()}
        while not marks or marks[-1][2] < rounds:
            done = marks[-1][2] if marks else 0
            iterator = iter(epoch_batches(source, BATCH, config.seed, epoch))
            train_epoch(round_, iterator, min(steps, rounds - done), config, on_rounds, epoch=epoch, sums={})
            epoch += 1
        # The batches alone, no training: what one costs to make, beside a round (after the
        # first few, which start the pipeline's threads).
        batches = iter(epoch_batches(source, BATCH, config.seed, epoch))
        skip = min(10, steps // 2)
        for _ in range(skip):
            next(batches)
        clock, count = time.perf_counter(), 0
        for _ in itertools.islice(batches, PIPELINE_BATCHES):
            count += 1
        extra["pipeline_ms"] = (time.perf_counter() - clock) / count * 1000
    return {
        "path": path, "marks": [(t - start, cpu, n) for t, cpu, n in marks], **_memory(), **extra,
        "tensorflow": tf.__version__,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def run_child(path: str, root: Path, cache: Path, rounds: int, epochs: int) -> dict:
    start = time.perf_counter()
    _progress(f"{path}: {rounds} rounds in a fresh process", start)
    env = {**os.environ, "GAN_EDGE_CACHE": str(cache)}
    command = [sys.executable, __file__, "--child", path, "--root", str(root), "--rounds", str(rounds),
               "--epochs", str(epochs)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # TensorFlow's start-up lines stay out of the progress, unless it failed
        print(done.stderr, file=sys.stderr)
        raise SystemExit(f"the {path} process failed (exit {done.returncode}); its error is above")
    _progress(f"{path}: done", start, end=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def timing(marks: list, warmup: int) -> dict:
    """s/round over the calls after ``warmup`` rounds: mean (total time / rounds), the median
    and 90th percentile of the calls (each divided by its rounds), and CPU seconds per round
    (all threads: the round's and tf.data's), which load from other work inflates far less."""
    times, cpu, done = (np.array(column) for column in zip(*marks))
    first = int(np.searchsorted(done, warmup))  # the mark at which the warm-up ends
    if first >= len(marks) - 1:
        raise SystemExit(f"--warmup {warmup} leaves no measured rounds of {done[-1]}: raise --rounds")
    rounds = int(done[-1] - done[first])
    per_call = np.diff(times[first:]) / np.diff(done[first:])
    return {"rounds": rounds, "mean": float((times[-1] - times[first]) / rounds),
            "p50": float(np.percentile(per_call, 50)), "p90": float(np.percentile(per_call, 90)),
            "cpu": float((cpu[-1] - cpu[first]) / rounds), "first_call_s": float(times[0])}


# -- the report --------------------------------------------------------------------------


def environment() -> dict:
    lscpu = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True, check=False).stdout
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lscpu.splitlines())}
    from importlib import metadata

    # [ ]: a shell whose command line names the pattern does not match it.
    busy = subprocess.run(["pgrep", "-af", "gan-edge[ ]train"], stdout=subprocess.PIPE, text=True,
                          check=False).stdout.strip()
    return {
        "cpu": f"{fields.get('Model name', '?')} (family {fields.get('CPU family', '?')}, "
               f"model {fields.get('Model', '?')})",
        "avx512_vnni": "avx512_vnni" in fields.get("Flags", "").split(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pillow": metadata.version("pillow"),
        "load_average": os.getloadavg(),
        "other_training": busy.splitlines(),
    }


def report(args, env: dict, made: dict, decoded: dict, runs: list) -> None:
    n, steps = decoded["pictures"], math.ceil(decoded["pictures"] / BATCH)
    first = runs[0]
    print("environment")
    for name, value in [
        ("cpu (lscpu)", env["cpu"]), ("avx512_vnni", "yes" if env["avx512_vnni"] else "no"),
        ("cores", env["cores"]), ("python", env["python"]), ("tensorflow", first["tensorflow"]),
        ("numpy", env["numpy"]), ("pillow", env["pillow"]),
        ("threads", f"intra_op {first['intra_op_threads']}, inter_op {first['inter_op_threads']} "
                    "(0: TensorFlow uses every core)"),
        ("load average", f"{_loads(env['load_average'])} at start, {_loads(os.getloadavg())} at the end "
                         "(1, 5, 15 min)"),
        ("other gan-edge training", "; ".join(env["other_training"]) or "none running at start"),
    ]:
        print(f"  {name:<24} {value}")
    print()
    print(f"pictures: {n:,} made from {made['sources']:,} Twemoji (CC-BY 4.0) with random flips and square "
          f"crops of {CROP[0]}-{CROP[1]} px, PNG in folders of {PER_FOLDER:,}: {made['bytes'] / 2**20:,.0f} MiB, "
          f"written in {made['seconds']:.0f} s")
    print(f"decode (load_images, {RESOLUTION}x{RESOLUTION}x{CHANNELS} on {BACKGROUND}, one process): "
          f"{decoded['seconds']:.1f} s, {n / decoded['seconds']:,.0f} pictures/s; cache "
          f"{decoded['cache_bytes'] / 2**20:,.1f} MiB uint8; a second load (cache hit) "
          f"{decoded['cache_hit_seconds']:.2f} s; labels: {decoded['labels'] or 'none'}")
    print(f"model: dcgan at {RESOLUTION}x{RESOLUTION}x{CHANNELS}, the mcu preset's generator widths "
          f"{MCU_WIDTHS} (a small model: the worst case for streaming), batch {BATCH}, "
          f"{steps:,} rounds per epoch; the pictures as float32 in memory: "
          f"{n * RESOLUTION**2 * CHANNELS * 4 / 2**20:,.0f} MiB")
    print(f"measured: {args.rounds} rounds per process, each path in fresh processes (in-memory and streaming "
          f"alternating, {args.repeats} of each); s/round over the rounds after the first {args.warmup}")
    print()
    print(f"  {'path':<12} {'peak RSS MiB':>12} {'anon':>6} {'file':>6} {'s/round':>8} {'p50':>7} {'p90':>7} "
          f"{'cpu s':>7} {'x in-mem':>8} {'epoch s (proj.)':>15}")
    memory = [r for r in runs if r["path"] == "in-memory"]
    streaming = [r for r in runs if r["path"] == "streaming"]
    base = statistics.median(r["timing"]["mean"] for r in memory)
    for r in runs:
        t = r["timing"]
        name = r["path"] + (f" {r['repeat']}" if r["path"] != "train" and args.repeats > 1 else "")
        print(f"  {name:<12} {r['peak_mib']:>12,.0f} {r['anon_mib']:>6,.0f} {r['file_mib']:>6,.0f} "
              f"{t['mean']:>8.4f} {t['p50']:>7.4f} {t['p90']:>7.4f} {t['cpu']:>7.4f} {t['mean'] / base:>8.2f} "
              f"{steps * t['mean']:>15,.0f}")
    print()
    measured = runs[0]["timing"]["rounds"]
    for line in [
        "peak RSS: ru_maxrss of the process (file-backed pages of the memmap and of the libraries included);",
        "anon, file: its resident MiB at the end. s/round: wall time / rounds; p50, p90: percentiles of the",
        "compiled calls (10 rounds each); cpu s: CPU seconds per round, all threads. x in-mem: s/round against",
        "the median in-memory s/round. epoch s: rounds per epoch x s/round, projected from the "
        f"{measured} measured rounds" + (", not a full epoch." if measured < steps else
                                         f" (more than the {steps:,} of one epoch)."),
    ]:
        print("  " + line)
    print(f"  before the first round: in-memory {memory[0]['setup_mib']['anon_mib']:,.0f} MiB anon (the float32 "
          f"tensor), streaming {streaming[0]['setup_mib']['anon_mib']:,.0f} MiB anon")
    print(f"  the batches alone (epoch_batches, no training): in-memory {memory[0]['pipeline_ms']:.2f} ms, "
          f"streaming {streaming[0]['pipeline_ms']:.2f} ms per batch of {BATCH}")
    first = runs[0]
    print(f"  train: first round after {first['timing']['first_call_s']:.0f} s (run folder, epoch-0 evaluation "
          f"with its feature net); pictures decoded again: {first['decoded_again']:,}")
    print()
    peak = first["peak_mib"]
    ratio = first["timing"]["mean"] / base
    pairs = [s["timing"]["mean"] / m["timing"]["mean"] for m, s in zip(memory, streaming)]
    ratio_streaming = statistics.median(pairs)
    cpu_pairs = [s["timing"]["cpu"] / m["timing"]["cpu"] for m, s in zip(memory, streaming)]
    print("targets")
    print(f"  resident memory of train() on {n:,} pictures: {peak:,.0f} MiB peak, target under "
          f"{RSS_TARGET_MIB:,} MiB: {'met' if peak < RSS_TARGET_MIB else 'NOT met'}")
    each = f" (median of {', '.join(f'{p:.2f}' for p in pairs)})" if len(pairs) > 1 else ""
    print(f"  epoch time, streaming / in-memory: {ratio_streaming:.2f}x through the same driver{each}, "
          f"{ratio:.2f}x for train(); target at most {RATIO_TARGET}x: "
          f"{'met' if max(ratio, ratio_streaming) <= RATIO_TARGET else 'NOT met'}")
    print(f"  CPU seconds per round, streaming / in-memory: {statistics.median(cpu_pairs):.2f}x (median of "
          f"{len(cpu_pairs)}), train() / in-memory: "
          f"{first['timing']['cpu'] / statistics.median(m['timing']['cpu'] for m in memory):.2f}x")


def _loads(values) -> str:
    return ", ".join(f"{x:.2f}" for x in values)


def _progress(message: str, start: float, end: bool = False) -> None:
    print(f"\r  {message} ({time.perf_counter() - start:.0f} s)", end="\n" if end else "", file=sys.stderr,
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=100_000, help="pictures to make (default 100,000)")
    parser.add_argument("--rounds", type=int, default=200, help="learning rounds per path (a multiple of 10)")
    parser.add_argument("--warmup", type=int, default=40, help="rounds left out of the timing")
    parser.add_argument("--repeats", type=int, default=1, help="in-memory and streaming processes each (alternating)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pictures' flips and crops")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    parser.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.root, args.rounds, args.epochs)))
        return
    if args.images < BATCH or args.rounds % 10 or not 0 <= args.warmup < args.rounds - 10 or args.repeats < 1:
        parser.error(f"--images must be at least {BATCH}, --rounds a multiple of 10 (rounds per compiled call), "
                     f"--warmup in 0..rounds-20 and --repeats at least 1, got {args.images}, {args.rounds}, "
                     f"{args.warmup}, {args.repeats}")

    env = environment()
    work = Path(tempfile.mkdtemp(prefix="picture_streaming-"))
    try:
        root = work / "pictures"
        made = make_pictures(root / "emoji", args.images, args.seed)
        cache = work / "cache"
        decoded = decode(root, cache / "images")
        # The whole run inside one epoch where the set allows it (100,000 pictures: 1,563
        # rounds); a small set gets enough epochs that the stop comes before the last one,
        # whose evaluation it would otherwise wait for.
        epochs = args.rounds // math.ceil(decoded["pictures"] / BATCH) + 2
        # In-memory and streaming alternate, so that load from other work falls on both alike.
        plan = [("train", 1)] + [(path, k) for k in range(1, args.repeats + 1) for path in PATHS[1:]]
        runs = []
        for path, repeat in plan:
            result = run_child(path, root, cache, args.rounds, epochs)
            runs.append({**result, "repeat": repeat, "timing": timing(result["marks"], args.warmup)})
        report(args, env, made, decoded, runs)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
