"""Tests of course_lib.interpret on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest

from course_lib import interpret
from course_lib.autodiff import value_and_gradient
from course_lib.viz import overlay_map

RNG = np.random.default_rng(0)


def _gap_network(softmax=True, dropout=False):
    """conv -> conv -> GAP -> [dropout] -> dense: the shape the CAM needs."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(4, activation="softmax" if softmax else None, name="predictions")(x)
    return keras.Model(inputs, outputs)


def _images(n=3):
    return RNG.uniform(0, 1, (n, 12, 12, 3)).astype("float32")


def test_cam_is_the_dense_weights_applied_to_the_last_maps():
    model = _gap_network()
    images = _images()
    cam = interpret.class_activation_map(model, images, [0, 1, 3])
    maps = keras.ops.convert_to_numpy(keras.Model(model.input, model.get_layer("conv2").output)(images))
    kernel, bias = model.get_layer("predictions").get_weights()
    expected = np.stack([maps[i] @ kernel[:, c] for i, c in enumerate([0, 1, 3])])
    np.testing.assert_allclose(cam, expected, rtol=1e-4, atol=1e-6)
    # Its mean plus the bias is the class score before the softmax.
    logits = maps.mean(axis=(1, 2)) @ kernel + bias
    np.testing.assert_allclose(cam.mean(axis=(1, 2)) + bias[[0, 1, 3]], logits[np.arange(3), [0, 1, 3]],
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("softmax, dropout", [(True, False), (False, True)])
def test_grad_cam_equals_the_relu_of_the_cam_on_a_gap_network(softmax, dropout):
    model = _gap_network(softmax, dropout)
    images = _images()
    cam = interpret.class_activation_map(model, images, 2)
    gradcam = interpret.grad_cam(model, images, 2)
    assert gradcam.shape == cam.shape == (3, 12, 12)
    # The score's gradient at every position is w[k, c] / (H W): Grad-CAM = ReLU(CAM) / (H W).
    np.testing.assert_allclose(gradcam * 144, np.maximum(cam, 0), rtol=1e-3, atol=1e-5)


def test_grad_cam_of_an_earlier_layer_and_a_wrapped_model():
    network = _gap_network()
    inputs = keras.Input((12, 12, 3))
    wrapped = keras.Model(inputs, network(keras.layers.Rescaling(2.0)(inputs)))
    images = _images()
    maps = interpret.grad_cam(wrapped, images, 1, layer_name="conv1")
    assert maps.shape == (3, 12, 12) and (maps >= 0).all()
    np.testing.assert_allclose(interpret.class_activation_map(wrapped, images, 1),
                               interpret.class_activation_map(network, 2 * images, 1), rtol=1e-4, atol=1e-6)


def test_saliency_is_the_largest_absolute_input_gradient_of_the_score():
    model = _gap_network(softmax=False)
    images = _images(2)
    saliency = interpret.saliency_map(model, images, [1, 2])
    _, gradient = value_and_gradient(
        lambda x: keras.ops.sum(model(x) * keras.ops.convert_to_tensor(np.eye(4, dtype="float32")[[1, 2]])), images
    )
    np.testing.assert_allclose(saliency, np.abs(gradient).max(axis=-1), rtol=1e-4, atol=1e-7)


def test_occlusion_measures_the_drop_of_the_class_probability():
    # A classifier that only looks at the top-left 4x4 corner: occluding elsewhere changes nothing.
    inputs = keras.Input((8, 8, 1))
    corner = keras.layers.Cropping2D(((0, 4), (0, 4)))(inputs)
    score = keras.layers.Flatten()(keras.layers.GlobalAveragePooling2D()(corner))
    outputs = keras.layers.Softmax()(keras.layers.Concatenate()([score, -score]))
    model = keras.Model(inputs, outputs)
    images = np.ones((2, 8, 8, 1), "float32")
    drops = interpret.occlusion_map(model, images, 0, patch_size=4, stride=4, fill=0.0)
    assert drops.shape == (2, 2, 2)
    assert (drops[:, 0, 0] > 0.1).all()
    np.testing.assert_allclose(drops.reshape(2, -1)[:, 1:], 0, atol=1e-6)


def test_upsample_and_overlay():
    maps = np.arange(8, dtype="float32").reshape(2, 2, 2)
    large = interpret.upsample_to(maps, (6, 6))
    assert large.shape == (2, 6, 6)
    assert large.min() >= maps.min() - 1e-5 and large.max() <= maps.max() + 1e-5
    ax = overlay_map(np.zeros((6, 6, 3), "uint8"), maps[0], title="map")
    assert ax.get_title() == "map"
    with pytest.raises(ValueError, match="size"):
        interpret.upsample_to(maps, (6,))


def test_overlay_map_scales_to_its_range_by_default_or_keeps_the_values_within_given_limits():
    import matplotlib.pyplot as plt

    image, signed = np.zeros((4, 4, 3), "uint8"), np.array([[-0.2, 0.1], [0.3, 0.0]], "float32")
    ax = overlay_map(image, signed)  # default: scaled to [0, 1], its own colour bar
    drawn = ax.images[-1]
    assert drawn.get_clim() == (0.0, 1.0) and drawn.cmap.name == "viridis"
    assert np.asarray(drawn.get_array()).min() == 0 and np.asarray(drawn.get_array()).max() == 1
    assert len(ax.figure.axes) == 2 and ax.figure.axes[1].get_ylabel() == "map, scaled to its range"
    # Shared limits: the values as they are, white at 0 on a diverging map, no colour bar of its own.
    fig, axes = plt.subplots(1, 2)
    for axis in axes:
        overlay_map(image, signed, ax=axis, cmap="RdBu_r", vmin=-0.5, vmax=0.5, colorbar=False)
    assert len(fig.axes) == 2
    drawn = axes[0].images[-1]
    assert drawn.get_clim() == (-0.5, 0.5) and drawn.cmap.name == "RdBu_r"
    np.testing.assert_allclose(np.asarray(drawn.get_array()), interpret.upsample_to(signed[None], (4, 4))[0])
    # One limit given: the other is the map's own extreme.
    assert overlay_map(image, signed, vmin=-1.0).images[-1].get_clim() == (-1.0, pytest.approx(0.3))
    with pytest.raises(ValueError, match="`vmin` must be smaller than `vmax`"):
        overlay_map(image, signed, vmin=1.0, vmax=1.0)
    with pytest.raises(ValueError, match="`vmin` must be smaller than `vmax`"):
        overlay_map(image, signed, vmin=float("nan"), vmax=1.0)
    with pytest.raises(TypeError, match="colorbar"):
        overlay_map(image, signed, colorbar="no")
    plt.close("all")


def test_bad_arguments_get_clear_errors():
    model = _gap_network()
    images = _images()
    with pytest.raises(ValueError, match="class_index"):
        interpret.grad_cam(model, images, 4)
    with pytest.raises(ValueError, match="one int per image"):
        interpret.grad_cam(model, images, [0, 1])
    with pytest.raises(ValueError, match="images"):
        interpret.saliency_map(model, images[0], 0)
    with pytest.raises(ValueError, match="layer_name"):
        interpret.grad_cam(model, images, 0, layer_name="nope")
    with pytest.raises(ValueError, match="4-D output"):
        interpret.grad_cam(model, images, 0, layer_name="gap")
    flatten = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                                keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="global average pooling"):
        interpret.class_activation_map(flatten, images, 0)
    with pytest.raises(ValueError, match="patch_size"):
        interpret.occlusion_map(model, images, 0, patch_size=20)


