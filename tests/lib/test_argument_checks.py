"""`course_lib._checks`: the argument checks every module shares, and their use across modules."""

import keras
import numpy as np
import pytest

from course_lib import _checks as C


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_positive_int_accepts_python_and_numpy_ints_and_returns_a_python_int(value):
    result = C.check_positive_int(value, "filters")
    assert result == 3 and type(result) is int


@pytest.mark.parametrize("value", [0, -2, 2.0, True, np.bool_(True), "3", None])
def test_positive_int_rejects_other_values_and_names_the_argument(value):
    with pytest.raises(ValueError, match=r"`filters` must be a positive int; received filters="):
        C.check_positive_int(value, "filters")


def test_positive_int_options():
    assert C.check_positive_int(0, "pad", allow_zero=True) == 0
    assert C.check_positive_int(None, "n", allow_none=True) is None
    with pytest.raises(ValueError, match=r"`pad` must be a non-negative int; received pad=-1\."):
        C.check_positive_int(-1, "pad", allow_zero=True)
    with pytest.raises(ValueError, match=r"`n` must be None or a positive int; received n=0\."):
        C.check_positive_int(0, "n", allow_none=True)


@pytest.mark.parametrize("depth, offset, n", [(8, 2, 1), (20, 2, 3), (np.int64(110), 2, 18), (10, 4, 1), (28, 4, 4)])
def test_depth_6n_returns_the_blocks_per_stage(depth, offset, n):
    result = C.check_depth_6n(depth, offset, (20, 32))
    assert result == n and type(result) is int


@pytest.mark.parametrize("depth", [2, 4, 21, 20.0, True, "20", None])
def test_depth_6n_names_the_form_and_the_examples(depth):
    message = r"`depth` must be an int of the form 6n \+ 4 with n >= 1 \(10, 16, \.\.\.\); received depth="
    with pytest.raises(ValueError, match=message):
        C.check_depth_6n(depth, 4, (10, 16))


def test_choice_returns_the_value_or_names_the_argument_and_the_options():
    assert C.check_choice("same", "padding", ("valid", "same")) == "same"
    with pytest.raises(ValueError, match=r"`padding` must be one of 'valid', 'same'; received padding='SAME'\."):
        C.check_choice("SAME", "padding", ("valid", "same"))


def test_positive_ints_and_int_pairs():
    assert C.check_positive_ints([4, np.int32(2)], "units") == (4, 2)
    assert C.check_positive_ints((), "units") == ()
    for bad in (4, [4, 0], [4, True], (1, 2, 3)):
        with pytest.raises(ValueError, match="`units` must be a sequence of"):
            C.check_positive_ints(bad, "units", length=None if bad != (1, 2, 3) else 2)
    assert C.check_int_pair(3, "size") == (3, 3)
    assert C.check_int_pair([2, 5], "size") == (2, 5)
    for bad in (0, (3,), (3, 0), (3, 2.0), True):
        with pytest.raises(ValueError, match="`size` must be a positive int or a pair of positive ints"):
            C.check_int_pair(bad, "size")


@pytest.mark.parametrize(
    "bounds, good, bad, expected",
    [
        (dict(low=0, low_open=True), [1e-9, 3, 2.5], [0, -1], "a positive number"),
        (dict(low=0), [0, 4.0], [-1e-9], "a non-negative number"),
        (dict(low=0, high=1, high_open=True), [0, 0.99], [1, -0.1], r"a number in \[0, 1\)"),
        (dict(low=0, high=1, low_open=True), [1, 0.5], [0, 1.01], r"a number in \(0, 1\]"),
        (dict(low=1), [1, 10], [0.5], "a number >= 1"),
    ],
)
def test_number_bounds_and_messages(bounds, good, bad, expected):
    for value in good:
        assert C.check_number(value, "x", **bounds) == float(value)
    for value in bad + [True, "1", float("nan"), None]:
        with pytest.raises(ValueError, match=f"`x` must be {expected}; received x="):
            C.check_number(value, "x", **bounds)


def test_bool():
    assert C.check_bool(np.bool_(False), "flag") is False
    for bad in (0, 1, "yes", None):
        with pytest.raises(TypeError, match="`flag` must be True or False"):
            C.check_bool(bad, "flag")


