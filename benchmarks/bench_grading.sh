#!/bin/bash
# What the grading sandbox costs: seconds per submission with bubblewrap, without it, and with the
# judge of an earlier revision (optional), on the same batch per assignment (two copies of the
# instructor's solution and the untouched student notebook). Prints one line per
# (assignment, mode): the batch's seconds and each submission's; benchmarks/grading.md records a run.
#
#   COURSE_DATA_DIR=/path/to/mirror bash benchmarks/bench_grading.sh [BEFORE_REVISION]
#
# Needs `make assignments` (the autograders in build/) and bubblewrap. BEFORE_REVISION (for example
# 6168996^, the judge before the sandbox) is checked out in a temporary worktree, its autograders
# built there, and graded with its own scripts/assignments.py.
set -euo pipefail
cd "$(dirname "$0")/.."
export KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3
PY=${PY:-.venv/bin/python}
WORK=$(mktemp -d)
OUT="$WORK/scores"

trap 'rm -rf "$WORK"; if [ -n "${BEFORE:-}" ]; then git worktree remove --force "$WORK-before" 2>/dev/null || true; fi' EXIT
mkdir -p "$OUT"
BEFORE=${1:-}
modes="no-isolation bubblewrap"
if [ -n "$BEFORE" ]; then
  git worktree add --detach "$WORK-before" "$BEFORE" >/dev/null
  (cd "$WORK-before" && PYTHONPATH="$WORK-before" "$OLDPWD/$PY" scripts/assignments.py build >/dev/null)
  modes="before $modes"
fi
for A in A1_convolution_and_pooling A2_building_blocks A3_learning_with_little_data; do
  S="$WORK/$A"; mkdir -p "$S"
  cp "build/assignments/$A/autograder/$A.ipynb" "$S/solution1.ipynb"
  cp "build/assignments/$A/autograder/$A.ipynb" "$S/solution2.ipynb"
  cp "notebooks/assignments/student/$A/$A.ipynb" "$S/untouched.ipynb"
  for mode in $modes; do
    csv="$OUT/$A-$mode.csv"
    start=$(date +%s.%N)
    case $mode in
      before) (cd "$WORK-before" && PYTHONPATH="$WORK-before" "$OLDPWD/$PY" scripts/assignments.py grade "$A" "$S" -o "$csv") ;;
      no-isolation) "$PY" -I scripts/assignments.py grade "$A" "$S" -o "$csv" --no-isolation ;;
      bubblewrap) "$PY" -I scripts/assignments.py grade "$A" "$S" -o "$csv" ;;
    esac >"$WORK/$A-$mode.log" 2>&1
    end=$(date +%s.%N)
    "$PY" - "$csv" "$A" "$mode" "$start" "$end" <<'PYTHON'
import sys, pandas as pd
csv, name, mode, start, end = sys.argv[1:]
table = pd.read_csv(csv)
print(f"{name} {mode}: batch {float(end) - float(start):.1f} s, per submission "
      + " / ".join(f"{s:.1f}" for s in table["seconds"]) + f" s (mean {table['seconds'].mean():.1f}), "
      f"totals {table['total'].tolist()}, load {open('/proc/loadavg').read().split()[0]}")
PYTHON
  done
done
