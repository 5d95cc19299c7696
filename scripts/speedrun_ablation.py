"""airbench's ablation in Keras 3, at a cut-down size: the recipe built up one trick at a time.

    COURSE_DATA_DIR=/path/to/mirror python scripts/speedrun_ablation.py [--widths 16 64 64]
        [--epochs 10] [--seeds 0 1 2] [--train-per-class 1000] [--limit N] [--output data/speedrun]

Every step of `course_lib.speedrun.ABLATION` keeps the tricks of the steps
before it and adds one (`AblationStep.trick`). Each step that trains something
new is trained with `course_lib.experiment.run` on a stratified subset of the
course's 45,000 training images (5,000 carved out for validation; 1,000 per
class by default), once per seed with the same seeds for
every step (paired runs), and every trained model is scored on the 10,000 test
images three ways: one view, the image and its mirror image, and airbench's
six views. The step "tta" trains nothing: it scores the models of the step
before it with six views.

It writes, atomically, to `--output` (default: the course's `data/speedrun/`):

- `ablation.csv`: one row per step and seed: the test accuracy with one view,
  with two and with six, the accuracy with the step's own views
  ("test_accuracy_step"), the last epoch's validation accuracy and the
  seconds of training;
- `ablation.history.csv`: the per-epoch learning curves of every run;
- `ablation.json`: the command, the sizes, the seeds, the versions and the
  device, the seconds of the whole ablation, and the SHA-256 of both tables,
  which `course_lib.speedrun.load_ablation` checks.

At the default size (widths 16/64/64, about a twelfth of airbench94's
multiply-adds, 10,000 training images, 10 epochs, 3 seeds) it takes about 45
minutes on the course's 2-core CPU.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs=3, default=(16, 64, 64), help="filters of the three groups")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per run (the warm-up stays 23 %% of them)")
    parser.add_argument("--seeds", type=int, nargs="+", default=(0, 1, 2), help="seeds, one run per step each")
    parser.add_argument("--train-per-class", type=int, default=1000,
                        help="training images kept per class (stratified, seed 0); 0 keeps all 4,500")
    parser.add_argument("--limit", type=int, help="train on the first N training images only (a smoke test)")
    parser.add_argument("--output", help="folder of the three files (default: the course's data/speedrun/)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or min(args.widths) < 1 or min(args.seeds) < 0 or len(set(args.seeds)) != len(args.seeds):
        parser.error("--epochs and --widths must be positive, --seeds distinct non-negative ints")
    if (args.limit is not None and args.limit < 1) or args.train_per_class < 0:
        parser.error("--limit must be positive, --train-per-class non-negative")
    return args


def main(argv=None):
    args = parse(argv)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import keras
    import pandas as pd
    import train_zoo

    from course_lib import data, experiment, speedrun
    from course_lib.runtime import setup_notebook
    from course_lib.tta import TTAModel, horizontal_flip, identity

    info = setup_notebook(seed=args.seeds[0])
    splits = experiment.load_splits("cifar10", validation_size=5000, train_per_class=args.train_per_class or None,
                                    seed=0)
    if args.limit:
        (x, y), validation, test = splits
        splits = experiment.Splits((x[:args.limit], y[:args.limit]), validation, test)
    (x_train, _), _, (x_test, y_test) = splits
    airbench_views = speedrun.tta_views()
    views = {"flip": ([identity, horizontal_flip], None), "airbench": airbench_views}
    rows, histories, trained = [], [], {}
    start = time.perf_counter()
    for step in speedrun.ABLATION:
        key = json.dumps([step.network, step.recipe], sort_keys=True)
        if key not in trained:
            print(f"{step.name}: training {len(args.seeds)} runs", flush=True)
            runs = experiment.run(lambda step=step: step.build_network(x_train, tuple(args.widths)), splits,
                                  step.speedrun_recipe(args.epochs), seeds=args.seeds, name=step.name,
                                  keep_models=True)
            scores = {}
            for seed, model in runs.models.items():
                scores[seed] = {"test_accuracy": runs.scores.loc[seed, "test_accuracy"]}
                for views_name, (functions, weights) in views.items():
                    tta = TTAModel(model, functions, view_weights=weights)
                    scores[seed][views_name] = experiment.evaluate(tta, x_test, y_test, batch_size=500)["accuracy"]
            trained[key] = (runs, scores)
            histories.append(runs.histories.assign(step=step.name))
            keras.backend.clear_session()
        runs, scores = trained[key]
        for seed in args.seeds:
            rows.append({
                "step": step.name, "seed": seed,
                "test_accuracy": scores[seed]["test_accuracy"],
                "test_accuracy_flip": scores[seed]["flip"],
                "test_accuracy_tta": scores[seed]["airbench"],
                "test_accuracy_step": scores[seed][step.tta],
                "val_accuracy": runs.scores.loc[seed, "val_accuracy"],
                "seconds": round(float(runs.scores.loc[seed, "seconds"]), 1),
                "trained_with": runs.name,
            })
            print(f"  {step.name}, seed {seed}: {rows[-1]['test_accuracy_step']:.4f} with its views "
                  f"({rows[-1]['test_accuracy']:.4f} with one)", flush=True)
    seconds = time.perf_counter() - start
    folder = Path(args.output) if args.output else Path(__file__).resolve().parents[1] / "data" / "speedrun"
    table = pd.DataFrame(rows)
    history = pd.concat(histories, ignore_index=True)
    history = history[["step"] + [c for c in history if c != "step"]]
    train_zoo._write_text(folder / "ablation.csv", table.to_csv(index=False, float_format="%.6g"))
    train_zoo._write_text(folder / "ablation.history.csv", history.to_csv(index=False, float_format="%.6g"))
    record = {
        "command": " ".join(["python scripts/speedrun_ablation.py", *(argv if argv is not None else sys.argv[1:])]),
        "widths": list(args.widths), "epochs": args.epochs, "seeds": list(args.seeds),
        "train_images": int(len(x_train)), "train_per_class": args.train_per_class or None,
        "test_images": int(len(x_test)),
        "data": "offline CIFAR-10 mirror in $COURSE_DATA_DIR (a JPEG re-encoding, see its README)",
        "steps": [step.name for step in speedrun.ABLATION],
        "seconds": round(seconds, 1),
        "trained_with": {"python": platform.python_version(), "keras": keras.__version__, "backend": info.backend,
                         "backend_version": info.backend_version, "device": info.device},
        "sha256": {name: data.sha256_of(folder / name) for name in ("ablation.csv", "ablation.history.csv")},
    }
    train_zoo._write_text(folder / "ablation.json", json.dumps(record, indent=2) + "\n")
    print(f"{len(rows)} rows in {seconds / 60:.1f} min, written to {folder}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