def test_seed_is_none_or_a_non_negative_int():
    assert C.check_seed(None) is None
    assert C.check_seed(0) == 0
    seed = C.check_seed(np.int64(12))
    assert seed == 12 and type(seed) is int
    for bad in (-1, 1.0, True, "0", np.float32(2)):
        with pytest.raises(ValueError, match=r"`seed` must be None or a non-negative int; received seed="):
            C.check_seed(bad)
    with pytest.raises(ValueError, match=r"`seeds` must be a non-negative int; received seeds=None\."):
        C.check_seed(None, "seeds", allow_none=False)


def test_class_indices():
    np.testing.assert_array_equal(C.class_indices([[2], [0]]), [2, 0])
    np.testing.assert_array_equal(C.class_indices(np.array([1, 0], "uint8")), [1, 0])
    assert C.class_indices([]).shape == (0,)
    with pytest.raises(TypeError, match=r"`y` must hold integer class labels .*received y of dtype float64"):
        C.class_indices([0.0, 1.0])
    with pytest.raises(ValueError, match=r"one-hot labels: take their argmax.*shape \(2, 3\)"):
        C.class_indices(np.eye(3, dtype=int)[:2])
    with pytest.raises(ValueError, match=r"integer class labels of shape \(N,\) or \(N, 1\)"):
        C.class_indices(np.zeros((2, 1, 1), int))
    with pytest.raises(ValueError, match=r"`labels` must hold labels in \[0, 3\); received labels in \[0, 3\]"):
        C.class_indices([0, 3], "labels", num_classes=3)


def test_soft_labels_on_arrays_and_symbolic_tensors():
    C.check_soft_labels(np.eye(3, dtype="float32"))
    C.check_soft_labels(keras.KerasTensor((None, 10), dtype="float32"))  # unknown batch size
    with pytest.raises(TypeError, match="keras.utils.to_categorical"):
        C.check_soft_labels(np.array([[0], [1]]))
    with pytest.raises(ValueError, match="must be 2-D"):
        C.check_soft_labels(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="at least 2"):
        C.check_soft_labels(np.array([[0.0], [1.0]]))


def test_model():
    C.check_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    with pytest.raises(TypeError, match=r"`backbone` must be a keras.Model; received Dense\."):
        C.check_model(keras.layers.Dense(1), "backbone")


def test_image_batches():
    assert C.check_image_batch(np.zeros((2, 4, 4, 1))).shape == (2, 4, 4, 1)
    with pytest.raises(ValueError, match=r"`x` must be a batch of images .*received shape \(4, 4, 1\)"):
        C.check_image_batch(np.zeros((4, 4, 1)), "x")
    with pytest.raises(ValueError, match="expects inputs of shape"):
        C.check_image_input((None, 4, 4, None), "Block")


# Every public function that takes a seed checks it the same way. ----------------


def _seeded_calls():
    from course_lib import analysis, augment, data, experiment, mixup, receptive_field, tta

    x = np.zeros((6, 8, 8, 1), "float32")
    y = np.array([0, 1, 0, 1, 0, 1])
    one_hot = np.eye(2, dtype="float32")[y]

    def model():
        return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="conv"),
                                 keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])

    return {
        "data.subset": lambda seed: data.subset(x, y, 1, seed=seed),
        "data.load_digits": lambda seed: data.load_digits(seed=seed),
        "experiment.split_validation": lambda seed: experiment.split_validation(x, y, 2, seed=seed),
        "experiment.learning_rate_range_test": lambda seed: experiment.learning_rate_range_test(
            model(), x, y, steps=1, seed=seed),
        "augment.geometric_augmentation": lambda seed: augment.geometric_augmentation(seed=seed),
        "augment.photometric_augmentation": lambda seed: augment.photometric_augmentation(seed=seed),
        "augment.RangeGaussianNoise": lambda seed: augment.RangeGaussianNoise(0.1, seed=seed),
        "augment.balance_with_augmentation": lambda seed: augment.balance_with_augmentation(
            x, y, lambda images: images, 4, seed=seed),
        "mixup.MixUp": lambda seed: mixup.MixUp(seed=seed),
        "mixup.mixup_batch": lambda seed: mixup.mixup_batch(x, one_hot, seed=seed),
        "mixup.MixUpBatches": lambda seed: mixup.MixUpBatches(x, one_hot, seed=seed),
        "tta.TTAModel": lambda seed: tta.TTAModel(model(), n_samples=2, seed=seed),
        "tta.predict_tta": lambda seed: tta.predict_tta(model(), x, n_samples=2, seed=seed),
        "analysis.measure_throughput": lambda seed: analysis.measure_throughput(model(), seed=seed),
        "receptive_field.empirical_receptive_field": lambda seed: receptive_field.empirical_receptive_field(
            model(), "conv", seed=seed),
    }


