"""Tests of course_lib.standardization on the backend named by KERAS_BACKEND.

`with_standardization` is also tested through the harness (tests/lib/test_experiment.py) and on bad
inputs (tests/lib/test_bad_input.py).
"""

import keras
import numpy as np
import pytest

from course_lib import experiment
from course_lib import standardization as S

RNG = np.random.default_rng(0)


def test_standardization_gives_zero_mean_unit_variance_per_channel():
    x = (RNG.normal(size=(20, 5, 5, 3)) * [10, 20, 30] + [100, 50, 0]).astype("float32")
    layer = S.standardization(x)
    out = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(out.reshape(-1, 3).var(0), 1, atol=1e-4)
    with pytest.raises(ValueError, match="rows, cols, channels"):
        S.standardization(x[0])


def test_channel_statistics_are_float64_means_and_variances_per_channel():
    x = RNG.integers(0, 256, (6, 3, 3, 2)).astype("uint8")
    statistics = S.channel_statistics(x)
    np.testing.assert_allclose(statistics["mean"], x.reshape(-1, 2).mean(0))
    np.testing.assert_allclose(statistics["variance"], x.reshape(-1, 2).astype("float64").var(0))
    assert all(type(value) is float for values in statistics.values() for value in values)


def test_a_pair_of_networks_shares_one_standardization():
    trunk = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten()], name="trunk")
    head = keras.Sequential([trunk, keras.layers.Dense(2)], name="head")
    x = RNG.normal(size=(5, 4, 4, 1)) * 3 + 7
    training, inference = S.with_standardization((head, trunk), x)
    assert (training.name, inference.name) == ("head", "trunk")
    assert training.get_layer("standardize") is inference.get_layer("standardize")


def test_the_harness_re_exports_the_standardization():
    for name in S.__all__:
        assert getattr(experiment, name) is getattr(S, name)
