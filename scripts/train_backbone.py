"""Trains the course's pre-trained backbone (course_lib.pretrained) on the source task.

Re-creates data/backbone_cifar5.weights.h5 and its record data/backbone_cifar5.json
(SHA-256, source-task test accuracy, this command, machine) and the training log
data/backbone_cifar5_training_log.csv. Any Keras backend works; the committed
weights were trained with the command recorded in the JSON file.

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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N source images only (a smoke test)")
    parser.add_argument("--out", type=Path, default=pretrained.weights_dir(),
                        help="folder for the weights, the record and the log")
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
    log = args.out / "backbone_cifar5_training_log.csv"
    model.fit(
        x_source.astype("float32"), y_source, batch_size=args.batch_size, epochs=args.epochs,
        validation_data=(x_source_test.astype("float32"), y_source_test),
        callbacks=[keras.callbacks.CSVLogger(str(log))], verbose=2,
    )
    backbone.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _, accuracy = backbone.evaluate(x_source_test.astype("float32"), y_source_test, verbose=0)

    # Write the weights atomically, then their record.
    target = args.out / pretrained.WEIGHTS_FILE
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        staged = Path(tmp) / pretrained.WEIGHTS_FILE
        backbone.save_weights(staged)
        os.replace(staged, target)
    record = {
        "sha256": data.sha256_of(target),
        "source_classes": list(pretrained.SOURCE_CLASSES),
        "source_test_accuracy": round(float(accuracy), 4),
        "source_test_images": int(len(x_source_test)),
        "parameters": int(backbone.count_params()),
        "command": "python scripts/train_backbone.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out" and v is not None),
        "trained_with": info.summary(),
        "date": datetime.date.today().isoformat(),
        "training_log": log.name,
    }
    (args.out / pretrained.METADATA_FILE).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
