"""Tests of course_lib.transfer on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest

from course_lib import transfer as T

RNG = np.random.default_rng(0)


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _backbone(name="cnn"):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, name="conv1"),
            keras.layers.BatchNormalization(name="bn1"),
            keras.layers.ReLU(name="relu1"),
            keras.layers.Conv2D(6, 3, name="conv2"),
            keras.layers.BatchNormalization(name="bn2"),
            keras.layers.ReLU(name="relu2"),
        ],
        name=name,
    )


def _data(n=16):
    # Inputs far from zero mean: BatchNormalization in training mode would
    # move its moving mean away from 0 at once.
    x = RNG.normal(2.0, 3.0, size=(n, 8, 8, 3)).astype("float32")
    y = keras.utils.to_categorical(RNG.integers(0, 3, n), 3)
    return x, y


def _weights(layer):
    return {w.path: _numpy(w).copy() for w in layer.weights}


def _fit(model, x, y):
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)


def test_training_the_head_leaves_the_frozen_backbone_unchanged():
    backbone = _backbone()
    model = T.build_transfer_model(backbone, classes=3, head_units=(5,), dropout=0.1)
    assert not backbone.trainable
    head = [model.get_layer("head_dense_1"), model.get_layer("predictions")]
    assert {w.path for w in model.trainable_weights} == {w.path for layer in head for w in layer.weights}
    before, head_before = _weights(backbone), [_weights(layer) for layer in head]
    _fit(model, *_data())
    # Every backbone weight, BatchNormalization's moving statistics included, is unchanged.
    after = _weights(backbone)
    for path, value in before.items():
        np.testing.assert_array_equal(after[path], value, err_msg=path)
    for layer, old in zip(head, head_before):
        for path, value in _weights(layer).items():
            assert not np.allclose(value, old[path]), path


def test_fine_tuning_trains_the_unfrozen_layers_with_batch_norm_in_inference_mode():
    backbone = _backbone()
    model = T.build_transfer_model(backbone, classes=3)
    unfrozen = T.set_trainable(model, from_layer="conv2")
    assert [layer.name for layer in unfrozen] == ["conv2", "bn2", "relu2"]
    trainable = {w.path for w in model.trainable_weights}
    expected = {w.path for w in backbone.get_layer("conv2").weights}
    expected |= {backbone.get_layer("bn2").gamma.path, backbone.get_layer("bn2").beta.path}
    expected |= {w.path for w in model.get_layer("predictions").weights}
    assert trainable == expected
    before = {name: _weights(backbone.get_layer(name)) for name in ("conv1", "bn1", "conv2", "bn2")}
    _fit(model, *_data())
    after = {name: _weights(backbone.get_layer(name)) for name in before}
    for name in ("conv1", "bn1"):
        for path, value in before[name].items():
            np.testing.assert_array_equal(after[name][path], value, err_msg=path)
    bn2 = backbone.get_layer("bn2")
    for weight in (bn2.moving_mean, bn2.moving_variance):  # inference mode: not updated
        np.testing.assert_array_equal(after["bn2"][weight.path], before["bn2"][weight.path])
    for name, weight in (("conv2", backbone.get_layer("conv2").kernel), ("bn2", bn2.gamma)):  # trained
        assert not np.allclose(after[name][weight.path], before[name][weight.path]), weight.path


def test_transfer_model_saves_and_loads(tmp_path):
    model = T.build_transfer_model(_backbone(), classes=3, head_units=(4,))
    x = _data(4)[0]
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), rtol=1e-5, atol=1e-6)
    assert isinstance(loaded.get_layer("cnn_inference"), T.InferenceMode)
    assert len(loaded.trainable_weights) == 4


def test_set_trainable_by_index_and_refreeze():
    backbone = _backbone()
    model = T.build_transfer_model(backbone, classes=2)
    assert len(model.trainable_weights) == 2
    T.set_trainable(model, from_layer=-3)  # conv2, bn2, relu2
    assert len(model.trainable_weights) == 2 + 2 + 2
    T.set_trainable(model)  # the whole backbone
    assert len(model.trainable_weights) == 2 + 4 + 2 + 2
    frozen = T.set_trainable(model, from_layer=0, trainable=False)
    assert len(frozen) == len(backbone.layers) and len(model.trainable_weights) == 2


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_head_pools_the_feature_map_and_classifies(pooling):
    backbone = _backbone()
    model = T.build_transfer_model(backbone, classes=3, pooling=pooling, classifier_activation=None)
    x = _data(4)[0]
    features = _numpy(backbone(x, training=False))
    pooled = features.mean(axis=(1, 2)) if pooling == "avg" else features.max(axis=(1, 2))
    kernel, bias = (_numpy(w) for w in model.get_layer("predictions").weights)
    np.testing.assert_allclose(_numpy(model(x)), pooled @ kernel + bias, rtol=1e-4, atol=1e-5)


def test_feature_vector_backbone_needs_no_pooling():
    backbone = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(7)], name="mlp")
    model = T.build_transfer_model(backbone, classes=4, pooling=None, freeze=False)
    assert model.output_shape == (None, 4) and backbone.trainable
    assert len(model.trainable_weights) == 4


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: T.build_transfer_model(_backbone(), 3, pooling=None), ValueError, "`pooling` must be one of"),
        (lambda: T.build_transfer_model(_backbone(), 0), ValueError, "`classes` must be a positive int"),
        (lambda: T.build_transfer_model(_backbone(), 3, head_units=(4, 0)), ValueError, "`head_units`"),
        (lambda: T.build_transfer_model(_backbone(), 3, dropout=1.0), ValueError, r"`dropout` must be a number in \[0, 1\)"),
        (lambda: T.build_transfer_model(keras.layers.Dense(3), 3), TypeError, "`backbone` must be a keras.Model"),
        (
            lambda: T.build_transfer_model(
                keras.Sequential([keras.Input((8, 3)), keras.layers.Conv1D(2, 3)], name="seq"), 3
            ),
            ValueError,
            "4-D feature map or a 2-D feature vector",
        ),
        (lambda: T.set_trainable(T.build_transfer_model(_backbone(), 3), "conv9"), ValueError, "conv9"),
        (lambda: T.set_trainable(_backbone(), 7), ValueError, r"`from_layer` must be an index in \[-6, 6\)"),
        (lambda: T.fine_tuning_learning_rate(1e-3, factor=0.5), ValueError, "`factor` must be a number >= 1"),
        (lambda: T.fine_tuning_learning_rate(0), ValueError, "`head_learning_rate` must be a positive"),
    ],
)
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_fine_tuning_learning_rate():
    assert T.fine_tuning_learning_rate(1e-3) == pytest.approx(1e-4)
    assert T.fine_tuning_learning_rate(0.02, factor=4) == pytest.approx(0.005)
