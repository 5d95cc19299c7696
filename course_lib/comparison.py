"""Comparing training runs over seeds: the course's one statistical rule.

Two variants trained with the same seeds share their batches (and their
initial weights where their architectures match), so seed by seed they
differ only in the variant. The course compares them by the **paired
difference** (treatment minus baseline) of each seed, and reports its mean
with a **95 % confidence interval** from Student's t distribution
(n - 1 degrees of freedom):

    mean ± t(0.975, n - 1) · std / √n

- The effect is **clear** when the interval excludes 0.
- Otherwise there is **no clear effect at this budget**: with more seeds,
  or longer training, there may be one.

The decision is made on **validation** accuracy, the default metric; the
test set is scored once, at the end of a lesson, and never used to choose.
With 3 seeds the interval is wide (t = 4.30), so only a large, consistent
difference is clear; with 5 seeds t = 2.78.

Example:

>>> result = paired_comparison([0.05, 0.07, 0.06], baseline="plain", treatment="residual")
>>> result.verdict
'clear effect'
>>> print(result)
residual - plain (validation accuracy): +0.060, 95 % interval +0.035 to +0.085, 3 seeds [+0.050, +0.070, +0.060]: clear effect
"""

import dataclasses

import numpy as np
import pandas as pd
from scipy import stats

from course_lib._checks import check_string

CLEAR = "clear effect"
NOT_CLEAR = "no clear effect at this budget"
CONFIDENCE = 0.95

# How the metrics read in a printed line.
METRIC_NAMES = {
    "val_accuracy": "validation accuracy",
    "validation_accuracy": "validation accuracy",
    "test_accuracy": "test accuracy",
    "train_accuracy": "training accuracy",
    "val_crossentropy": "validation cross-entropy",
    "test_crossentropy": "test cross-entropy",
}


