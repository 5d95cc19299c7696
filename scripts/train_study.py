"""Trains the course's recorded studies (course_lib.studies), run by run, resumably.

    COURSE_DATA_DIR=/path/to/mirror python scripts/train_study.py NAME [NAME ...]

A study is a controlled experiment: its variants differ in one factor, and
each variant is trained once per seed with the same data, recipe and seeds
(so seed by seed the variants share their batches, and their initial weights
where the architectures match). Every run is trained to the end of its
schedule, scored once on the test set, and written to `data/studies/NAME/`
as soon as it is finished (`VARIANT.seedS.csv`, and the weights for studies
that keep them), with `study.json` rewritten atomically to list it with its
SHA-256, seconds and processor. The runs go seed by seed, so an interrupted
study holds complete seeds for as many variants as possible.

After every epoch the run's model, optimizer and history are saved in
`build/studies/NAME/` (ignored by git). Run the same command again after an
interruption and the study goes on from the last finished epoch of the run
in progress; the runs already in `data/studies/NAME/` are not trained again
(a later session, on a fresh clone, resumes at the first missing run).
`--smoke` trains every variant of a study for one epoch on a few hundred
images, into a temporary folder, to test the script.
"""

import argparse
import dataclasses
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

from course_lib import data, experiment, studies
from course_lib._keras_compat import set_random_seed_keeping_traces
from course_lib.runtime import enable_determinism, processor_name

ROOT = Path(__file__).resolve().parent.parent
VALIDATION_SIZE = 5000
SPLIT_SEED = 0


# --------------------------------------------------------------------------------------------
# The studies' networks. Each is the network of its notebook, written again here so that the
# study does not depend on a notebook's cells; the notebook shows (and builds) the same one.


def conv_bn_relu(filters, strides=1):
    return [
        keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
    ]


def conv_trunk(inputs):
    """Notebook 16's trunk: three 3x3 conv-BN-ReLU layers (32, 64, 64 filters), two 2x2 max poolings."""
    x = inputs
    for filters, pool in ((32, True), (64, True), (64, False)):
        for layer in conv_bn_relu(filters):
            x = layer(x)
        if pool:
            x = keras.layers.MaxPooling2D(2)(x)
    return x


CANVAS = 40  # notebook 16: CIFAR-10 images in the centre of a 40x40 black canvas
PAD = (CANVAS - 32) // 2


def head_net(head):
    """Notebook 16's network with a Flatten + Dense or a GAP + Dense head, on the 40x40 canvas."""
    inputs = keras.Input((CANVAS, CANVAS, 3))
    features = conv_trunk(inputs)
    if head == "flatten":
        pooled = keras.layers.Flatten()(features)
    else:
        pooled = keras.layers.GlobalAveragePooling2D()(features)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(pooled), name=f"{head}_head")


def on_canvas(images, shift=0):
    """Places 32x32 images in the centre of the canvas, moved by `shift` pixels right and down."""
    canvas = np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))
    return np.roll(canvas, (shift, shift), axis=(1, 2))


def cifar_net(depth, residual, width):
    """Notebook 18's 6n + 2 layer CIFAR network of He et al. (2016, section 4.2), plain or residual."""
    from course_lib.layers import ResidualBlock

    blocks = (depth - 2) // 6
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for layer in conv_bn_relu(width):
        x = layer(x)
    for stage, filters in enumerate((width, 2 * width, 4 * width)):
        for i in range(blocks):
            strides = 2 if (i == 0 and stage > 0) else 1
            if residual:
                x = ResidualBlock(filters, strides=strides)(x)
            else:
                for layer in conv_bn_relu(filters, strides) + conv_bn_relu(filters):
                    x = layer(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=f"{'residual' if residual else 'plain'}{depth}")


def _resnet8_grey():
    from course_lib.models import resnet_cifar

    return resnet_cifar(8, input_shape=(28, 28, 1))


# --------------------------------------------------------------------------------------------
# The studies.