def _spot_detector():
    """conv -> GAP -> dense whose class 1 responds to bright pixels: its evidence is where they are."""
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="predictions")(x))
    model.get_layer("conv").set_weights([np.ones((3, 3, 1, 1), "float32"), np.zeros(1, "float32")])
    model.get_layer("predictions").set_weights([np.array([[-1.0, 1.0]], "float32"), np.zeros(2, "float32")])
    return model


def test_sanity_hiding_the_cam_peak_costs_more_than_hiding_elsewhere():
    model = _spot_detector()
    images = np.zeros((4, 12, 12, 1), "float32")
    for i, (row, col) in enumerate([(2, 2), (8, 3), (5, 9), (9, 9)]):
        images[i, row:row + 2, col:col + 2] = 1.0  # one bright 2x2 spot per image
    cams = interpret.class_activation_map(model, images, 1)
    occlusion = interpret.occlusion_map(model, images, 1, patch_size=4, stride=2, fill=0.0)
    for cam, drops in zip(cams, occlusion):
        peak = np.unravel_index(np.argmax(cam), cam.shape)
        # The occlusion patch covering the CAM's peak is among those that cost the most.
        at_peak = drops[min(peak[0] // 2, drops.shape[0] - 1), min(peak[1] // 2, drops.shape[1] - 1)]
        assert at_peak > np.median(drops) and at_peak > 0


def test_sanity_randomised_top_layers_change_the_maps():
    model = _gap_network(softmax=False)
    images = _images()
    trained = interpret.grad_cam(model, images, 1)
    randomised = keras.models.clone_model(model)
    randomised.set_weights(model.get_weights())
    layer = randomised.get_layer("predictions")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.random.default_rng(1).normal(size=kernel.shape).astype("float32"), bias])
    changed = interpret.grad_cam(randomised, images, 1)
    # Grad-CAM depends on the classifier's weights: new weights give other maps.
    assert not np.allclose(trained, changed, atol=1e-6)
    saliency = interpret.saliency_map(model, images, 1)
    assert not np.allclose(saliency, interpret.saliency_map(randomised, images, 1), atol=1e-6)
