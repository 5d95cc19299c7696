"""Recorded studies: experiments trained offline to a plateau, read by the notebooks.

A live cell on a CPU can train a CIFAR-10 network for a minute or two, which
is enough to show *how* an experiment is run but not to settle *what* it
shows: the models have barely started learning. The lessons that need
converged models (degradation in deep plain networks, GAP against Flatten,
GoogLeNet's auxiliary heads, the BatchNormalization trap, fine-tuning,
ensembles) read their evidence from a study trained offline by
`python scripts/train_study.py NAME`, several seeds per variant, and
recorded in `data/studies/NAME/`:

- `study.json`: what was trained (variants, seeds, recipe, data), the exact
  command, and for every run (one variant, one seed) its file, that file's
  SHA-256, its seconds and the processor that trained it;
- `VARIANT.seedS.csv`: the run's rows, one per epoch (and, for studies that
  test under several conditions, one per condition at the last epoch);
- optionally `VARIANT.seedS.weights.h5`: the trained weights, whose SHA-256
  is recorded too.

`load(NAME)` checks every hash before it returns the rows.

Example:

>>> table = load("gap_vs_flatten")  # doctest: +SKIP
>>> final(table, shift=0).groupby("variant")["validation_accuracy"].mean()  # doctest: +SKIP
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from course_lib._checks import check_choice
from course_lib.data import sha256_of

# The columns `load` always returns, in this order; a study may add others
# (for example "shift").
COLUMNS = ("variant", "seed", "epoch", "train_accuracy", "validation_accuracy", "test_accuracy", "seconds")


def studies_dir():
    """The folder of the recorded studies: the course's `data/studies/`."""
    return Path(__file__).resolve().parent.parent / "data" / "studies"


def names():
    """The names of the recorded studies (those with a `study.json`), sorted."""
    folder = studies_dir()
    if not folder.is_dir():
        return []
    return sorted(p.parent.name for p in folder.glob("*/study.json"))


def record(name):
    """The `study.json` of a study, as a dict.

    Args:
        name: a study's name (see `names()`).

    Raises:
        ValueError: no study of that name is recorded.
    """
    check_choice(name, "name", names())
    return json.loads((studies_dir() / name / "study.json").read_text())


def _verified(folder, file_name, expected_sha256):
    path = folder / file_name
    if not path.is_file():
        raise FileNotFoundError(f"The study file {path} is missing.")
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ValueError(
            f"{path.name} does not match its recorded SHA-256 ({actual[:12]}... instead of "
            f"{expected_sha256[:12]}...): the file was changed after the study was recorded."
        )
    return path


def runs(name):
    """One row per run of a study: variant, seed, seconds, processor and file names.

    Args:
        name: a study's name (see `names()`).

    Returns:
        A pandas DataFrame with the columns "variant", "seed", "seconds",
        "processor", "history" and "weights" (None where none was kept).
    """
    study = record(name)
    rows = [{"variant": r["variant"], "seed": r["seed"], "seconds": r["seconds"], "processor": r["processor"],
             "history": r["history"], "weights": r.get("weights")} for r in study["runs"]]
    return pd.DataFrame(rows, columns=["variant", "seed", "seconds", "processor", "history", "weights"])


