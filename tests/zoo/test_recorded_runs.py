"""The recorded CIFAR-10 runs of course_lib.zoo are reproducible, not just recorded.

Run on TensorFlow, the backend that trained them (`make test-zoo`):

- every entry of `zoo.ENTRIES` builds a CIFAR-10 classifier; every recorded
  entry has its files, and weights with the recorded SHA-256. An entry not yet
  recorded is reported as skipped, by name, with the command that records it;
- every record's test accuracy is that of its recorded predictions (one
  class per CIFAR-10 test image), and the loaded model makes those
  predictions: re-scored on every 10th test image (every 20th with
  airbench's six views; all of them with `COURSE_ZOO_FULL=1`), at least
  99.5 % agree;
- the recorded runs meet the course's targets (at least 80 % test accuracy
  for every architecture, at least 90 % for the best residual network, at
  most 45 minutes of training on the course's 2-core CPU, 90 for the best
  residual network);
- the first steps of a recorded run, re-run from its seed, give the logged
  training losses.
"""

import os
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from course_lib import data, experiment, zoo
from course_lib.runtime import processor_name

pytestmark = pytest.mark.data

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import train_zoo  # noqa: E402

RESIDUAL = zoo.RESIDUAL


@pytest.fixture(scope="module")
def test_set():
    if data.find_mirror("cifar10") is None:
        pytest.skip("no offline copy of cifar10: set COURSE_DATA_DIR to the course's data mirror")
    _, (x_test, y_test) = data.load_cifar10()
    return x_test, y_test.reshape(-1)


def test_every_entry_builds_a_cifar10_classifier():
    for name, entry in zoo.ENTRIES.items():
        network = entry.build()
        assert network.input_shape == (None, 32, 32, 3), name
        assert network.output_shape == (None, 10), name
        keras.backend.clear_session()


def _require_record(name):
    if name not in zoo.recorded():
        pytest.skip(f"{name} is not recorded yet: train it with `python scripts/train_zoo.py {name}`")


@pytest.mark.parametrize("name", list(zoo.ENTRIES))
def test_recorded_entry_has_its_files(name):
    _require_record(name)
    record = zoo.record(name)
    paths = zoo.files(name)
    assert paths["weights"].is_file() and paths["history"].is_file()
    assert data.sha256_of(paths["weights"]) == record["sha256"]
    assert record["builder"] == zoo.ENTRIES[name].builder_call
    # Fields added to the recipe after a run was recorded must still be at their defaults.
    expected = zoo.ENTRIES[name].recipe.to_dict()
    assert {key: expected[key] for key in record["recipe"]} == record["recipe"]
    defaults = experiment.Recipe().to_dict()
    assert all(expected[key] == defaults[key] for key in expected.keys() - record["recipe"].keys())
    history = zoo.history(name)
    assert list(history.index) == list(range(1, record["recipe"]["epochs"] + 1))
    assert record["seconds"] == pytest.approx(history["seconds"].sum(), abs=0.2)


# Every SAMPLE_STRIDE-th test image is re-predicted (every one with COURSE_ZOO_FULL=1): re-scoring all
# 10,000 images of every recorded model, six times over for the capstone's views, would cost more than
# the 3 minutes these checks may add to `make test`.
SAMPLE_STRIDE = 1 if os.environ.get("COURSE_ZOO_FULL") == "1" else 10
# Another processor or thread count rounds differently and may flip the top class of an image whose two
# best classes are nearly tied; 0.5 % of the sample leaves room for that, not for other weights.
MIN_AGREEMENT = 0.995


@pytest.mark.parametrize("name", list(zoo.ENTRIES))
def test_recorded_model_makes_its_recorded_predictions(name, test_set):
    _require_record(name)
    x_test, y_test = test_set
    record = zoo.record(name)
    assert len(x_test) == record["data"]["test_images"]
    model = zoo.load(name)
    keys = [(False, "test_accuracy")] + ([(True, "test_accuracy_tta")] if "test_accuracy_tta" in record else [])
    for tta, key in keys:
        predictions = zoo.recorded_predictions(name, tta=tta)
        # The recorded accuracy is that of the recorded predictions ...
        assert len(predictions) == len(y_test)
        assert (predictions == y_test).mean() == pytest.approx(record[key], abs=1e-12), key
        # ... and the loaded model makes them.
        sample = slice(None, None, SAMPLE_STRIDE * (2 if tta else 1))
        scored = zoo.load(name, tta=True) if tta else model
        live = experiment.evaluate(scored, x_test[sample], y_test[sample], batch_size=500)["predictions"]
        agreement = (live == predictions[sample]).mean()
        assert agreement >= MIN_AGREEMENT, f"{key}: {agreement:.2%} of {len(live)} test images agree"
    keras.backend.clear_session()