@dataclasses.dataclass
class Study:
    """One recorded study: its variants (network and recipe each), seeds and data.

    Attributes:
        name: the folder under data/studies/.
        notebook: the notebook that reads it.
        lesson: what the study is to show, in one sentence.
        splits: a function returning the `experiment.Splits` (images as stored).
        variants: name -> (function building the network, `experiment.Recipe`).
        seeds: the seeds, one run per variant each.
        conditions: None, or a function `(model, splits) -> list of dicts`
            scoring the trained model under extra test conditions (each
            dict: the condition's columns, "validation_accuracy" and
            "test_accuracy").
        condition_columns: the columns the conditions add.
        keep_weights: whether to record the trained weights.
        data_description: the data, in words, for the record.
        trainer: None to train each run with `experiment.train` and the
            variant's recipe (`train_run`), or a function `(study, variant,
            seed, splits, smoke) -> (rows, model)` for a study whose runs
            are not one `fit` with a `Recipe` (fine-tuning's two phases).
    """

    name: str
    notebook: str
    lesson: str
    splits: object
    variants: dict
    seeds: tuple
    data_description: str
    conditions: object = None
    condition_columns: tuple = ()
    keep_weights: bool = False
    trainer: object = None


def gap_vs_flatten_splits():
    splits = experiment.load_splits("cifar10", validation_size=VALIDATION_SIZE, train_per_class=1000, seed=SPLIT_SEED)
    return experiment.Splits(*[(on_canvas(x), y) for x, y in splits])


def shifted_scores(model, splits):
    """Accuracy on the validation and test images moved by 0 to PAD pixels on the canvas."""
    rows = []
    (_, _), (x_val, y_val), (x_test, y_test) = splits
    centre = slice(PAD, PAD + 32)
    for shift in range(PAD + 1):
        # The splits are already on the canvas: take the image back out and move it.
        moved = [on_canvas(x[:, centre, centre], shift) for x in (x_val, x_test)]
        rows.append({
            "shift": shift,
            "validation_accuracy": experiment.evaluate(model, moved[0], y_val)["accuracy"],
            "test_accuracy": experiment.evaluate(model, moved[1], y_test)["accuracy"],
        })
    return rows


def full_splits():
    return experiment.load_splits("cifar10", validation_size=VALIDATION_SIZE, seed=SPLIT_SEED)


DEGRADATION_WIDTH = 8  # filters of the first stage (the paper's 16, halved to fit the CPU budget)
DEGRADATION_RECIPE = experiment.Recipe(epochs=20, batch_size=128, learning_rate=0.1, warmup_epochs=1)

def trap_splits():
    """MNIST with a channel axis: 200 training images per class, 5,000 validation, 10,000 test."""
    splits = experiment.load_splits("mnist", validation_size=VALIDATION_SIZE, train_per_class=200, seed=SPLIT_SEED)
    return experiment.Splits(*[(x[..., None], y) for x, y in splits])


# Notebook 08's trap: 3 epochs of 2,000 images in batches of 64 are 96 steps, after which
# Keras's momentum of 0.99 leaves 0.99^96 = 38 % of the initial moving statistics.
TRAP_RECIPE = experiment.Recipe(epochs=3, batch_size=64, warmup_epochs=0.5, flip=False, translate=2)


