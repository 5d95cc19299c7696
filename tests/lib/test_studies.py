"""course_lib.studies reads recorded studies only after checking their hashes.

A small study is written here in the format of scripts/train_study.py (two
variants, two seeds, three epochs, a "shift" condition), into a temporary
folder that stands in for data/studies/.
"""

import json

import numpy as np
import pandas as pd
import pytest

from course_lib import studies
from course_lib.data import sha256_of


def _write_study(folder, complete=True):
    runs = []
    for variant, level in (("plain", 0.5), ("residual", 0.7)):
        for seed in (0, 1) if complete else (0,):
            rows = [{"epoch": e, "train_accuracy": level + 0.1 * e + 0.01 * seed, "validation_accuracy": level,
                     "seconds": 2.0, "test_accuracy": np.nan, "shift": 0} for e in (1, 2, 3)]
            rows[-1]["test_accuracy"] = level - 0.01
            rows.append({**rows[-1], "shift": 2, "validation_accuracy": level - 0.2, "test_accuracy": level - 0.25,
                         "seconds": np.nan})
            name = f"{variant}.seed{seed}.csv"
            pd.DataFrame(rows).to_csv(folder / name, index=False)
            runs.append({"variant": variant, "seed": seed, "history": name, "sha256": sha256_of(folder / name),
                         "seconds": 6.0, "processor": "test"})
    (folder / "study.json").write_text(json.dumps({
        "variants": ["residual", "plain"], "seeds": [0, 1], "runs": runs, "complete": complete,
        "command": "python scripts/train_study.py toy", "definition": {"conditions": ["shift"]},
    }))


@pytest.fixture
def studies_folder(tmp_path, monkeypatch):
    (tmp_path / "toy").mkdir()
    _write_study(tmp_path / "toy")
    monkeypatch.setattr(studies, "studies_dir", lambda: tmp_path)
    return tmp_path


def test_load_returns_one_row_per_variant_seed_epoch_and_condition(studies_folder):
    assert studies.names() == ["toy"]
    table = studies.load("toy")
    assert list(table.columns[:7]) == list(studies.COLUMNS) and "shift" in table.columns
    assert len(table) == 2 * 2 * 4
    # In the order the study lists its variants.
    assert list(table["variant"].unique()) == ["residual", "plain"]
    # The test set is scored at the last epoch only.
    assert table.loc[table["epoch"] < 3, "test_accuracy"].isna().all()
    last = studies.final(table, shift=0)
    assert last.loc[("plain", 1), "test_accuracy"] == pytest.approx(0.49)
    assert studies.final(table, shift=2).loc[("residual", 0), "validation_accuracy"] == pytest.approx(0.5)
    assert list(studies.runs("toy")["variant"]) == ["plain", "plain", "residual", "residual"]


def test_plateau_is_the_change_over_the_last_epochs(studies_folder):
    table = studies.load("toy")
    # train_accuracy rises by 0.1 per epoch: 0.2 over the last two epochs, 0.1 over the last one.
    np.testing.assert_allclose(studies.plateau(table, epochs=2), 0.2)
    np.testing.assert_allclose(studies.plateau(table, epochs=1), 0.1)


def test_a_changed_file_is_refused(studies_folder):
    path = studies_folder / "toy" / "plain.seed1.csv"
    path.write_text(path.read_text().replace("0.5", "0.9", 1))
    with pytest.raises(ValueError, match="plain.seed1.csv does not match its recorded SHA-256"):
        studies.load("toy")


def test_an_unfinished_study_is_refused_unless_asked_for(studies_folder):
    _write_study(studies_folder / "toy", complete=False)
    with pytest.raises(ValueError, match=r"not finished \(2 runs to go\).*train_study.py toy"):
        studies.load("toy")
    assert len(studies.load("toy", allow_incomplete=True)) == 2 * 4


def test_unknown_names_and_columns_are_refused(studies_folder):
    with pytest.raises(ValueError, match="`name` must be one of 'toy'; received name='nope'"):
        studies.load("nope")
    with pytest.raises(ValueError, match="`colour` is not a column"):
        studies.final(studies.load("toy"), colour=1)


def test_plot_curves_draws_one_line_per_run(studies_folder):
    import matplotlib

    matplotlib.use("Agg")
    ax = studies.plot_curves(studies.load("toy"), "validation_accuracy")
    assert len(ax.lines) == 4  # 2 variants x 2 seeds, the condition rows left out
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["residual", "plain"]
    with pytest.raises(ValueError, match="`metric` must be one of"):
        studies.plot_curves(studies.load("toy"), "loss")
