"""Benchmark of course_lib's ResNet-50 and MobileNet against keras.applications.

The issue's requirement: `course_lib.models.resnet.resnet50()` and
`course_lib.models.mobilenet.mobilenet()` train at least 0.95x as fast as
`keras.applications.ResNet50(weights=None)` and
`keras.applications.MobileNet(weights=None)`, at the same batch size and
input size.

What is timed: one compiled training step (`model.train_on_batch`, SGD and
sparse categorical cross-entropy, random float32 images and labels), on the
TensorFlow backend, after warm-up steps (tracing, memory allocation) that are
not timed. The two models of a pair are timed in interleaved rounds (ours,
Keras's, ours, Keras's, ...) so that a change in the machine's load hits both
alike; each round times `STEPS` steps, and the table reports the median step
time over all rounds. Batch 8 at 96x96x3 by default (224x224 takes several
seconds per ResNet-50 step on a 2-core CPU; pass `--size 224` for it).

Writes the table, the ratios, the machine and the command to
benchmarks/model_throughput.md. Run from the repository root:

    .venv/bin/python benchmarks/bench_models.py [--size 96] [--batch 8] [--rounds 5] [--steps 4]
"""

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from course_lib.models.mobilenet import mobilenet  # noqa: E402
from course_lib.models.resnet import resnet50  # noqa: E402
from course_lib.runtime import processor_name  # noqa: E402

RESULTS = Path(__file__).with_name("model_throughput.md")
REQUIRED_RATIO = 0.95
CLASSES = 1000


def pairs(size):
    """(name, ours, Keras's) builders at a `size` x `size` x 3 input."""
    shape = (size, size, 3)
    return [
        ("ResNet-50", lambda: resnet50(input_shape=shape, classes=CLASSES),
         lambda: keras.applications.ResNet50(weights=None, input_shape=shape, classes=CLASSES)),
        ("MobileNet", lambda: mobilenet(input_shape=shape, classes=CLASSES),
         lambda: keras.applications.MobileNet(weights=None, input_shape=shape, classes=CLASSES)),
    ]


class TrainStep:
    """A compiled model and one fixed random batch; calling it runs one training step."""

    def __init__(self, model, batch_size, seed=0):
        rng = np.random.default_rng(seed)
        self.model = model
        self.x = rng.uniform(0, 1, (batch_size,) + tuple(model.input_shape[1:])).astype("float32")
        self.y = rng.integers(0, CLASSES, batch_size)
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")

    def __call__(self):
        self.model.train_on_batch(self.x, self.y)


def time_steps(step, steps):
    """Wall-clock seconds of each of `steps` calls of `step`."""
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def benchmark(name, build_ours, build_keras, batch_size, rounds, steps, warmup):
    keras.utils.set_random_seed(0)
    ours, theirs = build_ours(), build_keras()
    if ours.count_params() != theirs.count_params():
        raise AssertionError(f"{name}: the two models differ in parameters.")
    runners = {"course_lib": TrainStep(ours, batch_size), "keras.applications": TrainStep(theirs, batch_size)}
    for runner in runners.values():
        time_steps(runner, warmup)
    times = {key: [] for key in runners}
    for _ in range(rounds):
        for key, runner in runners.items():
            times[key] += time_steps(runner, steps)
    medians = {key: float(np.median(t)) for key, t in times.items()}
    return {
        "model": name,
        "parameters": ours.count_params(),
        "ours_ms": medians["course_lib"] * 1e3,
        "keras_ms": medians["keras.applications"] * 1e3,
        "ours_ips": batch_size / medians["course_lib"],
        "keras_ips": batch_size / medians["keras.applications"],
        "ratio": medians["keras.applications"] / medians["course_lib"],
        "ours_spread": (min(times["course_lib"]) * 1e3, max(times["course_lib"]) * 1e3),
        "keras_spread": (min(times["keras.applications"]) * 1e3, max(times["keras.applications"]) * 1e3),
    }


def write_report(rows, args, load_start, load_end, started):
    lines = [
        "# Benchmark: training-step throughput of course_lib's models vs keras.applications",
        "",
        f"One compiled training step (`train_on_batch`, SGD, sparse categorical cross-entropy, "
        f"{CLASSES} classes) on a batch of {args.batch} random {args.size}x{args.size}x3 float32 "
        f"images, TensorFlow backend, after {args.warmup} untimed warm-up steps per model. "
        f"The two models of a pair run in {args.rounds} interleaved rounds of {args.steps} steps "
        f"each; the table gives the median step time over the "
        f"{args.rounds * args.steps} steps (min-max in brackets). "
        f"Ratio = Keras's median step time / ours (>= {REQUIRED_RATIO}: ours is at most 5% slower, "
        "the issue's requirement).",
        "",
        f"Machine: {processor_name()}, {os.cpu_count()} cores, load average {load_start:.1f} at the start "
        f"and {load_end:.1f} at the end (other processes share the cores); "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
        f"Keras {keras.__version__}, TensorFlow {tf.__version__}.",
        "",
        f"Command: `{' '.join(['.venv/bin/python benchmarks/bench_models.py'] + sys.argv[1:])}` "
        f"(run {started:%Y-%m-%d %H:%M} UTC).",
        "",
        "| model | parameters | course_lib ms/step | keras.applications ms/step "
        "| course_lib images/s | keras.applications images/s | ratio | >= 0.95 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['parameters']:,} "
            f"| {r['ours_ms']:.0f} [{r['ours_spread'][0]:.0f}-{r['ours_spread'][1]:.0f}] "
            f"| {r['keras_ms']:.0f} [{r['keras_spread'][0]:.0f}-{r['keras_spread'][1]:.0f}] "
            f"| {r['ours_ips']:.1f} | {r['keras_ips']:.1f} | {r['ratio']:.3f} "
            f"| {'yes' if r['ratio'] >= REQUIRED_RATIO else 'no'} |"
        )
    RESULTS.write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=96, help="input rows = cols (default 96)")
    parser.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per round (default 4)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model (default 3)")
    parser.add_argument("--only", choices=["ResNet-50", "MobileNet"], help="benchmark one pair")
    args = parser.parse_args()
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()[0]
    rows = []
    for name, build_ours, build_keras in pairs(args.size):
        if args.only and name != args.only:
            continue
        row = benchmark(name, build_ours, build_keras, args.batch, args.rounds, args.steps, args.warmup)
        print(f"{name}: ours {row['ours_ms']:.0f} ms/step, Keras {row['keras_ms']:.0f} ms/step, "
              f"ratio {row['ratio']:.3f}", flush=True)
        rows.append(row)
        keras.backend.clear_session()
    write_report(rows, args, load_start, os.getloadavg()[0], started)
    print(f"Wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS.name}")


if __name__ == "__main__":
    main()
