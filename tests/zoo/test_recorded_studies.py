"""The recorded studies (data/studies/, course_lib.studies) are what their training wrote.

For every recorded study: every file matches its SHA-256 (`studies.load`
checks them), the record lists one run per variant and seed, each run's
recorded scores are those of its table, and its epochs are those of its
recipe. Where a study kept the trained weights, one run per variant is
re-scored on the test set from them.
"""

import sys
from pathlib import Path

import keras
import pytest

from course_lib import experiment, studies

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import train_study  # noqa: E402

RECORDED = studies.names()


def test_every_recorded_study_is_defined_by_the_training_script():
    assert set(RECORDED) <= set(train_study.STUDIES), RECORDED


@pytest.mark.parametrize("name", RECORDED)
def test_a_study_holds_every_run_it_lists_with_the_scores_of_its_tables(name):
    record = studies.record(name)
    table = studies.load(name, allow_incomplete=True)
    definition = train_study.definition(train_study.STUDIES[name])
    assert record["definition"] == definition, "the study was recorded with another definition"
    runs = {(r["variant"], r["seed"]): r for r in record["runs"]}
    assert len(runs) == len(record["runs"])
    assert set(runs) <= {(v, s) for v in definition["variants"] for s in definition["seeds"]}
    assert record["complete"] == (len(runs) == len(definition["variants"]) * len(definition["seeds"]))
    conditions = {column: 0 for column in definition["conditions"]}
    final = studies.final(table, **conditions)
    for (variant, seed), run in runs.items():
        rows = table[(table["variant"] == variant) & (table["seed"] == seed)]
        assert rows["epoch"].max() == definition["recipes"][variant]["epochs"] == run["epochs"]
        assert final.loc[(variant, seed), "test_accuracy"] == pytest.approx(run["test_accuracy"], abs=1e-6)
        assert final.loc[(variant, seed), "validation_accuracy"] == pytest.approx(run["final_validation_accuracy"],
                                                                                  abs=1e-6)
        # The test set is scored once, at the end.
        assert rows.loc[rows["epoch"] < run["epochs"], "test_accuracy"].isna().all()


SAMPLE = [(name, variant) for name in RECORDED if train_study.STUDIES[name].keep_weights
          for variant in studies.record(name)["definition"]["variants"]]


@pytest.mark.data
@pytest.mark.parametrize(("name", "variant"), SAMPLE)
def test_a_kept_model_scores_its_recorded_test_accuracy(name, variant):
    runs = studies.runs(name)
    runs = runs[(runs["variant"] == variant) & runs["weights"].notna()]
    if runs.empty:
        pytest.skip(f"{name}: no run of {variant} recorded yet")
    run = runs.iloc[0]
    studies.load(name, allow_incomplete=True)  # checks the weights' hash
    study = train_study.STUDIES[name]
    build, recipe = study.variants[variant]
    splits = study.splits()
    keras.utils.set_random_seed(int(run["seed"]))
    model = experiment.with_standardization(build(), splits.train[0], standardize=recipe.standardize)
    model.load_weights(studies.studies_dir() / name / run["weights"])
    accuracy = experiment.evaluate(model, *splits.test)["accuracy"]
    recorded = studies.record(name)["runs"]
    expected = next(r["test_accuracy"] for r in recorded if r["variant"] == variant and r["seed"] == run["seed"])
    # Other processors round float32 sums in another order: a handful of the 10,000 test images
    # near a decision boundary may change class.
    assert accuracy == pytest.approx(expected, abs=5e-4)
