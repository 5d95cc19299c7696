"""airbench94 in Keras 3 (course_lib.speedrun): train, time and score one or more runs on CIFAR-10.

    COURSE_DATA_DIR=/path/to/mirror python scripts/speedrun.py [--runs 5] [--epochs 10]
        [--widths 64 256 256] [--residual] [--seed 0] [--backend jax] [--mixed-precision]
        [--batches-on-device] [--limit N] [--json FILE]
    python scripts/speedrun.py --record     # the recorded run, data/zoo/speedrun94.*

Each run builds airbench94's network (its whitening fitted on the first 5,000
training images), trains it with `SpeedrunRecipe` on the course's 45,000
training images (5,000 carved out for validation, as every recorded run of the
course), and scores the 10,000 test images without and with airbench's six
test-time views. It prints one line per run (accuracies, seconds of training,
device) and, for several runs, their mean and standard deviation.

`--record` trains the zoo entry `speedrun94` with `scripts/train_zoo.py`'s
machinery instead (seed 0, the entry's recipe, deterministic kernels) and
writes its weights, history and record, with `test_accuracy_tta`, to
`data/zoo/`; `course_lib.zoo.load("speedrun94", tta=True)` then loads it
wrapped with its views.
"""

import argparse
import json
import os
import sys
import time


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="number of runs (seeds SEED, SEED + 1, ...)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per run (the warm-up stays 23 %% of them)")
    parser.add_argument("--widths", type=int, nargs=3, default=(64, 256, 256), help="filters of the three groups")
    parser.add_argument("--residual", action="store_true",
                        help="airbench95/96's residual groups (airbench94(residual=True))")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first run")
    parser.add_argument("--backend", choices=("tensorflow", "jax", "torch"),
                        help="Keras backend (default: $KERAS_BACKEND, else tensorflow)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="compute in float16 (bfloat16 on a CPU); BatchNormalization stays float32")
    parser.add_argument("--batches-on-device", action="store_true",
                        help="keep the training images on the device and make the batches there with keras.ops "
                             "(the same batches; for a GPU)")
    parser.add_argument("--limit", type=int, help="train on the first N training images only (a smoke test)")
    parser.add_argument("--json", help="also write the runs' results to this JSON file")
    parser.add_argument("--record", action="store_true",
                        help="train and record the zoo entry speedrun94 (data/zoo/) instead")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.epochs < 1 or min(args.widths) < 1:
        parser.error("--runs, --epochs and --widths must be positive")
    if args.record and (args.limit or args.runs != 1 or args.epochs != 10 or tuple(args.widths) != (64, 256, 256)
                        or args.residual or args.batches_on_device):
        parser.error("--record trains the entry as it is: no --limit, --runs, --epochs, --widths, --residual "
                     "or --batches-on-device")
    return args


def main(argv=None):
    args = parse(argv)
    os.environ["KERAS_BACKEND"] = args.backend or os.environ.get("KERAS_BACKEND", "tensorflow")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import keras
    import numpy as np
    import train_zoo

    from course_lib import experiment, speedrun
    from course_lib.runtime import setup_notebook
    from course_lib.tta import TTAModel

    if args.record:
        record = train_zoo.train_one("speedrun94", restart=True)
        print(json.dumps({k: record[k] for k in ("test_accuracy", "test_accuracy_tta", "seconds")}))
        return 0

    info = setup_notebook(seed=args.seed)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16" if info.gpu else "mixed_bfloat16")
    (x_train, y_train), validation, (x_test, y_test) = train_zoo.training_data(args.limit)
    recipe = speedrun.SpeedrunRecipe().with_epochs(args.epochs)
    views, weights = speedrun.tta_views()
    results = []
    print(f"{len(x_train):,} training images, {args.epochs} epochs, widths {tuple(args.widths)}"
          f"{', residual groups' if args.residual else ''}"
          f"{', batches made on the device' if args.batches_on_device else ''}, {info.device}, "
          f"Keras {keras.__version__} on {info.backend} {info.backend_version}", flush=True)
    for run in range(args.runs):
        seed = args.seed + run
        model = speedrun.build_model(x_train, widths=tuple(args.widths), seed=seed, residual=args.residual)
        start = time.perf_counter()
        history = experiment.train(model, recipe, (x_train, y_train), validation, num_classes=10, seed=seed,
                                   batches_on_device=args.batches_on_device)
        seconds = time.perf_counter() - start
        plain = experiment.evaluate(model, x_test, y_test, batch_size=500)["accuracy"]
        tta = experiment.evaluate(TTAModel(model, views, view_weights=weights), x_test, y_test,
                                  batch_size=500)["accuracy"]
        results.append({"seed": seed, "test_accuracy": plain, "test_accuracy_tta": tta, "seconds": round(seconds, 1),
                        "first_epoch_seconds": round(float(history["seconds"].iloc[0]), 1),
                        "validation_accuracy": float(history["val_accuracy"].iloc[-1])})
        print(f"run {run + 1}/{args.runs} (seed {seed}): test accuracy {plain:.4f}, with TTA {tta:.4f}, "
              f"{seconds:.1f} s of training ({results[-1]['first_epoch_seconds']:.1f} s in the first epoch, "
              f"compilation included)", flush=True)
        keras.backend.clear_session()
    if len(results) > 1:
        for key in ("test_accuracy", "test_accuracy_tta", "seconds"):
            values = np.array([r[key] for r in results])
            print(f"{key}: mean {values.mean():.4f}, standard deviation {values.std(ddof=1):.4f} over {len(values)} runs")
    if args.json:
        summary = {"command": " ".join(["python scripts/speedrun.py", *(argv if argv is not None else sys.argv[1:])]),
                   "device": info.device, "backend": info.backend, "backend_version": info.backend_version,
                   "keras": keras.__version__, "epochs": args.epochs, "widths": list(args.widths),
                   "residual": args.residual,
                   "train_images": int(len(x_train)), "mixed_precision": args.mixed_precision,
                   "batches_on_device": args.batches_on_device, "runs": results}
        with open(args.json, "w") as file:
            json.dump(summary, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
