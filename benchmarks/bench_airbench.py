"""Side by side on one machine: airbench's own PyTorch airbench94 and the course's Keras 3 port.

The capstone's comparison (issue 15): the same data (the course's 45,000
CIFAR-10 training images of the offline mirror), the same number of epochs,
the same batch size (1,024), the same machine, one implementation after the
other, each in its own process with every core.

- **airbench**: the `airbench` package from PyPI, version 0.1.8, whose
  `train94` is Keller Jordan's legacy `airbench94.py` (checked line by line
  against `legacy/airbench94.py` of KellerJordan/cifar10-airbench: the same
  hyperparameters, network, data loader with the alternating flip, whitening,
  learning-rate schedule and lookahead). Its code is not part of the course:
  install it first (the `airbench` extra; it declares no dependencies):

      .venv/bin/python -m pip install airbench==0.1.8

  airbench is written for one CUDA GPU in float16. On a machine without one,
  this script runs it unchanged in float32 on the CPU by patching, at run time
  and nowhere else: `Module.half()` and `Module.cuda()` (called once by
  `make_net94`) leave the network as it is; the data loader keeps its
  tensors on the CPU in float32; `torch.cuda.Event` and
  `torch.cuda.synchronize` (airbench's timers) become CPU clocks. airbench
  also imports torchvision for one function, `transforms.Normalize`; where
  torchvision is missing or cannot load (PyPI's torchvision wheel needs
  PyPI's CUDA build of torch), a stand-in computing `(x - mean) / std` takes
  its place. The training loop, network, augmentation and optimizer are
  airbench's own code.
- **Keras port**: `course_lib.speedrun.build_model` trained by
  `course_lib.experiment.train` with `SpeedrunRecipe().with_epochs(E)`, the
  configuration of `scripts/speedrun.py`, on the backend `--backend` names
  (TensorFlow by default, `jit_compile=False`; JAX compiles the step with
  XLA), without validation.

On a machine with a CUDA GPU, airbench runs as published (float16,
channels-last, its data and augmentation on the GPU), after one untimed
warm-up run as `airbench94.py` does, and the port runs with the
"mixed_float16" policy (BatchNormalization computes in float32) and its
batches made on the device (`AugmentedBatches(on_device=True)`); the GPU
machine of the course's sessions has JAX but no TensorFlow (`--backend jax`).

What is timed: each run whole ("seconds per run", from the network's
construction, whitening included, to the last step, the GPU synchronised),
and each epoch's training (data augmentation included), from the first
batch drawn to the last step's end. airbench's loader drops the last
partial batch (43 steps of 1,024 images per epoch); the port keeps it (44
steps, 45,000 images), so the table gives images per second as well. The
epochs after the first show the steady state; the port's first epoch also
traces and compiles the training step (its excess over the later epochs,
`first_epoch_excess_seconds` in the JSON, is the compilation's cost). The
test accuracies after the run, without and with each implementation's six
test-time views, show that both really trained.

Writes the table, the machine and the command to
benchmarks/airbench_side_by_side.md. Run from the repository root:

    .venv/bin/python benchmarks/bench_airbench.py [--epochs 2]
    python benchmarks/bench_airbench.py --epochs 10 --runs 5 --backend jax --no-write   # on a GPU
"""

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("airbench_side_by_side.md")
AIRBENCH_VERSION = "0.1.8"
# SHA-256 of the two files of airbench 0.1.8 that train94 runs, as checked against legacy/airbench94.py.
AIRBENCH_FILES = {
    "lib_airbench94.py": "24c020d53fa9067a890adc987b3f2b47a71779dc176d74a7d7e15c1108257306",
    "utils.py": "a68736a100a0cbac3407338c568f2a76ec02eb761d8589bb1eda556077b137f2",
}


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each implementation")
    parser.add_argument("--runs", type=int, default=1, help="timed runs of each implementation")
    parser.add_argument("--backend", choices=("tensorflow", "jax", "torch"), default="tensorflow",
                        help="the port's Keras backend")
    parser.add_argument("--limit", type=int, help="train on the first N training images only (a smoke test)")
    parser.add_argument("--json", help="also write both implementations' results to this JSON file")
    parser.add_argument("--worker", choices=("airbench", "keras"), help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print the table without writing the results file")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.runs < 1 or (args.limit is not None and args.limit < 2048):
        parser.error("--epochs and --runs must be positive and --limit at least 2048 (two batches)")
    return args


def course_data(limit):
    """The course's training and test images (uint8, NHWC) and labels, as `scripts/train_zoo.py` splits them."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_zoo

    (x_train, y_train), _, (x_test, y_test) = train_zoo.training_data(limit)
    return x_train, y_train, x_test, y_test


# ---------------------------------------------------------------------------
# airbench, on the CPU


def import_airbench():
    """Imports airbench 0.1.8, with a stand-in for torchvision where it cannot load, and checks its files."""
    import importlib.metadata

    import torch

    try:
        import torchvision.transforms  # noqa: F401
    except Exception:  # missing, or PyPI's CUDA wheel beside a CPU build of torch
        for name in [name for name in sys.modules if name.split(".")[0] == "torchvision"]:
            del sys.modules[name]

        class Normalize:
            def __init__(self, mean, std):
                self.mean, self.std = torch.as_tensor(mean), torch.as_tensor(std)

            def __call__(self, x):
                shape = (-1, 1, 1)
                return (x - self.mean.to(x).view(shape)) / self.std.to(x).view(shape)

        torchvision = types.ModuleType("torchvision")
        torchvision.transforms = types.ModuleType("torchvision.transforms")
        torchvision.transforms.Normalize = Normalize
        torchvision.datasets = types.ModuleType("torchvision.datasets")  # only for downloads, never used here
        sys.modules.update({"torchvision": torchvision, "torchvision.transforms": torchvision.transforms,
                            "torchvision.datasets": torchvision.datasets})
    try:
        version = importlib.metadata.version("airbench")
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"airbench is not installed: .venv/bin/python -m pip install "
                         f"airbench=={AIRBENCH_VERSION}") from None
    if version != AIRBENCH_VERSION:
        raise SystemExit(f"airbench {AIRBENCH_VERSION} expected (the version checked against airbench94.py); "
                         f"found {version}.")
    import airbench
    import airbench.lib_airbench94
    import airbench.utils

    folder = Path(airbench.__file__).parent
    for name, expected in AIRBENCH_FILES.items():
        found = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        if found != expected:
            raise SystemExit(f"{folder / name} differs from the file checked against airbench94.py: "
                             f"SHA-256 {found}, expected {expected}.")
    return torch, airbench


class _CpuEvent:
    """`torch.cuda.Event` for airbench's own timers, on the CPU's clock."""

    def __init__(self, enable_timing=True):
        self.time = None

    def record(self):
        self.time = time.perf_counter()

    def elapsed_time(self, end):
        return 1000 * (end.time - self.time)


def run_airbench(epochs, limit, runs):
    with tempfile.TemporaryDirectory(prefix="airbench-") as folder:
        return _run_airbench(epochs, limit, runs, Path(folder))


def _run_airbench(epochs, limit, runs, folder):
    """airbench's train94 on the course's images, which it reads from `folder`/cifar10/*.pt."""
    torch, airbench = import_airbench()
    from unittest import mock

    from torch import nn

    on_gpu = torch.cuda.is_available()
    x_train, y_train, x_test, y_test = course_data(limit)
    torch.set_num_threads(os.cpu_count())
    (folder / "cifar10").mkdir()
    for name, (x, y) in {"train.pt": (x_train, y_train), "test.pt": (x_test, y_test)}.items():
        torch.save({"images": torch.from_numpy(x), "labels": torch.from_numpy(y.astype("int64")),
                    "classes": [str(c) for c in range(10)]}, folder / "cifar10" / name)
    synchronize = torch.cuda.synchronize if on_gpu else (lambda: None)
    epoch_starts, epoch_ends = [], []

    class TimedCifarLoader(airbench.utils.CifarLoader):
        """airbench's loader (on the CPU in float32 where there is no GPU), timing each epoch."""

        def __init__(self, path, train=True, batch_size=500, aug=None, drop_last=None, shuffle=None,
                     altflip=False, gpu=0):
            super().__init__(os.path.join(folder, path), train, batch_size, aug, drop_last, shuffle, altflip,
                             gpu if on_gpu else "cpu")
            if not on_gpu:
                self.images = self.images.float()

        def __iter__(self):
            # train94 breaks out of its last epoch after the last step: that epoch ends when train94 returns.
            synchronize()
            epoch_starts.append(time.perf_counter())
            yield from super().__iter__()
            synchronize()
            epoch_ends.append(time.perf_counter())

    def make_net94_cpu():
        with mock.patch.object(nn.Module, "half", lambda self: self), \
                mock.patch.object(nn.Module, "cuda", lambda self, *a, **k: self):
            return airbench.lib_airbench94.make_net94()

    hyp = airbench.lib_airbench94.hyp
    loader = TimedCifarLoader("cifar10", train=True, batch_size=hyp["opt"]["batch_size"], aug=hyp["aug"],
                              altflip=True)
    test_loader = TimedCifarLoader("cifar10", train=False, batch_size=2000)
    results = []
    with contextlib.ExitStack() as patches:
        # train94 makes its own test loader from the relative path "cifar10": this folder's copy.
        patches.enter_context(mock.patch.object(airbench.utils, "CifarLoader", TimedCifarLoader))
        if not on_gpu:
            patches.enter_context(mock.patch.object(torch.cuda, "Event", _CpuEvent))
            patches.enter_context(mock.patch.object(torch.cuda, "synchronize", lambda *a, **k: None))
        make_net = airbench.lib_airbench94.make_net94 if on_gpu else make_net94_cpu
        if on_gpu:
            # airbench94.py's own warm-up run, untimed: cuDNN chooses its kernels.
            airbench.train94(loader, epochs=epochs, make_net=make_net, verbose=False)
        for run in range(runs):
            torch.manual_seed(run)
            epoch_starts.clear()
            epoch_ends.clear()
            synchronize()
            start = time.perf_counter()
            model = airbench.train94(loader, epochs=epochs, make_net=make_net, verbose=False)
            synchronize()
            end = time.perf_counter()
            results.append({
                "seed": run, "seconds": end - start,
                "epoch_seconds": [b - a for a, b in zip(epoch_starts, [*epoch_ends[:len(epoch_starts) - 1], end])],
                "test_accuracy": airbench.utils.evaluate(model, test_loader),
                "test_accuracy_tta": airbench.utils.evaluate(model, test_loader, tta_level=hyp["net"]["tta_level"]),
            })
    parameters = next(model.parameters())
    return {"implementation": f"airbench {AIRBENCH_VERSION} (`train94`)",
            "framework": f"PyTorch {torch.__version__}, {parameters.dtype}, {parameters.device}",
            "device": torch.cuda.get_device_name(0) if on_gpu else None,
            "steps_per_epoch": len(loader), "images_per_epoch": len(loader) * loader.batch_size, "runs": results}


# ---------------------------------------------------------------------------
# The course's Keras 3 port


def run_keras(epochs, limit, runs, backend):
    os.environ["KERAS_BACKEND"] = backend
    sys.path.insert(0, str(ROOT))
    import keras

    from course_lib import experiment, speedrun
    from course_lib.runtime import processor_name, setup_notebook
    from course_lib.tta import TTAModel

    info = setup_notebook(seed=0)
    if info.gpu:
        keras.mixed_precision.set_global_policy("mixed_float16")
    x_train, y_train, x_test, y_test = course_data(limit)
    recipe = speedrun.SpeedrunRecipe().with_epochs(epochs)
    views, weights = speedrun.tta_views()
    results = []
    for seed in range(runs):
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        model = speedrun.build_model(x_train, seed=seed)
        history = experiment.train(model, recipe, (x_train, y_train), num_classes=10, seed=seed,
                                   batches_on_device=info.gpu)
        seconds = time.perf_counter() - start
        results.append({
            "seed": seed, "seconds": seconds, "epoch_seconds": [float(s) for s in history["seconds"]],
            "test_accuracy": experiment.evaluate(model, x_test, y_test, batch_size=500)["accuracy"],
            "test_accuracy_tta": experiment.evaluate(TTAModel(model, views, view_weights=weights), x_test, y_test,
                                                     batch_size=500)["accuracy"],
        })
        keras.backend.clear_session()
    precision = keras.mixed_precision.global_policy().name
    return {"implementation": "the course's port (`course_lib.speedrun`)",
            "framework": f"Keras {keras.__version__}, {info.backend} {info.backend_version}, {precision}, "
                         f"{'GPU, batches made on the device' if info.gpu else 'CPU'}",
            "device": info.device if info.gpu else None, "processor": processor_name(),
            "steps_per_epoch": -(-len(x_train) // recipe.batch_size), "images_per_epoch": len(x_train),
            "runs": results}


# ---------------------------------------------------------------------------
# The comparison


def summarize(result):
    """Adds the means over runs, and the steady state, to one implementation's result."""
    runs = result["runs"]
    first = np.mean([r["epoch_seconds"][0] for r in runs])
    later = [s for r in runs for s in r["epoch_seconds"][1:]]
    steady = float(np.median(later)) if later else first
    result.update(
        seconds=float(np.mean([r["seconds"] for r in runs])), first_epoch_seconds=float(first),
        later_epoch_seconds=steady, images_per_second=result["images_per_epoch"] / steady,
        # The first epoch's excess over the others: compilation, cuDNN's autotuning, first copies.
        first_epoch_excess_seconds=float(first - steady) if later else None,
        test_accuracy=float(np.mean([r["test_accuracy"] for r in runs])),
        test_accuracy_tta=float(np.mean([r["test_accuracy_tta"] for r in runs])),
    )
    return result


def table(results):
    lines = ["| implementation | framework | steps per epoch | runs | seconds per run | first epoch (s) | "
             "later epochs (s, median) | images/s after the first epoch | test accuracy | with TTA |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append(f"| {r['implementation']} | {r['framework']} | {r['steps_per_epoch']} | {len(r['runs'])} | "
                     f"{r['seconds']:.2f} | {r['first_epoch_seconds']:.2f} | {r['later_epoch_seconds']:.2f} | "
                     f"{r['images_per_second']:,.0f} | {r['test_accuracy']:.4f} | {r['test_accuracy_tta']:.4f} |")
    return "\n".join(lines)


def main(argv=None):
    args = parse(argv)
    if args.worker == "airbench":
        Path(args.output).write_text(json.dumps(run_airbench(args.epochs, args.limit, args.runs)))
        return 0
    if args.worker == "keras":
        Path(args.output).write_text(json.dumps(run_keras(args.epochs, args.limit, args.runs, args.backend)))
        return 0
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for worker in ("airbench", "keras"):
            output = Path(folder) / f"{worker}.json"
            command = [sys.executable, __file__, "--worker", worker, "--epochs", str(args.epochs),
                       "--runs", str(args.runs), "--backend", args.backend, "--output", str(output)]
            command += ["--limit", str(args.limit)] if args.limit else []
            print(f"{worker}: {args.runs} run(s) of {args.epochs} epoch(s)...", flush=True)
            subprocess.run(command, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            results.append(summarize(json.loads(output.read_text())))
            print(json.dumps(results[-1]), flush=True)
    ratio = results[1]["images_per_second"] / results[0]["images_per_second"]
    command = "python benchmarks/bench_airbench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    device = results[0]["device"] or f"{os.cpu_count()} cores, {results[1]['processor']}"
    report = (
        "# airbench94 side by side: airbench's PyTorch code and the course's Keras 3 port\n\n"
        "Written by `benchmarks/bench_airbench.py` (its docstring says what is timed and how airbench\n"
        "runs on a CPU). Same data (the offline mirror's "
        f"{results[1]['images_per_epoch']:,} training images), {args.epochs} epoch{'s' * (args.epochs != 1)}, "
        "batch 1,024, one after the other.\n"
        "Accuracies are means over the runs, on the 10,000 test images; TTA: airbench's 6 views (its\n"
        "`tta_level=2`, averaging logits) and the port's `speedrun.tta_views()` (averaging posteriors).\n\n"
        f"{table(results)}\n\n"
        f"**Port / airbench, images per second after the first epoch: {ratio:.2f}.**\n\n"
        f"- Machine: {platform.system()} {platform.machine()}, {device}; "
        f"date {datetime.date.today().isoformat()}.\n"
        f"- Command: `{command.strip()}`.\n"
    )
    print(report)
    if args.json:
        Path(args.json).write_text(json.dumps({"command": command.strip(), "results": results}, indent=2))
    if not args.no_write and not args.limit:
        tmp = RESULTS.with_suffix(".md.tmp")
        tmp.write_text(report)
        os.replace(tmp, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
