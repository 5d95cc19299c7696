#!/usr/bin/env bash
# The speedrun's GPU measurements (issue 15), prepared to run in one call of the device tool.
#
# The device machine has JAX and PyTorch with CUDA but neither Keras nor TensorFlow, reaches
# no network, and receives only the repository's working tree. So, first, on the machine
# with the repository (once per session):
#
#     bash benchmarks/gpu_speedrun.sh prepare
#
# downloads the wheels it lacks (Keras 3.15.1 and its two missing dependencies, airbench
# 0.1.8) into .whl/ and copies the offline CIFAR-10 archive from $COURSE_DATA_DIR into
# .gpu-data/; both folders are git-ignored (.git/info/exclude) and are never committed.
# Then, through the device tool, with carry [".whl", ".gpu-data"]:
#
#     bash benchmarks/gpu_speedrun.sh main    # batches + 5 runs of airbench and of the port
#     bash benchmarks/gpu_speedrun.sh wide    # 3 runs of airbench95's widths, 15 epochs
#
# Each writes its JSON results and log to $OUT; benchmarks/speedrun.md records them.
# `main` ends with the port's mean accuracy with TTA; `wide` is for when that is below 94 %.
# SMOKE=1 makes every stage tiny (1 epoch of 4,096 images, 2 runs), to try the script on a
# CPU first: OUT=/tmp/out SMOKE=1 PYTHON=.venv/bin/python COURSE_DATA_DIR=... bash benchmarks/gpu_speedrun.sh main
set -euo pipefail
cd "$(dirname "$0")/.."
stage=${1:?usage: bash benchmarks/gpu_speedrun.sh prepare|main|wide}
PYTHON=${PYTHON:-python3}  # the device's python3 holds JAX and PyTorch

if [ "$stage" = prepare ]; then
    mkdir -p .git/info
    for folder in /.whl/ /.gpu-data/; do
        grep -qxF "$folder" .git/info/exclude 2>/dev/null || echo "$folder" >> .git/info/exclude
    done
    # The device's Python is 3.12 (KINDS.md); these are the packages its image lacks.
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl keras==3.15.1 namex optree
    # airbench is published as source only: pure Python, so a wheel built here installs there.
    "$PYTHON" -m pip wheel -q --no-deps -w .whl airbench==0.1.8
    mkdir -p .gpu-data/cifar10
    cp "${COURSE_DATA_DIR:?set COURSE_DATA_DIR to the offline data mirror}"/cifar10/* .gpu-data/cifar10/
    cp "$COURSE_DATA_DIR"/SHA256SUMS .gpu-data/ 2>/dev/null || true
    du -sh .whl .gpu-data
    exit 0
fi

OUT=${OUT:?OUT must name the folder for the results}
if [ -d .whl ] && ! "$PYTHON" -c "import keras" 2>/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export COURSE_DATA_DIR=${COURSE_DATA_DIR:-$PWD/.gpu-data}
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=3
# Later runs load the compiled training step from disk instead of compiling it again.
export JAX_COMPILATION_CACHE_DIR=/tmp/jax-cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
    JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
if [ "${SMOKE:-0}" = 1 ]; then
    small=(--limit 4096); epochs=1; runs=2; wide_epochs=1; wide_runs=2
else
    small=(); epochs=10; runs=5; wide_epochs=15; wide_runs=3
fi
(nvidia-smi -L || echo "no GPU") > "$OUT/device.txt" 2>&1
"$PYTHON" -c "import keras, jax, torch; print('keras', keras.__version__, 'jax', jax.__version__, 'torch', torch.__version__)" \
    >> "$OUT/device.txt"

case "$stage" in
main)
    "$PYTHON" benchmarks/bench_batches.py --json "$OUT/batches.json" 2>&1 | tee "$OUT/batches.log"
    "$PYTHON" benchmarks/bench_airbench.py --epochs "$epochs" --runs "$runs" --backend jax --no-write \
        --json "$OUT/side_by_side.json" "${small[@]}" 2>&1 | tee "$OUT/side_by_side.log"
    "$PYTHON" -c "import json, sys; r = json.load(open(sys.argv[1]))['results'][1]; \
print(f\"port: mean accuracy with TTA {r['test_accuracy_tta']:.4f} over {len(r['runs'])} runs\")" \
        "$OUT/side_by_side.json"
    ;;
wide)
    "$PYTHON" scripts/speedrun.py --widths 128 384 384 --epochs "$wide_epochs" --runs "$wide_runs" \
        --mixed-precision --batches-on-device --json "$OUT/wide.json" "${small[@]}" 2>&1 | tee "$OUT/wide.log"
    ;;
*)
    echo "unknown stage $stage: prepare, main or wide" >&2
    exit 2
    ;;
esac