def test_recorded_runs_meet_the_course_targets():
    table = zoo.records()
    assert (table["test_accuracy"] >= 0.80).all(), table["test_accuracy"]
    residual = [name for name in RESIDUAL if name in table.index]
    best_residual = table.loc[residual, "test_accuracy"].idxmax() if residual else None
    over_budget = {}
    for name, seconds in table["seconds"].items():
        # Until every residual network is recorded, any of them may turn out the best one.
        limit = 90 if name == best_residual or (name in RESIDUAL and len(residual) < len(RESIDUAL)) else 45
        if seconds > limit * 60:
            over_budget[name] = seconds
    # A residual network sized for the best one's 90 minutes before another became the best is
    # over its 45 minutes: a known gap, reported below, not a pass. Any other excess fails.
    sized_for_best = {name: s for name, s in over_budget.items() if name in RESIDUAL and s <= 90 * 60}
    assert over_budget.keys() == sized_for_best.keys(), {n: f"{s / 60:.1f} min" for n, s in over_budget.items()}
    # A network recorded later can only raise the best accuracy: once one
    # residual network reaches 90 %, the target holds for good.
    best_accuracy = table.loc[residual, "test_accuracy"].max() if residual else 0.0
    if best_accuracy < 0.90 and len(residual) < len(RESIDUAL):
        pytest.skip(f"the 90 % target of the best residual network waits for {sorted(set(RESIDUAL) - set(residual))}")
    if best_accuracy < 0.90:
        # Reported as XFAIL in every run's summary until a record meets the target (issue 10).
        pytest.xfail(f"target not met yet: the best residual network, {best_residual}, reaches "
                     f"{best_accuracy:.4f}, below 0.90 (issue 10)")
    assert best_accuracy >= 0.90, table.loc[residual]
    if sized_for_best:
        # Reported as XFAIL until those networks are re-recorded within 45 minutes (issue 10).
        pytest.xfail(", ".join(f"{n} trained for {s / 60:.1f} min" for n, s in sized_for_best.items())
                     + f", sized for the best residual network's 90 minutes before {best_residual} became the "
                     f"best: over the 45-minute budget until re-recorded (issue 10)")


# The first steps are re-run on a residual network recorded on this machine's kind of processor
# (the records name it): ResNet-20 (AMD EPYC) or ResNet-9 (Intel Xeon), the course's two machines.
FIRST_STEPS = 100
FIRST_STEPS_ENTRIES = ("resnet20", "resnet9")
# Same processor, same kernels (deterministic ops), same thread count: the losses are equal to
# float32 rounding. Another thread count can sum in another order, and the running mean of 100
# steps then drifts by rounding; 1e-4 relative leaves room for that and still fails when the
# seed, the batch order or the learning rate changes what the network sees.
RELATIVE_TOLERANCE = 1e-4
# On another processor, oneDNN picks other kernels: the first step's loss agrees to 1e-6, but
# ReLU's kinks then amplify the rounding (notebook 24 shows the mechanism). Measured: ResNet-20,
# recorded on AMD EPYC, re-run on Intel Xeon: 7e-6 at step 2, 3e-5 at step 3, 3.4e-4 at step 4,
# 3.0e-3 by step 100. So only the first 3 steps are compared there, still at 1e-4: they depend
# on the seed (weights, first batches) and, from step 2 on, on the learning rate.
OTHER_PROCESSOR_STEPS = 3


def test_first_steps_of_a_recorded_run_repeat_from_its_seed():
    if data.find_mirror("cifar10") is None:
        pytest.skip("no offline copy of cifar10: set COURSE_DATA_DIR to the course's data mirror")
    here = processor_name()
    same = [n for n in FIRST_STEPS_ENTRIES if zoo.record(n)["trained_with"].get("processor") == here]
    name = same[0] if same else FIRST_STEPS_ENTRIES[0]
    steps = FIRST_STEPS if same else OTHER_PROCESSOR_STEPS
    record = zoo.record(name)
    logged = np.array(record["first_steps_loss"][:steps])
    assert len(logged) == steps
    from course_lib.runtime import enable_determinism

    enable_determinism()
    model, batches, statistics = train_zoo.first_steps_model(name)
    assert statistics == record["standardization"]
    losses = train_zoo.FirstSteps(steps)
    model.fit(batches, epochs=1, steps_per_epoch=steps, callbacks=[losses], verbose=0, shuffle=False)
    np.testing.assert_allclose(losses.losses, logged, rtol=RELATIVE_TOLERANCE,
                               err_msg=f"{name}, recorded on {record['trained_with'].get('processor')}, "
                                       f"re-run on {here}")
