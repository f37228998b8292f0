#!/usr/bin/env bash
# Benchmark an exported generator on a connected Android device with LiteRT's official
# benchmark_model binary, on CPU, GPU and NNAPI.
#
#   ./benchmark.sh MODEL.tflite [BENCHMARK_MODEL_BINARY]
#
# BENCHMARK_MODEL_BINARY: the android_aarch64 benchmark_model from the TFLite/LiteRT
# release page (default ./benchmark_model). The GPU delegate needs a static batch:
# export with `gan-edge export RUN --batch 1`. NNAPI is deprecated from Android 15 but
# still present on most devices.
set -euo pipefail
MODEL=${1:?usage: benchmark.sh MODEL.tflite [BENCHMARK_MODEL_BINARY]}
BIN=${2:-./benchmark_model}
DEST=/data/local/tmp
command -v adb >/dev/null || { echo "benchmark.sh: adb not found: install Android platform-tools" >&2; exit 2; }
[ -f "$BIN" ] || { echo "benchmark.sh: no benchmark_model binary at $BIN" >&2; exit 2; }

adb push "$MODEL" "$DEST/gan_model.tflite" >/dev/null
adb push "$BIN" "$DEST/benchmark_model" >/dev/null
adb shell chmod +x "$DEST/benchmark_model"

run() {
    echo "== $1"
    adb shell "$DEST/benchmark_model" --graph="$DEST/gan_model.tflite" \
        --num_runs=200 --warmup_runs=20 "${@:2}" | grep -E "Inference timings|Memory footprint|ERROR" || true
}
run "CPU, 1 thread" --num_threads=1
run "CPU, 4 threads" --num_threads=4
run "GPU" --use_gpu=true
run "NNAPI" --use_nnapi=true