@dataclasses.dataclass(frozen=True)
class FineTuning:
    """The two phases of a fine-tuning run (notebook 12), as a recipe-like record.

    Phase 1 trains a new head on the frozen backbone (`head_epochs` at Adam's
    `head_learning_rate`); phase 2 trains for `tune_epochs` more at
    `tune_learning_rate` with `trainable` layers free: "head" (the backbone
    stays frozen: the control), "last stage" (stage 3 and the head) or
    "whole" (every layer). Only `trainable` differs between the variants of
    one size: the same phase 1, the same rate and number of steps in phase 2.
    BatchNormalization stays in inference mode throughout
    (`build_transfer_model`).
    """

    images_per_class: int
    trainable: str
    head_epochs: int = 30
    tune_epochs: int = 30
    head_learning_rate: float = 1e-2
    tune_learning_rate: float = 1e-3
    batch_size: int = 50
    warmup_epochs: float = 0  # (for `definition`'s smoke settings)

    @property
    def epochs(self):
        return self.head_epochs + self.tune_epochs

    def replace(self, epochs=None, **changes):
        if epochs is not None:
            changes.update(head_epochs=max(1, epochs // 2), tune_epochs=max(1, epochs - epochs // 2))
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return {**dataclasses.asdict(self), "epochs": self.epochs}


FINE_TUNING_SIZES = (20, 40, 100)
FINE_TUNING_LAYERS = {"head": None, "last-stage": "stage3_block1", "whole": "all"}


def fine_tuning_splits():
    """The target task's pool (minus 100 validation images per class) and all its 5,000 test images."""
    from course_lib import pretrained

    (x_train, y_train), (x_test, y_test) = data.load_dataset("cifar10")
    _, (x_target, y_target) = pretrained.split_source_target(x_train, y_train)
    _, test = pretrained.split_source_target(x_test, y_test)
    pool, validation = experiment.split_validation(x_target, y_target, validation_size=500, seed=SPLIT_SEED)
    return experiment.Splits(pool, validation, test)


def fine_tuning_run(study, variant, seed, splits, smoke=False):
    """One fine-tuning run: the seed draws the training subset, the head's initial weights and the batches."""
    from course_lib import pretrained
    from course_lib.transfer import build_transfer_model, set_trainable

    _, settings = study.variants[variant]
    if smoke:
        settings = settings.replace(epochs=2, images_per_class=min(settings.images_per_class, 10))
    (x_pool, y_pool), validation, (x_test, y_test) = splits
    x_run, y_run = data.subset(x_pool, y_pool, settings.images_per_class, seed=seed)
    keras.utils.set_random_seed(seed)
    model = build_transfer_model(pretrained.load_backbone(), classes=5)
    rows = []
    for phase, epochs, rate in (("head", settings.head_epochs, settings.head_learning_rate),
                                ("tune", settings.tune_epochs, settings.tune_learning_rate)):
        if phase == "tune" and settings.trainable != "head":
            layer = FINE_TUNING_LAYERS[settings.trainable]
            set_trainable(model, from_layer=None if layer == "all" else layer)
        model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy",
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        history = model.fit(x_run, y_run, batch_size=settings.batch_size, epochs=epochs, verbose=0,
                            validation_data=validation, validation_batch_size=experiment.EVALUATION_BATCH_SIZE,
                            callbacks=[experiment.EpochTimer()])
        for i in range(epochs):
            rows.append({"epoch": len(rows) + 1, "phase": phase,
                         "train_accuracy": history.history["accuracy"][i],
                         "validation_accuracy": history.history["val_accuracy"][i],
                         "seconds": history.history["seconds"][i], "loss": history.history["loss"][i],
                         "images_per_class": settings.images_per_class})
    rows[-1]["validation_accuracy"] = experiment.evaluate(model, *validation)["accuracy"]
    rows[-1]["test_accuracy"] = experiment.evaluate(model, x_test, y_test)["accuracy"]
    return rows, model


STUDIES = {
    "gap_vs_flatten": Study(
        name="gap_vs_flatten",
        notebook="16_nin_and_global_pooling",
        lesson="A GAP head is less hurt than a Flatten head when the object moves, at a plateau.",
        splits=gap_vs_flatten_splits,
        variants={head: (lambda head=head: head_net(head), experiment.Recipe(epochs=30, batch_size=64, translate=0))
                  for head in ("flatten", "gap")},
        seeds=(0, 1, 2),
        data_description=("CIFAR-10, 1,000 training images per class (10,000) and 5,000 validation images "
                          "carved out of the training set, all 10,000 test images; each image in the centre "
                          f"of a {CANVAS}x{CANVAS} black canvas; trained centred, with flips and no shifts"),
        conditions=shifted_scores,
        condition_columns=("shift",),
    ),
    "degradation": Study(
        name="degradation",
        notebook="18_resnet",
        lesson=("He et al.'s degradation: the deeper plain network has the higher training error; "
                "the residual network of the same depth has a lower one."),
        splits=full_splits,
        variants={f"{kind}-{depth}": (lambda depth=depth, kind=kind: cifar_net(depth, kind == "residual",
                                                                                  DEGRADATION_WIDTH),
                                      DEGRADATION_RECIPE)
                  for depth in (20, 56) for kind in ("plain", "residual")},
        seeds=(0, 1, 2),
        data_description=("CIFAR-10, all 45,000 training images (5,000 carved out for validation), "
                          "all 10,000 test images; flips and 4-pixel shifts"),
        keep_weights=True,
    ),
    "batchnorm_trap": Study(
        name="batchnorm_trap",
        notebook="08_batch_normalization",
        lesson=("A network that has learned (over 90 % training accuracy in 96 steps) scores far lower on "
                "validation images with Keras's BatchNormalization momentum (0.99); a momentum for the run's "
                "length, or statistics re-estimated after training, close the gap without changing a weight."),
        splits=trap_splits,
        variants={
            "keras-momentum": (lambda: _resnet8_grey(), TRAP_RECIPE.replace(batchnorm_momentum=0.99)),
            "momentum-for-the-run": (lambda: _resnet8_grey(), TRAP_RECIPE),
            "re-estimated": (lambda: _resnet8_grey(),
                             TRAP_RECIPE.replace(batchnorm_momentum=0.99, recompute_batchnorm=True)),
        },
        seeds=(0, 1, 2, 3, 4),
        data_description=("MNIST, 200 training images per class (2,000) and 5,000 validation images carved out "
                          "of the training set, all 10,000 test images; shifts of up to 2 pixels, no flips"),
    ),
    "fine_tuning": Study(
        name="fine_tuning",
        notebook="12_transfer_learning_and_fine_tuning",
        lesson=("Which layers to fine-tune, one factor at a time: after the same new head, the same number of "
                "steps at the same rate with the head alone, the last stage, or the whole network free."),
        splits=fine_tuning_splits,
        variants={f"{trainable}-{size}": (None, FineTuning(size, trainable))
                  for size in FINE_TUNING_SIZES for trainable in FINE_TUNING_LAYERS},
        seeds=(0, 1, 2, 3, 4),
        data_description=("CIFAR-10's target task of the course's backbone (dog, frog, horse, ship, truck): "
                          "20, 40 or 100 training images per class drawn by the seed from the target training "
                          "images minus 100 validation images per class; all 5,000 target test images; "
                          "no augmentation"),
        trainer=fine_tuning_run,
    ),
}


# --------------------------------------------------------------------------------------------
# Training and recording.


def _atomic_write(path, write):
    """Calls `write(temporary_path)`, then moves the result onto `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        staged = Path(tmp) / path.name
        write(staged)
        os.replace(staged, path)


def _write_json(path, content):
    _atomic_write(path, lambda p: p.write_text(json.dumps(content, indent=1) + "\n"))


class Checkpoint(keras.callbacks.Callback):
    """After every epoch: the model with its optimizer, and the rows and seconds so far."""

    def __init__(self, folder, state):
        super().__init__()
        self.folder = folder
        self.state = state

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.state["rows"].append({
            "epoch": epoch + 1,
            "train_accuracy": float(logs["accuracy"]),
            "validation_accuracy": float(logs["val_accuracy"]),
            "seconds": float(logs["seconds"]),
            "loss": float(logs["loss"]),
            "validation_loss": float(logs["val_loss"]),
            "learning_rate": float(logs["learning_rate"]),
            "load_average": os.getloadavg()[0],
        })
        self.state["epochs_done"] = epoch + 1
        _atomic_write(self.folder / "model.keras", self.model.save)
        _write_json(self.folder / "state.json", self.state)


def definition(study, smoke=False):
    """What a study trains, as recorded (a study resumed with another definition is refused)."""
    return {
        "name": study.name,
        "notebook": study.notebook,
        "lesson": study.lesson,
        "data": study.data_description + (" (smoke test: 500 training images, 1 epoch)" if smoke else ""),
        "variants": list(study.variants),
        "recipes": {name: recipe.replace(epochs=1, warmup_epochs=0).to_dict() if smoke else recipe.to_dict()
                    for name, (_, recipe) in study.variants.items()},
        "seeds": list(study.seeds),
        "conditions": list(study.condition_columns),
        "validation_split": (f"course_lib.experiment.split_validation(validation_size={VALIDATION_SIZE}, "
                             f"seed={SPLIT_SEED})"),
    }


def train_run(study, variant, seed, splits, checkpoints, smoke=False, verbose=2):
    """Trains one (variant, seed) with `experiment.train`, resumably; returns its rows and model.

    The rows are one per epoch; the last epoch's validation and test
    accuracies are those of the final model (after any re-estimation of the
    BatchNormalization statistics), and the test set is scored only there.
    """
    build, recipe = study.variants[variant]
    if smoke:
        recipe = recipe.replace(epochs=1, warmup_epochs=0)
    (x_train, y_train), validation, (x_test, y_test) = splits
    work = checkpoints / f"{variant}.seed{seed}"
    state_file = work / "state.json"
    if state_file.is_file():
        state = json.loads(state_file.read_text())
        model = keras.models.load_model(work / "model.keras")
        state["pieces"] += 1
        print(f"{study.name} {work.name}: resuming after epoch {state['epochs_done']} of {recipe.epochs}", flush=True)
    else:
        set_random_seed_keeping_traces(seed)
        model = experiment.with_standardization(build(), x_train, standardize=recipe.standardize)
        state = {"epochs_done": 0, "pieces": 1, "rows": []}
        work.mkdir(parents=True, exist_ok=True)
    if state["epochs_done"] < recipe.epochs:
        # The re-estimation of the BatchNormalization statistics is done below, once, so that a
        # resumed run does it too.
        experiment.train(model, recipe.replace(recompute_batchnorm=False), (x_train, y_train), validation,
                         num_classes=10, seed=seed, callbacks=[Checkpoint(work, state)],
                         initial_epoch=state["epochs_done"], verbose=verbose)
    if recipe.recompute_batchnorm:
        from course_lib.batchnorm import recompute_batchnorm_statistics

        recompute_batchnorm_statistics(model, np.asarray(x_train[:10_000]), recipe.batch_size)
    rows = [dict(row, pieces=state["pieces"]) for row in state["rows"]]
    rows[-1]["validation_accuracy"] = experiment.evaluate(model, *validation)["accuracy"]
    rows[-1]["test_accuracy"] = experiment.evaluate(model, x_test, y_test)["accuracy"]
    return rows, model


def record_run(study, variant, seed, rows, model, splits, folder):
    """Writes a finished run's table (and weights) into `folder`; returns its entry for study.json."""
    rows = [dict(row) for row in rows]
    pieces = rows[-1].pop("pieces", 1)
    for row in rows:
        row.pop("pieces", None)
        row.setdefault("test_accuracy", np.nan)
    last = rows[-1]
    if study.conditions is not None:
        for column in study.condition_columns:
            for row in rows:
                row[column] = 0
        for condition in study.conditions(model, splits):
            if all(condition[c] == last[c] for c in study.condition_columns):
                last.update(condition)
            else:
                rows.append({**{k: v for k, v in last.items() if k in ("epoch", "train_accuracy")},
                             "seconds": np.nan, **condition})
    table = pd.DataFrame(rows)
    stem = f"{variant}.seed{seed}"
    entry = {"variant": variant, "seed": seed, "history": f"{stem}.csv"}
    _atomic_write(folder / entry["history"], lambda p: table.to_csv(p, index=False, float_format="%.6g"))
    entry["sha256"] = data.sha256_of(folder / entry["history"])
    if study.keep_weights:
        entry["weights"] = f"{stem}.weights.h5"
        _atomic_write(folder / entry["weights"], model.save_weights)
        entry["weights_sha256"] = data.sha256_of(folder / entry["weights"])
    entry.update({
        "epochs": int(table["epoch"].max()),
        "seconds": round(float(table["seconds"].sum()), 1),
        "pieces": pieces,
        "processor": processor_name(),
        "parameters": int(model.count_params()),
        "final_train_accuracy": round(float(last["train_accuracy"]), 6),
        "final_validation_accuracy": round(float(last["validation_accuracy"]), 6),
        "test_accuracy": round(float(last["test_accuracy"]), 6),
        "date": datetime.date.today().isoformat(),
    })
    return entry


def train_study(name, out=None, smoke=False, restart=False, verbose=2):
    """Trains the missing runs of a study, recording each as soon as it is done."""
    study = STUDIES[name]
    folder = Path(out) if out else studies.studies_dir() / name
    checkpoints = ROOT / "build" / "studies" / (f"{name}-smoke" if smoke else name)
    if restart:
        shutil.rmtree(checkpoints, ignore_errors=True)
    wanted = definition(study, smoke)
    manifest_path = folder / "study.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest["definition"] != wanted:
            raise SystemExit(f"{manifest_path} records another definition of {name!r}: move it away to start over")
    else:
        manifest = {
            "definition": wanted,
            "command": f"python scripts/train_study.py {name}",
            "trained_with": {"python": platform.python_version(), "keras": keras.__version__,
                             "backend": keras.backend.backend(), "deterministic": True},
            "runs": [],
            "complete": False,
        }
    enable_determinism()
    # The fields `course_lib.studies` reads at the top level.
    manifest.update({"variants": wanted["variants"], "seeds": wanted["seeds"]})
    splits = study.splits()
    if smoke:
        (x, y), validation, test = splits
        splits = experiment.Splits((x[:500], y[:500]), (validation[0][:200], validation[1][:200]),
                                   (test[0][:200], test[1][:200]))
    done = {(r["variant"], r["seed"]) for r in manifest["runs"]}
    for seed in study.seeds:
        for variant in study.variants:
            if (variant, seed) in done:
                continue
            start = time.time()
            if study.trainer is None:
                rows, model = train_run(study, variant, seed, splits, checkpoints, smoke, verbose)
            else:
                rows, model = study.trainer(study, variant, seed, splits, smoke)
            entry = record_run(study, variant, seed, rows, model, splits, folder)
            manifest["runs"].append(entry)
            manifest["complete"] = len(manifest["runs"]) == len(study.variants) * len(study.seeds)
            manifest["seconds"] = round(sum(r["seconds"] for r in manifest["runs"]), 1)
            manifest["processors"] = sorted({r["processor"] for r in manifest["runs"]})
            _write_json(manifest_path, manifest)
            shutil.rmtree(checkpoints / f"{variant}.seed{seed}", ignore_errors=True)
            print(json.dumps({k: entry[k] for k in ("variant", "seed", "final_train_accuracy",
                                                    "final_validation_accuracy", "test_accuracy", "seconds")})
                  + f"  ({time.time() - start:.0f} s wall-clock)", flush=True)
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+", metavar="NAME", help=f"studies ({', '.join(STUDIES)}), or all")
    parser.add_argument("--smoke", action="store_true", help="one epoch on 500 images, into --out")
    parser.add_argument("--out", type=Path, help="write the study here instead of data/studies/NAME/")
    parser.add_argument("--restart", action="store_true", help="discard the checkpoint of the run in progress")
    parser.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity (0, 1, 2)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - {"all", *STUDIES})
    if unknown:
        parser.error(f"unknown NAME {', '.join(unknown)}: choose from all, {', '.join(STUDIES)}")
    if args.smoke and not args.out:
        parser.error("--smoke writes a throw-away study: name its folder with --out")
    names = list(STUDIES) if "all" in args.names else args.names
    for name in names:
        out = args.out / name if args.out and len(names) > 1 else args.out
        train_study(name, out=out, smoke=args.smoke, restart=args.restart, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
