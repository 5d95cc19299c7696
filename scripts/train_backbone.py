"""Trains the course's pre-trained backbone (course_lib.pretrained) on the source task.

Re-creates, in course_lib/weights/ (package data: the weights install with
course_lib), backbone_cifar5.weights.h5, its record backbone_cifar5.json
(SHA-256, source-task test accuracy, this command, machine) and the training log
backbone_cifar5_training_log.csv. The three are written to a temporary folder
beside them and moved into place when training ends, the record last. Any Keras
backend works; the committed weights were trained with the command recorded in
the JSON file.

    COURSE_DATA_DIR=/path/to/mirror python scripts/train_backbone.py --epochs 30

Takes about 2 minutes on one GPU; on a 2-core CPU (TensorFlow) allow about 30 s
per epoch.
"""

import argparse
import datetime
import json
import os
import tempfile
from pathlib import Path

import keras
import numpy as np

from course_lib import data, pretrained
from course_lib.runtime import setup_notebook

# The clone's own folder (not wherever course_lib is imported from): what gets committed.
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "course_lib" / "weights"
LOG_FILE = "backbone_cifar5_training_log.csv"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N source images only (a smoke test)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR,
                        help="folder for the weights, the record and the log (default: %(default)s)")
    args = parser.parse_args(argv)
    info = setup_notebook(seed=args.seed, deterministic=False)

    (x_train, y_train), (x_test, y_test) = data.load_cifar10()
    (x_source, y_source), _ = pretrained.split_source_target(x_train, y_train)
    (x_source_test, y_source_test), _ = pretrained.split_source_target(x_test, y_test)
    if args.limit:
        x_source, y_source = x_source[: args.limit], y_source[: args.limit]

    augment = keras.Sequential(
        [keras.layers.RandomFlip("horizontal", seed=args.seed),
         keras.layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=args.seed)],
        name="augment",
    )
    backbone = pretrained.backbone_model()
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, backbone(augment(inputs)), name="backbone_training")
    steps = args.epochs * int(np.ceil(len(x_source) / args.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=5e-4),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        staged = Path(tmp)
        model.fit(
            x_source.astype("float32"), y_source, batch_size=args.batch_size, epochs=args.epochs,
            validation_data=(x_source_test.astype("float32"), y_source_test),
            callbacks=[keras.callbacks.CSVLogger(str(staged / LOG_FILE))], verbose=2,
        )
        backbone.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        _, accuracy = backbone.evaluate(x_source_test.astype("float32"), y_source_test, verbose=0)
        backbone.save_weights(staged / pretrained.WEIGHTS_FILE)
        record = {
            "sha256": data.sha256_of(staged / pretrained.WEIGHTS_FILE),
            "source_classes": list(pretrained.SOURCE_CLASSES),
            "source_test_accuracy": round(float(accuracy), 4),
            "source_test_images": int(len(x_source_test)),
            "parameters": int(backbone.count_params()),
            "command": "python scripts/train_backbone.py " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out" and v is not None),
            "trained_with": info.summary(),
            "date": datetime.date.today().isoformat(),
            "training_log": LOG_FILE,
        }
        (staged / pretrained.METADATA_FILE).write_text(json.dumps(record, indent=2) + "\n")
        # The record last: until it moves, load_backbone refuses the new weights (hash mismatch).
        for name in (LOG_FILE, pretrained.WEIGHTS_FILE, pretrained.METADATA_FILE):
            os.replace(staged / name, args.out / name)
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
