"""Benchmark of a grouped convolution: Keras's `Conv2D(groups=g)` against `GroupedConv2D`.

`course_lib.layers.GroupedConv2D` has the weights of `keras.layers.Conv2D(filters,
kernel_size, groups=g)` and computes one ordinary convolution per group. This
script times one compiled training step (`train_on_batch`, SGD, mean squared
error on random data) of each, for several numbers of groups, on the backend
named by KERAS_BACKEND (default TensorFlow), after untimed warm-up steps. The two
layers are timed in interleaved rounds so that a change in the machine's load
hits both alike; the table gives the median step time over all rounds.

Writes benchmarks/grouped_conv.md (the table, the machine, the command). Run from
the repository root:

    .venv/bin/python benchmarks/bench_grouped_conv.py [--rounds 3] [--steps 3]
"""

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from course_lib.layers import GroupedConv2D  # noqa: E402
from course_lib.runtime import backend_device  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "grouped_conv.md"
# A ResNeXt-like 3x3 stage: 128 channels in and out at 16x16, batch 128.
SHAPE, FILTERS, BATCH = (16, 16, 128), 128, 128


def model_with(layer):
    inputs = keras.Input(SHAPE)
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=False)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 2, 8, 32])
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, *SHAPE)).astype("float32")
    y = rng.normal(size=(BATCH, *SHAPE[:2], FILTERS)).astype("float32")
    rows = []
    for groups in args.groups:
        models = {
            "keras.layers.Conv2D": model_with(keras.layers.Conv2D(FILTERS, 3, padding="same", groups=groups)),
            "GroupedConv2D": model_with(GroupedConv2D(FILTERS, 3, padding="same", groups=groups)),
        }
        times = {name: [] for name in models}
        for model in models.values():
            model.train_on_batch(x, y)  # warm-up: tracing and allocation
        for _ in range(args.rounds):
            for name, model in models.items():
                for _ in range(args.steps):
                    start = time.perf_counter()
                    model.train_on_batch(x, y)
                    times[name].append(time.perf_counter() - start)
        medians = {name: float(np.median(t)) for name, t in times.items()}
        rows.append((groups, medians["keras.layers.Conv2D"], medians["GroupedConv2D"]))
        print(f"groups {groups:>2}: Conv2D {1e3 * rows[-1][1]:8.1f} ms, GroupedConv2D {1e3 * rows[-1][2]:7.1f} ms",
              flush=True)
    _, device, _ = backend_device()
    lines = [
        "# Grouped convolution: `keras.layers.Conv2D(groups=g)` vs `GroupedConv2D`",
        "",
        f"One training step of a 3x3 convolution, {SHAPE[2]} channels in and {FILTERS} out at "
        f"{SHAPE[0]}x{SHAPE[1]}, batch {BATCH}: median over {args.rounds} interleaved rounds of "
        f"{args.steps} steps. Both layers have the same weights; `GroupedConv2D` computes one "
        "convolution per group and concatenates the results.",
        "",
        "| groups | `Conv2D(groups=g)` (ms) | `GroupedConv2D` (ms) | ratio |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for groups, keras_time, ours in rows:
        lines.append(f"| {groups} | {1e3 * keras_time:.1f} | {1e3 * ours:.1f} | {keras_time / ours:.1f}x |")
    lines += [
        "",
        f"Machine: {keras.backend.backend()} {backend_device()[0]} on {device}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, Keras {keras.__version__}; load average at the end "
        f"{os.getloadavg()[0]:.2f}; {datetime.date.today().isoformat()}.",
        "",
        f"Command: `{' '.join(['.venv/bin/python', 'benchmarks/bench_grouped_conv.py', *sys.argv[1:]])}`",
        "",
    ]
    OUTPUT.write_text("\n".join(lines))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