# Functions that record or resume a run by its seed take no None.
def _recorded_calls():
    from course_lib import experiment, runtime

    x, y = np.zeros((4, 8, 8, 1), "float32"), np.array([0, 1, 0, 1])
    return {
        "runtime.setup_notebook": lambda seed: runtime.setup_notebook(seed=seed, verbose=False),
        "experiment.AugmentedBatches": lambda seed: experiment.AugmentedBatches(x, y, 2, seed=seed),
        "experiment.Recipe.batches": lambda seed: experiment.Recipe().batches(x, y, 2, seed=seed),
    }


@pytest.mark.parametrize("name", sorted(_seeded_calls()))
@pytest.mark.parametrize("seed", [-1, True, 2.5])
def test_every_seeded_function_rejects_a_bad_seed_alike(name, seed):
    with pytest.raises(ValueError, match=r"`seed` must be None or a non-negative int; received seed="):
        _seeded_calls()[name](seed)


@pytest.mark.parametrize("name", sorted(_recorded_calls()))
@pytest.mark.parametrize("seed", [-1, True, 2.5, None])
def test_functions_that_record_their_seed_reject_none_too(name, seed):
    with pytest.raises(ValueError, match=r"`seed` must be a non-negative int; received seed="):
        _recorded_calls()[name](seed)


def test_experiment_run_names_its_seeds():
    from course_lib import experiment

    splits = experiment.Splits(*[(np.zeros((2, 8, 8, 1), "float32"), np.array([0, 1]))] * 3)
    with pytest.raises(ValueError, match=r"`seeds` must be a non-negative int; received seeds=None"):
        experiment.run(lambda: None, splits, experiment.Recipe(), seeds=(0, None))


def test_array_checks_name_the_argument_and_what_was_expected():
    assert C.check_array([[1, 2]], "kernel", ndim=2).shape == (1, 2)
    assert C.check_array(np.zeros((0, 3)), "x", allow_empty=True).shape == (0, 3)
    for bad, error, message in [
        (np.array([True, False]), TypeError, r"`x` must hold real numbers; received x of dtype bool"),
        (np.array([1 + 2j]), TypeError, r"`x` must hold real numbers; received x of dtype complex128"),
        ([[1, 2], [3]], ValueError, r"`x` must be an array of shape \(N, M\); received a ragged sequence"),
        (np.zeros((2, 2, 2)), ValueError, r"`x` must have shape \(N, M\); received x of shape \(2, 2, 2\)"),
        (np.zeros((0, 2)), ValueError, r"`x` must not be empty; received x of shape \(0, 2\)"),
        (np.array([[1.0, np.nan], [np.inf, 0.0]]), ValueError, r"received 1 NaN and 1 infinite values among its 4"),
    ]:
        with pytest.raises(error, match=message):
            C.check_array(bad, "x", ndim=(1, 2), shape="(N, M)", finite=True)


def test_distributions_and_classifier_checks():
    C.check_distributions(np.array([[0.25, 0.75], [1.0, 0.0]], "float16"))
    with pytest.raises(ValueError, match=r"row 1 holds -0\.1"):
        C.check_distributions(np.array([[0.5, 0.5], [1.1, -0.1]]))
    with pytest.raises(ValueError, match=r"`labels` must hold finite numbers"):
        C.check_distributions(np.array([[np.nan, 1.0]]))
    assert C.check_classifier(np.int64(1), "sigmoid") == 1
    with pytest.raises(ValueError, match=r"`classes` must be a positive int"):
        C.check_classifier(0, "sigmoid")
    with pytest.raises(ValueError, match=r"`units=1` with classifier_activation='softmax'"):
        C.check_classifier(1, "softmax", name="units")