def summarize(runs, metrics=("val_accuracy",)):
    """Mean and standard deviation over seeds of each variant, one row per variant.

    Args:
        runs: a list of `experiment.Runs` (or a dict name -> `Runs`).
        metrics: columns of `Runs.scores` to summarise.

    Returns:
        A DataFrame indexed by variant with columns "`metric` mean",
        "`metric` std" and "seeds".
    """
    items = runs.items() if isinstance(runs, dict) else [(r.name, r) for r in runs]
    rows = {}
    for name, result in items:
        row = {}
        for metric in metrics:
            if metric not in result.scores:
                raise ValueError(f"`metrics` must be columns of the scores {list(result.scores)}; received {metric!r}.")
            row[f"{metric} mean"] = result.scores[metric].mean()
            row[f"{metric} std"] = result.scores[metric].std(ddof=1) if len(result.scores) > 1 else np.nan
        row["seeds"] = len(result.scores)
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "variant"
    return table


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A paired comparison of two variants over the same seeds (what `compare` returns).

    Attributes:
        metric: the compared score.
        baseline, treatment: the variants' names.
        differences: treatment minus baseline, per seed.
        mean: the mean difference.
        std: the standard deviation of the differences (ddof 1; NaN for one
            seed).
        low, high: the 95 % t-interval of the mean difference (NaN for one
            seed).
        n: the number of seeds.
        verdict: "clear effect" (the interval excludes 0) or "no clear
            effect at this budget".
        unit: what was paired, for the printout ("seeds", or for example
            "folds" when the pairs are disjoint test sets).
    """

    metric: str
    baseline: str
    treatment: str
    differences: pd.Series
    mean: float
    std: float
    low: float
    high: float
    n: int
    verdict: str
    unit: str = "seeds"

    @property
    def clear(self):
        """Whether the 95 % interval of the mean difference excludes 0."""
        return self.verdict == CLEAR

    def __str__(self):
        per_seed = ", ".join(f"{d:+.3f}" for d in self.differences)
        metric = METRIC_NAMES.get(self.metric, self.metric)
        interval = "no interval from one seed" if self.n < 2 else f"95 % interval {self.low:+.3f} to {self.high:+.3f}"
        return (f"{self.treatment} - {self.baseline} ({metric}): {self.mean:+.3f}, {interval}, "
                f"{self.n} {self.unit} [{per_seed}]: {self.verdict}")


def compare(baseline, treatment, metric="val_accuracy"):
    """Compares two variants seed by seed, on validation accuracy by default.

    Args:
        baseline: `experiment.Runs` of the control.
        treatment: `experiment.Runs` of the variant, trained with the same
            seeds.
        metric: a column of `Runs.scores` ("val_accuracy": decide on the
            validation set; "test_accuracy" only to report a final result).

    Returns:
        A `Comparison`; `str()` of it is one line to print.

    Raises:
        ValueError: the two were not trained with the same seeds, or the
            metric is missing.
    """
    for argument, result in (("baseline", baseline), ("treatment", treatment)):
        scores = getattr(result, "scores", None)
        if not isinstance(scores, pd.DataFrame):
            raise TypeError(f"`{argument}` must be a Runs (see experiment.run); received {type(result).__name__}.")
        if metric not in scores:
            raise ValueError(f"`metric` must be a column of the scores {list(scores)}; received metric={metric!r}.")
    if sorted(baseline.scores.index) != sorted(treatment.scores.index):
        raise ValueError(
            "`baseline` and `treatment` must be trained with the same seeds; received "
            f"{list(baseline.scores.index)} and {list(treatment.scores.index)}."
        )
    differences = treatment.scores[metric] - baseline.scores[metric].loc[treatment.scores.index]
    return paired_comparison(differences, metric, baseline.name, treatment.name)


def paired_comparison(differences, metric="val_accuracy", baseline="baseline", treatment="treatment", unit="seeds"):
    """A `Comparison` from per-seed differences (treatment minus baseline).

    Args:
        differences: a sequence or Series of per-seed differences.
        metric, baseline, treatment: names for the printout.
        unit: what was paired, for the printout (default "seeds"; for
            example "folds").

    Returns:
        A `Comparison`.

    Example:

    >>> paired_comparison([0.01, 0.09, -0.02]).verdict
    'no clear effect at this budget'
    """
    differences = pd.Series(differences, dtype="float64")
    if differences.empty or not np.isfinite(differences).all():
        raise ValueError(f"`differences` must be finite numbers, one per seed; received {list(differences)}.")
    n = len(differences)
    mean = float(differences.mean())
    if n < 2:
        std = low = high = float("nan")
    else:
        std = float(differences.std(ddof=1))
        half_width = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * std / np.sqrt(n)
        low, high = mean - half_width, mean + half_width
    clear = n >= 2 and (low > 0 or high < 0)
    return Comparison(metric, baseline, treatment, differences, mean, std, low, high, n,
                      CLEAR if clear else NOT_CLEAR, check_string(unit, "unit"))


def plot_paired(values, ax=None, ylabel="accuracy", title=None):
    """Each seed's scores under every variant, joined by a line: a paired comparison at a glance.

    The axis is zoomed to the data (not 0 to 1), so that differences of a
    few points are visible, and every seed is drawn: a reader sees at once
    whether the variants differ in the same direction on every seed.

    Args:
        values: a pandas DataFrame with one row per seed and one column per
            variant (in the order to draw).
        ax: the matplotlib axes (default: a new figure).
        ylabel: the label of the y axis.
        title: the axes' title.

    Returns:
        The matplotlib `Axes`.

    Example:

    >>> table = pd.DataFrame({"plain": [0.80, 0.82, 0.81], "residual": [0.86, 0.87, 0.85]})
    >>> ax = plot_paired(table, title="residual vs plain")
    >>> len(ax.lines)
    3
    """
    import matplotlib.pyplot as plt

    if not isinstance(values, pd.DataFrame) or values.shape[1] < 2 or values.empty:
        raise ValueError("`values` must be a DataFrame with one row per seed and at least two variant columns; "
                         f"received {type(values).__name__} of shape {getattr(values, 'shape', None)}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 + 1.3 * values.shape[1], 3.4))
    positions = np.arange(values.shape[1])
    for seed, row in values.iterrows():
        ax.plot(positions, row.to_numpy(), marker="o", color="tab:gray", alpha=0.8, linewidth=1)
        ax.annotate(f"seed {seed}", (positions[-1], row.iloc[-1]), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize="x-small", color="tab:gray")
    ax.set_xticks(positions, [str(c) for c in values.columns])
    ax.set_xlim(-0.4, positions[-1] + 0.8)
    spread = float(np.nanmax(values.to_numpy()) - np.nanmin(values.to_numpy())) or 0.01
    ax.set_ylim(np.nanmin(values.to_numpy()) - 0.15 * spread, np.nanmax(values.to_numpy()) + 0.15 * spread)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    if title:
        ax.set_title(title)
    return ax


__all__ = ["CLEAR", "Comparison", "NOT_CLEAR", "compare", "paired_comparison", "plot_paired", "summarize"]