def load(name, allow_incomplete=False):
    """The rows of a recorded study, after checking every file's SHA-256.

    Args:
        name: a study's name (see `names()`).
        allow_incomplete: whether to return the runs recorded so far of a
            study whose training is not finished (default: refuse it).

    Returns:
        A pandas DataFrame with one row per (variant, seed, epoch) and the
        columns "variant", "seed", "epoch", "train_accuracy",
        "validation_accuracy", "test_accuracy" (the last epoch only, NaN
        elsewhere: the test set is scored once) and "seconds" (of that
        epoch), then any column the study adds (a study that tests under
        several conditions, such as shifted images, has one row per
        condition at the last epoch).

    Raises:
        ValueError: the study is unknown, incomplete (without
            `allow_incomplete`) or a file does not match its hash.
    """
    study = record(name)
    if not study["complete"] and not allow_incomplete:
        missing = len(study["variants"]) * len(study["seeds"]) - len(study["runs"])
        raise ValueError(
            f"The study {name!r} is not finished ({missing} runs to go): resume it with "
            f"`{study['command']}`, or pass allow_incomplete=True to read the runs recorded so far."
        )
    folder = studies_dir() / name
    tables = []
    for run in study["runs"]:
        table = pd.read_csv(_verified(folder, run["history"], run["sha256"]))
        if run.get("weights"):
            _verified(folder, run["weights"], run["weights_sha256"])
        tables.append(table.assign(variant=run["variant"], seed=run["seed"]))
    if not tables:
        return pd.DataFrame(columns=list(COLUMNS))
    table = pd.concat(tables, ignore_index=True)
    extra = [c for c in table.columns if c not in COLUMNS]
    table = table[list(COLUMNS) + extra]
    order = {variant: i for i, variant in enumerate(study["variants"])}
    table = table.sort_values(["variant", "seed", "epoch"] + extra, key=lambda c: c.map(order) if c.name == "variant"
                              else c, kind="stable")
    return table.reset_index(drop=True)


def final(table, **conditions):
    """The last epoch's row of every (variant, seed) of a loaded study.

    Args:
        table: what `load` returns.
        **conditions: values of the study's extra columns to keep (for
            example `shift=0`).

    Returns:
        A pandas DataFrame indexed by (variant, seed).
    """
    for column, value in conditions.items():
        if column not in table:
            raise ValueError(f"`{column}` is not a column of the study; its columns are {list(table.columns)}.")
        table = table[table[column] == value]
    last = table.groupby(["variant", "seed"], sort=False)["epoch"].transform("max")
    return table[table["epoch"] == last].set_index(["variant", "seed"])


def plateau(table, metric="train_accuracy", epochs=3):
    """How much `metric` moved over the last `epochs` epochs of each run.

    The course calls a run at a plateau when its training accuracy moved by
    under half a point (0.005) over its last three epochs.

    Returns:
        A pandas Series indexed by (variant, seed): the largest minus the
        smallest value of `metric` in the run's last `epochs + 1` epochs
        (the change over `epochs` epochs).
    """
    check_choice(metric, "metric", [c for c in table.columns if c.endswith("accuracy")])
    per_epoch = table.drop_duplicates(["variant", "seed", "epoch"])
    tail = per_epoch.groupby(["variant", "seed"], sort=False).tail(epochs + 1)
    return tail.groupby(["variant", "seed"], sort=False)[metric].agg(lambda v: float(np.ptp(v)))


def plot_curves(table, metric="train_accuracy", ax=None, title=None, colors=None):
    """Every run of a study as a curve of `metric` against the epoch, one colour per variant.

    Each seed is its own thin line, so a reader sees the spread between
    seeds and whether the curves have flattened (a plateau).

    Args:
        table: what `load` returns.
        metric: "train_accuracy" or "validation_accuracy".
        ax: the matplotlib axes (default: a new figure).
        title: the axes' title.
        colors: variant -> colour (default: matplotlib's cycle).

    Returns:
        The matplotlib `Axes`.
    """
    import matplotlib.pyplot as plt

    check_choice(metric, "metric", ("train_accuracy", "validation_accuracy"))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    per_epoch = table.drop_duplicates(["variant", "seed", "epoch"])
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (variant, runs) in enumerate(per_epoch.groupby("variant", sort=False)):
        color = (colors or {}).get(variant, cycle[i % len(cycle)])
        for j, (_, run) in enumerate(runs.groupby("seed")):
            ax.plot(run["epoch"], run[metric], color=color, linewidth=1, alpha=0.8,
                    label=variant if j == 0 else None)
    ax.set(xlabel="epoch", ylabel=metric.replace("_", " "), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax


__all__ = ["COLUMNS", "final", "load", "names", "plateau", "plot_curves", "record", "runs", "studies_dir"]
