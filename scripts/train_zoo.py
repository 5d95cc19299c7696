"""Trains the course's recorded CIFAR-10 models (course_lib.zoo), one at a time, resumably.

    COURSE_DATA_DIR=/path/to/mirror python scripts/train_zoo.py resnet20 [more names | all]

For each name of `course_lib.zoo.ENTRIES`: the CIFAR-10 training set is split
into 45,000 training and 5,000 validation images (stratified, seed 0), the
entry's network is trained with its recipe and seed (deterministic kernels),
the test set is scored once (the record keeps every test image's predicted
class), and `data/zoo/NAME.{weights.h5,history.csv,json}` are written
atomically. `--add-predictions NAME` adds the predicted classes to a record
made before they were kept.

After every epoch the model, its optimizer and the history so far are saved in
`build/zoo/NAME/` (ignored by git). Run the same command again after an
interruption and training resumes from the last finished epoch; `--restart`
discards the checkpoint. The record's `seconds` adds up the pieces.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from course_lib import data, experiment, speedrun, zoo
from course_lib.analysis import count_macs
from course_lib.runtime import processor_name, setup_notebook
from course_lib.tta import TTAModel

VALIDATION_SIZE = 5000
SPLIT_SEED = 0
# Running-mean training losses of the first steps, kept in the record so that a
# test can re-run them from the seed (tests/lib/test_zoo.py).
FIRST_STEPS = 100
ROOT = Path(__file__).resolve().parent.parent
GPU_DIR = ROOT / "data" / "zoo" / "gpu"


def _atomic_write(path, write):
    """Calls `write(temporary_path)`, then moves the result onto `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        staged = Path(tmp) / path.name
        write(staged)
        os.replace(staged, path)


def _write_text(path, text):
    _atomic_write(path, lambda p: p.write_text(text))


class FirstSteps(keras.callbacks.Callback):
    """Keeps the running-mean loss after each of the first `steps` training steps."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        if len(self.losses) < self.steps:
            self.losses.append(float(logs["loss"]))


class Checkpoint(keras.callbacks.Callback):
    """After every epoch: the model with its optimizer, and the history and seconds so far.

    The history gains the 1-minute load average of the machine at the end of
    each epoch: a load above 2 on this 2-core CPU means that other work
    shared it and slowed the epoch down.
    """

    def __init__(self, folder, state, first_steps=None):
        super().__init__()
        self.folder = folder
        self.state = state
        self.first_steps = first_steps

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
               "load_average": os.getloadavg()[0]}
        self.state["history"].append(row)
        self.state["epochs_done"] = epoch + 1
        self.state["seconds"] += row["seconds"]
        if self.first_steps is not None and "first_steps" not in self.state:
            self.state["first_steps"] = self.first_steps.losses
        _atomic_write(self.folder / "model.keras", self.model.save)
        _write_text(self.folder / "state.json", json.dumps(self.state, indent=1))


def training_data(limit=None):
    """The 45,000 training and 5,000 validation images, and the 10,000 test images.

    `limit` keeps only the first `limit` training images (a smoke test).
    """
    splits = experiment.load_splits("cifar10", validation_size=VALIDATION_SIZE, seed=SPLIT_SEED)
    if limit:
        x, y = splits.train
        splits = experiment.Splits((x[:limit], y[:limit]), splits.validation, splits.test)
    return splits


def first_steps_model(name, recipe=None, limit=None):
    """The untrained classifier of `name` as its recorded run built it, with its batches.

    Seeds Keras with the entry's seed, builds the standardised network,
    compiles it with the recipe, and returns `(model, batches, statistics)`:
    the training batches of epoch 0 and the standardisation's statistics.
    `model.fit(batches, steps_per_epoch=k)` then repeats the recorded run's
    first k steps.
    """
    entry = zoo.ENTRIES[name]
    recipe = recipe or entry.recipe
    (x_train, y_train), _, _ = training_data(limit)
    keras.utils.set_random_seed(entry.seed)
    statistics = experiment.channel_statistics(x_train)
    model = zoo.build_classifier(name, **statistics)
    speedrun.fit_whitening(model, x_train)  # airbench94's first layer; no-op for the others
    batches = recipe.batches(x_train, y_train, num_classes=10, seed=entry.seed)
    experiment.compile_with(model, recipe, len(batches))
    return model, batches, statistics


def test_scores(model, recipe, x_test, y_test):
    """`experiment.evaluate` on the test set; with airbench's six views too for a `SpeedrunRecipe`."""
    test = experiment.evaluate(model, x_test, y_test)
    if isinstance(recipe, speedrun.SpeedrunRecipe):
        views, weights = speedrun.tta_views()
        with_views = experiment.evaluate(TTAModel(model, views, view_weights=weights), x_test, y_test,
                                         batch_size=500)
        test.update({f"{key}_tta": with_views[key] for key in ("accuracy", "correct", "predictions")})
    return test


def _prediction_fields(test):
    """The record's fields of predicted classes, one digit per test image."""
    fields = {"test_predictions": zoo.encode_predictions(test["predictions"])}
    if "predictions_tta" in test:
        fields["test_predictions_tta"] = zoo.encode_predictions(test["predictions_tta"])
    return fields


def add_predictions(name):
    """Adds the predicted classes to a record made before they were kept, after checking its accuracies.

    The recorded model is re-scored on the whole test set; the record is
    rewritten (atomically, its other fields unchanged) only if the number of
    correct answers is the recorded one, with one view and, where recorded,
    with six.
    """
    record = zoo.record(name)
    setup_notebook(seed=record["seed"], deterministic=True, verbose=False)
    _, _, (x_test, y_test) = training_data()
    test = test_scores(zoo.load(name), zoo.ENTRIES[name].recipe, x_test, y_test)
    recorded = {"correct": record["test_correct"], "accuracy_tta": record.get("test_accuracy_tta")}
    if test["correct"] != recorded["correct"] or test.get("accuracy_tta") != recorded["accuracy_tta"]:
        raise SystemExit(f"{name}: re-scored {test['correct']} correct ({test.get('accuracy_tta')} with six views), "
                         f"recorded {recorded['correct']} ({recorded['accuracy_tta']}): record left unchanged")
    record.update(_prediction_fields(test))
    _write_text(zoo.files(name)["record"], json.dumps(record, indent=2) + "\n")
    print(f"{name}: predictions added ({test['correct']:,} correct, as recorded)", flush=True)


def train_one(name, restart=False, verbose=2, epochs=None, limit=None, out=None):
    entry = zoo.ENTRIES[name]
    recipe = entry.recipe if epochs is None else entry.recipe.replace(epochs=epochs)
    info = setup_notebook(seed=entry.seed, deterministic=True)
    splits = training_data(limit)
    (x_train, y_train), validation, (x_test, y_test) = splits
    folder = ROOT / "build" / "zoo" / (name if out is None else f"{name}-smoke")
    if restart and folder.exists():
        shutil.rmtree(folder)
    state_file = folder / "state.json"
    first_steps = None
    if state_file.is_file():
        state = json.loads(state_file.read_text())
        model = keras.models.load_model(folder / "model.keras")
        state["pieces"] += 1
        print(f"{name}: resuming after epoch {state['epochs_done']} of {recipe.epochs}", flush=True)
    else:
        model, _, statistics = first_steps_model(name, recipe, limit)
        state = {"epochs_done": 0, "seconds": 0.0, "pieces": 1, "history": [],
                 "standardization": statistics}
        first_steps = FirstSteps(FIRST_STEPS)
        folder.mkdir(parents=True, exist_ok=True)
    checkpoint = Checkpoint(folder, state, first_steps)
    if state["epochs_done"] < recipe.epochs:
        experiment.train(
            model, recipe, (x_train, y_train), validation, num_classes=10, seed=entry.seed,
            callbacks=[c for c in (first_steps, checkpoint) if c is not None],
            initial_epoch=state["epochs_done"], verbose=verbose,
        )
    test = test_scores(model, recipe, x_test, y_test)

    paths = zoo.files(name, out)
    _atomic_write(paths["weights"], model.save_weights)
    history = pd.DataFrame(state["history"]).set_index("epoch")
    _atomic_write(paths["history"], lambda p: history.to_csv(p, float_format="%.6g"))
    network = model.layers[-1]
    record = {
        "name": name,
        "architecture": entry.architecture,
        "builder": entry.builder_call,
        "notebook": entry.notebook,
        "command": " ".join(["python scripts/train_zoo.py", name]
                            + ([f"--epochs {epochs}"] if epochs is not None else [])
                            + ([f"--limit {limit}"] if limit else [])),
        "seed": entry.seed,
        "recipe": recipe.to_dict(),
        "data": {
            "dataset": "cifar10",
            "source": data.data_source("cifar10"),
            "train_images": int(len(x_train)),
            "validation_images": int(len(validation[0])),
            "validation_split": f"course_lib.experiment.split_validation(validation_size={VALIDATION_SIZE}, seed={SPLIT_SEED})",
            "test_images": int(len(x_test)),
        },
        "standardization": state["standardization"],
        "parameters": int(model.count_params()),
        "trainable_parameters": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
        "multiply_adds": int(count_macs(network)),
        "test_accuracy": test["accuracy"],
        "test_correct": test["correct"],
        "test_crossentropy": round(test["crossentropy"], 6),
        **({"test_accuracy_tta": test["accuracy_tta"]} if "accuracy_tta" in test else {}),
        "validation_accuracy": float(history["val_accuracy"].iloc[-1]),
        "train_accuracy": float(history["accuracy"].iloc[-1]),
        "seconds": round(state["seconds"], 1),
        "pieces": state["pieces"],
        "trained_with": {
            "python": platform.python_version(),
            "keras": keras.__version__,
            "backend": info.backend,
            "backend_version": info.backend_version,
            "device": info.device,
            "processor": processor_name(),
            "deterministic": True,
        },
        "date": datetime.date.today().isoformat(),
        "weights": paths["weights"].name,
        "sha256": data.sha256_of(paths["weights"]),
        "history": paths["history"].name,
        "first_steps_loss": [round(v, 6) for v in state.get("first_steps", [])],
        **_prediction_fields(test),
    }
    _write_text(paths["record"], json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: record[k] for k in ("name", "test_accuracy", "seconds", "parameters", "multiply_adds")}),
          flush=True)
    return record


def write_report(path=ROOT / "benchmarks" / "zoo.md"):
    """Writes the table of the recorded runs (benchmarks/zoo.md) from their records."""
    lines = [
        "# The model zoo: recorded CIFAR-10 runs",
        "",
        "The CIFAR-10 variants of the Part III architectures (`course_lib.zoo`), each trained with",
        "the course's recipe, and the capstone's airbench networks, trained with airbench's",
        "(`course_lib.speedrun`), on 45,000 training images (5,000 carved out for validation) and tested",
        "once on the 10,000 test images of the offline mirror (a JPEG copy of CIFAR-10, so",
        "accuracies are close to, not equal to, those on the original arrays). Written by",
        "`python scripts/train_zoo.py --report` from the records in `data/zoo/`.",
        "",
        "Not recorded yet: " + (", ".join(f"`{name}`" for name in zoo.ENTRIES if name not in zoo.recorded())
                                or "none") + " (`python scripts/train_zoo.py NAME` records one).",
        "",
        "| model | builder | parameters | multiply-adds (M) | epochs | minutes | mean load | "
        "validation | test | test, six views | device | date |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for name in zoo.recorded():
        record = zoo.record(name)
        history = zoo.history(name)
        six_views = f"{record['test_accuracy_tta']:.4f}" if "test_accuracy_tta" in record else ""
        lines.append(
            f"| {record['architecture']} | `{record['builder']}` | {record['parameters']:,} | "
            f"{record['multiply_adds'] / 1e6:.1f} | {record['recipe']['epochs']} | "
            f"{record['seconds'] / 60:.1f} | {history['load_average'].mean():.1f} | "
            f"{record['validation_accuracy']:.4f} | {record['test_accuracy']:.4f} | {six_views} | "
            f"{record['trained_with']['device']}, {record['trained_with']['backend']} "
            f"{record['trained_with']['backend_version']} | {record['date']} |"
        )
    lines += [
        "",
        "Minutes are the wall-clock training time (all epochs, validation included). The mean load",
        "is the machine's 1-minute load average at the end of each epoch: about 2 on this 2-core",
        "CPU when the training had it to itself, more when other work shared it.",
        "",
    ] + _gpu_report_lines()
    path.write_text("\n".join(lines))
    return path


def _gpu_report_lines():
    """The report's section on the runs of the same entries on a GPU (data/zoo/gpu/)."""
    rows = []
    for name in zoo.ENTRIES:
        path = GPU_DIR / f"{name}.json"
        if not path.is_file():
            continue
        gpu = json.loads(path.read_text())
        entry = zoo.ENTRIES[name]
        # A GPU run of an earlier version of the entry (another builder call or number of
        # epochs) is listed, but not compared with the CPU record of the current one.
        current = gpu["builder"] == entry.builder_call and gpu["recipe"]["epochs"] == entry.recipe.epochs
        cpu = zoo.record(name) if name in zoo.recorded() else None
        if not current:
            compared = "earlier entry: not compared | | |"
        elif cpu:
            compared = f"{cpu['seconds'] / 60:.1f} | {cpu['test_accuracy']:.4f} | {cpu['seconds'] / gpu['seconds']:.0f}x |"
        else:
            compared = "not recorded | | |"
        rows.append(
            f"| {gpu['architecture']} | `{gpu['builder']}` | {gpu['recipe']['epochs']} | {gpu['seconds']:.0f} | "
            f"{gpu['test_accuracy']:.4f} | " + compared
            + f" {gpu['trained_with']['device']}, {gpu['trained_with']['backend']} "
            f"{gpu['trained_with']['backend_version']} | {gpu['date']} |"
        )
    if not rows:
        return []
    return [
        "## The same runs on a GPU",
        "",
        "Records in `data/zoo/gpu/` (history and record, no weights): the same command, seed and",
        "recipe, with `KERAS_BACKEND=jax` and `XLA_FLAGS=--xla_gpu_deterministic_ops=true`. See",
        "`data/zoo/gpu/README.md` for how they were run (three runs shared the GPU at a time, so",
        "the seconds are an upper bound on one run alone; the first epoch includes XLA compilation).",
        "",
        "| model | builder | epochs | GPU seconds | GPU test | CPU minutes | CPU test | CPU/GPU time | GPU | date |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        *rows,
        "",
        "CPU and GPU test accuracies differ a little because the kernels differ (other summation",
        "orders, other rounding); the batches and their augmentation come from the same NumPy seed.",
        "",
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # No `choices`: argparse rejects an empty list against them (`--report` alone).
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"entries of course_lib.zoo.ENTRIES ({', '.join(zoo.ENTRIES)}), or all")
    parser.add_argument("--restart", action="store_true", help="discard checkpoints and start over")
    parser.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity (0, 1, 2)")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs (with --out)")
    parser.add_argument("--limit", type=int, help="train on the first N images only (with --out)")
    parser.add_argument("--out", type=Path, help="write the files here instead of data/zoo/")
    parser.add_argument("--add-predictions", action="store_true",
                        help="add the predicted classes to the records of NAMEs, recorded before they were kept")
    parser.add_argument("--report", action="store_true",
                        help="write benchmarks/zoo.md from the records (after training NAMEs, if any)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - {"all", *zoo.ENTRIES})
    if unknown:
        parser.error(f"unknown NAME {', '.join(unknown)}: choose from all, {', '.join(zoo.ENTRIES)}")
    if not args.names and not args.report:
        parser.error("name at least one model (or all), or pass --report")
    if (args.epochs or args.limit) and not args.out:
        parser.error("--epochs and --limit change the recorded run: write it elsewhere with --out")
    names = list(zoo.ENTRIES) if "all" in args.names else args.names
    if args.add_predictions:
        for name in names:
            if name in zoo.recorded() and "test_predictions" not in zoo.record(name):
                add_predictions(name)
        names = []
    for name in names:
        start = time.time()
        train_one(name, restart=args.restart, verbose=args.verbose, epochs=args.epochs,
                  limit=args.limit, out=args.out)
        print(f"{name}: done in {time.time() - start:.0f} s wall-clock", flush=True)
    if args.report:
        print(f"wrote {write_report()}")


if __name__ == "__main__":
    sys.exit(main())
