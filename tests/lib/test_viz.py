"""Tests of course_lib.viz."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.viz import (
    plot_confusion_matrix,
    plot_feature_maps,
    plot_filters,
    plot_history,
    plot_learning_curves,
    show_images,
    show_misclassified,
    show_receptive_field,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize(
    "shape", [(5, 28, 28), (5, 28, 28, 1), (5, 32, 32, 3)]
)
def test_show_images_grid_and_titles(shape):
    images = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    fig = show_images(images, labels=np.arange(5).reshape(-1, 1), class_names="abcde", ncols=3, title="t")
    assert len(fig.axes) == 6  # 2 rows x 3 columns, the last one empty
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["a", "b", "c", "d", "e", ""]
    assert fig.get_suptitle() == "t"
    assert len(fig.axes[0].images) == 1 and len(fig.axes[5].images) == 0


def test_show_images_scale_follows_the_data_not_0_to_255():
    # scikit-learn's 8x8 digits run from 0 to 16: on a 0-255 scale they were nearly black.
    digits = np.random.default_rng(0).integers(0, 17, (4, 8, 8)).astype(np.uint8)
    digits[0, 0, 0], digits[1, 0, 0] = 0, 16
    fig = show_images(digits)
    for ax, image in zip(fig.axes, digits):
        assert ax.images[0].get_clim() == (0, 16)
        np.testing.assert_array_equal(ax.images[0].get_array(), image)
    # uint8 pixels that span 0-255 keep the usual scale.
    mnist_like = np.random.default_rng(1).integers(0, 256, (3, 8, 8)).astype(np.uint8)
    mnist_like[0, 0, :2] = 0, 255
    assert show_images(mnist_like).axes[0].images[0].get_clim() == (0, 255)


def test_show_images_floats_share_the_batch_scale_or_their_own():
    dark, bright = np.full((4, 4), 0.2), np.linspace(0.0, 1.0, 16).reshape(4, 4)
    images = np.stack([dark, bright])
    fig = show_images(images, labels=["x", "y"])
    # One scale for the batch: the dark image stays darker than the bright one.
    assert [ax.images[0].get_clim() for ax in fig.axes] == [(0.0, 1.0), (0.0, 1.0)]
    assert [ax.get_title() for ax in fig.axes] == ["x", "y"]
    # "image": each image to its own range (filters, feature maps).
    ramp = np.stack([np.linspace(-3, 5, 16).reshape(4, 4), bright])
    fig = show_images(ramp, value_range="image")
    shown = fig.axes[0].images[0].get_array()
    assert np.isclose(shown.min(), 0) and np.isclose(shown.max(), 1)
    # A given range: the same for every image.
    fig = show_images(images, value_range=(0, 2))
    assert fig.axes[1].images[0].get_clim() == (0.0, 2.0)


def test_show_images_colour_images_on_the_data_range():
    rgb = np.random.default_rng(2).uniform(0.0, 1.0, (2, 4, 4, 3))
    rgb[0, 0, 0] = 0.0, 0.0, 0.0
    rgb[1, 0, 0] = 1.0, 1.0, 1.0
    np.testing.assert_allclose(show_images(rgb).axes[1].images[0].get_array(), rgb[1])
    pixels = (rgb * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(show_images(pixels).axes[0].images[0].get_array(), pixels[0])
    # Colour images of another range are scaled to [0, 1] for display, channels together.
    np.testing.assert_allclose(show_images(rgb * 16).axes[0].images[0].get_array(), rgb[0])
    halved = show_images(rgb, value_range=(0, 2)).axes[1].images[0].get_array()
    np.testing.assert_allclose(halved, rgb[1] / 2)


@pytest.mark.parametrize("labels", [[f"digit {i % 10}" for i in range(20)], ["two\nlines"] * 20])
def test_show_images_titles_do_not_cover_the_images_above(labels):
    from course_lib.runtime import PLOT_DEFAULTS

    # With the notebooks' settings (figure.autolayout, 72 dpi), the grid of notebook 00.
    with plt.rc_context(PLOT_DEFAULTS):
        fig = show_images(np.zeros((20, 28, 28), np.uint8), labels, ncols=10, title="two rows")
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for i, ax in enumerate(fig.axes):
        title = ax.title.get_window_extent(renderer)
        if i >= 10:
            image_above = fig.axes[i - 10].images[0].get_window_extent(renderer)
            assert title.y1 <= image_above.y0, (i, title, image_above)
        if i % 10:
            assert fig.axes[i - 1].title.get_window_extent(renderer).x1 <= title.x0, i
        assert title.y0 >= ax.images[0].get_window_extent(renderer).y1  # above its own image
    top_row_titles = max(ax.title.get_window_extent(renderer).y1 for ax in fig.axes[:10])
    assert fig._suptitle.get_window_extent(renderer).y0 >= top_row_titles


def test_show_images_bad_input():
    with pytest.raises(ValueError, match="`images` must have shape"):
        show_images(np.zeros((2, 8, 8, 2)))
    with pytest.raises(ValueError, match="`images` must have shape"):
        show_images(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="one entry per image"):
        show_images(np.zeros((3, 8, 8)), labels=[0, 1])
    with pytest.raises(ValueError, match="`ncols` must be a positive int"):
        show_images(np.zeros((3, 8, 8)), ncols=0)
    with pytest.raises(ValueError, match="at least one image"):
        show_images(np.zeros((0, 8, 8)))
    with pytest.raises(TypeError, match="numeric"):
        show_images(np.full((2, 8, 8), "a"))
    with pytest.raises(ValueError, match="`value_range` must be one of None, 'image'"):
        show_images(np.zeros((2, 8, 8)), value_range="batch")
    with pytest.raises(ValueError, match="`value_range` must be None, 'image' or a pair"):
        show_images(np.zeros((2, 8, 8)), value_range=(0, 1, 2))
    with pytest.raises(ValueError, match="with low < high"):
        show_images(np.zeros((2, 8, 8)), value_range=(0, 0))
    with pytest.raises(ValueError, match="`value_range\\[0\\]` must be a number"):
        show_images(np.zeros((2, 8, 8)), value_range=("0", 1))
    with pytest.raises(ValueError, match="`cell_size` must be a positive number"):
        show_images(np.zeros((2, 8, 8)), cell_size=0)


# ---------------------------------------------------------------------------
# plot_history


def _history_dict():
    return {
        "loss": [1.0, 0.6, 0.4],
        "val_loss": [1.1, 0.8, 0.7],
        "accuracy": [0.5, 0.7, 0.8],
        "val_accuracy": [0.45, 0.6, 0.65],
    }


def test_plot_history_draws_training_and_validation_per_metric():
    fig = plot_history(_history_dict(), title="run")
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert all(ax.get_xlabel() == "epoch" for ax in fig.axes)
    loss_ax = fig.axes[0]
    assert [line.get_label() for line in loss_ax.lines] == ["training", "validation"]
    np.testing.assert_array_equal(loss_ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss_ax.lines[0].get_ydata(), [1.0, 0.6, 0.4])
    np.testing.assert_array_equal(loss_ax.lines[1].get_ydata(), [1.1, 0.8, 0.7])
    np.testing.assert_array_equal(fig.axes[1].lines[1].get_ydata(), [0.45, 0.6, 0.65])
    assert fig.get_suptitle() == "run"


def test_plot_history_reads_a_keras_history_without_validation():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    history = model.fit(x, x[:, :1], epochs=2, verbose=0)
    fig = plot_history(history, metrics="loss")
    assert len(fig.axes) == 1
    (line,) = fig.axes[0].lines  # no validation curve to draw
    np.testing.assert_allclose(line.get_ydata(), history.history["loss"])


def test_plot_history_bad_input():
    with pytest.raises(ValueError, match="does not hold; it holds"):
        plot_history(_history_dict(), metrics=("loss", "mae"))
    with pytest.raises(ValueError, match="at least one metric"):
        plot_history(_history_dict(), metrics=())
    with pytest.raises(TypeError, match="`history` must be"):
        plot_history([1.0, 0.5])


# ---------------------------------------------------------------------------
# plot_filters and plot_feature_maps


def test_plot_filters_single_channel_shows_each_filter_scaled():
    kernel = np.random.default_rng(0).normal(size=(5, 5, 1, 6))
    fig = plot_filters(kernel, ncols=4, title="c1")
    assert len(fig.axes) == 8  # 2 rows x 4 columns
    assert [ax.get_title() for ax in fig.axes] == ["0", "1", "2", "3", "4", "5", "", ""]
    for f in range(6):
        expected = kernel[:, :, 0, f]
        expected = (expected - expected.min()) / (expected.max() - expected.min())
        np.testing.assert_allclose(fig.axes[f].images[0].get_array(), expected)
    assert fig.get_suptitle() == "c1"


def test_plot_filters_rgb_and_channel_mean():
    rng = np.random.default_rng(1)
    rgb = rng.normal(size=(3, 3, 3, 2))
    fig = plot_filters(rgb)
    shown = fig.axes[1].images[0].get_array()
    assert shown.shape == (3, 3, 3)
    expected = (rgb[..., 1] - rgb[..., 1].min()) / np.ptp(rgb[..., 1])
    np.testing.assert_allclose(shown, expected)
    deep = rng.normal(size=(3, 3, 4, 2))
    fig = plot_filters(deep)
    mean = deep[..., 0].mean(axis=-1)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), (mean - mean.min()) / np.ptp(mean))


def test_plot_filters_bad_input():
    with pytest.raises(ValueError, match="`kernel` must have shape"):
        plot_filters(np.zeros((5, 5, 6)))
    with pytest.raises(TypeError, match="`kernel` must be a non-empty numeric"):
        plot_filters(np.full((3, 3, 1, 2), "a"))


@pytest.mark.parametrize("batch", [False, True])
def test_plot_feature_maps_one_axis_per_map_up_to_max(batch):
    maps = np.random.default_rng(2).uniform(-1, 1, size=(6, 7, 10))
    fig = plot_feature_maps(maps[None] if batch else maps, ncols=4, max_maps=5, title="maps")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5 and len(fig.axes) == 8
    assert [ax.get_title() for ax in shown] == ["0", "1", "2", "3", "4"]
    m = maps[:, :, 3]
    np.testing.assert_allclose(shown[3].images[0].get_array(), (m - m.min()) / np.ptp(m))
    assert fig.get_suptitle() == "maps"


def test_plot_feature_maps_integer_and_constant_maps():
    maps = np.zeros((4, 4, 2), dtype=np.int32)
    maps[..., 1] = np.arange(16).reshape(4, 4)
    fig = plot_feature_maps(maps)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), np.zeros((4, 4)))
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), np.arange(16).reshape(4, 4) / 15)


def test_plot_feature_maps_bad_input():
    with pytest.raises(ValueError, match="one image"):
        plot_feature_maps(np.zeros((2, 4, 4, 3)))
    with pytest.raises(ValueError, match="one image"):
        plot_feature_maps(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="`max_maps` must be a positive int"):
        plot_feature_maps(np.zeros((4, 4, 3)), max_maps=0)


# ---------------------------------------------------------------------------
# show_receptive_field


def _rectangle(ax):
    (patch,) = ax.patches
    (x, y), width, height = patch.get_xy(), patch.get_width(), patch.get_height()
    return x, y, width, height


def test_show_receptive_field_outlines_the_field_around_a_pixel():
    image = np.random.default_rng(3).integers(0, 256, (28, 28)).astype(np.uint8)
    ax = show_receptive_field(image, size=5, center=(10, 12))
    # Columns 10-14 and rows 8-12; pixel j spans [j - 0.5, j + 0.5].
    assert _rectangle(ax) == pytest.approx((9.5, 7.5, 5, 5))
    np.testing.assert_array_equal(ax.images[0].get_array(), image)
    assert ax.get_title() == "receptive field 5x5"


def test_show_receptive_field_default_centre_rectangular_size_and_axes():
    import matplotlib.pyplot as plt

    _, given = plt.subplots()
    ax = show_receptive_field(np.zeros((20, 30, 3)), size=(4, 6), ax=given, title="rf")
    assert ax is given
    # Centre (9.5, 14.5): rows 8-11, columns 12-17.
    assert _rectangle(ax) == pytest.approx((11.5, 7.5, 6, 4))
    assert ax.get_title() == "rf"


def test_show_receptive_field_is_clipped_at_the_borders():
    ax = show_receptive_field(np.zeros((28, 28, 1)), size=9, center=(1, 27))
    # Rows -3..5 and columns 23..31 clipped to rows 0..5 and columns 23..27.
    assert _rectangle(ax) == pytest.approx((22.5, -0.5, 5, 6))
    ax = show_receptive_field(np.zeros((10, 10)), size=40)
    assert _rectangle(ax) == pytest.approx((-0.5, -0.5, 10, 10))


def test_show_receptive_field_bad_input():
    with pytest.raises(ValueError, match="`size` must be a positive int"):
        show_receptive_field(np.zeros((8, 8)), size=0)
    with pytest.raises(ValueError, match="`size` must be a positive int"):
        show_receptive_field(np.zeros((8, 8)), size=(3, 3, 3))
    with pytest.raises(ValueError, match="`center` must lie in the image"):
        show_receptive_field(np.zeros((8, 8)), size=3, center=(8, 0))
    with pytest.raises(ValueError, match="`center` must be a pair"):
        show_receptive_field(np.zeros((8, 8)), size=3, center=4)
    with pytest.raises(ValueError, match="`image` must have shape"):
        show_receptive_field(np.zeros((8, 8, 2)), size=3)


# ---------------------------------------------------------------------------
# plot_confusion_matrix and show_misclassified


def _counts(y_true, y_pred, n):
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def test_plot_confusion_matrix_counts_and_names():
    rng = np.random.default_rng(4)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.uniform(size=200) < 0.7, y_true, rng.integers(0, 4, 200))
    fig = plot_confusion_matrix(y_true.reshape(-1, 1), y_pred, class_names="abcd", title="cm")
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), _counts(y_true, y_pred, 4))
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcd")
    assert [t.get_text() for t in ax.get_yticklabels()] == list("abcd")
    assert ax.get_xlabel() == "Predicted label" and ax.get_ylabel() == "True label"
    assert ax.get_title() == "cm"


def test_plot_confusion_matrix_normalized_rows_and_absent_classes():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 1, 0])
    fig = plot_confusion_matrix(y_true, y_pred, class_names=["a", "b", "c", "d"], normalize="true")
    matrix = fig.axes[0].images[0].get_array()
    counts = _counts(y_true, y_pred, 4).astype(float)
    rows = counts.sum(axis=1, keepdims=True)
    expected = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    np.testing.assert_allclose(matrix, expected)
    # Without names: only the labels present, here 0, 1 and 2.
    fig = plot_confusion_matrix(y_true, y_pred)
    assert fig.axes[0].images[0].get_array().shape == (3, 3)


def test_plot_confusion_matrix_mask_diagonal_scales_the_colours_to_the_errors():
    y_true = np.repeat(np.arange(3), 100)
    y_pred = y_true.copy()
    y_pred[:3] = 1  # three 0s read as 1
    y_pred[100] = 2  # one 1 read as 2
    plain = plot_confusion_matrix(y_true, y_pred).axes[0].images[0]
    assert plain.get_clim() == (0, 100)  # the diagonal sets the scale: 3 errors are nearly white
    fig = plot_confusion_matrix(y_true, y_pred, class_names="abc", mask_diagonal=True)
    image = fig.axes[0].images[0]
    shown = image.get_array()
    np.testing.assert_array_equal(shown.data, _counts(y_true, y_pred, 3))
    np.testing.assert_array_equal(shown.mask, np.eye(3, dtype=bool))
    assert image.get_clim() == (0, 3)  # the largest error is the darkest colour
    colorbar = fig.axes[1]
    assert colorbar.get_ylim() == (0, 3) and colorbar.get_ylabel() == "errors (count); diagonal in grey"
    texts = fig.axes[0].texts
    assert [t.get_text() for t in texts][:3] == ["97", "3", "0"]  # the diagonal keeps its numbers
    rows = plot_confusion_matrix(y_true, y_pred, normalize="true", mask_diagonal=True)
    assert rows.axes[0].images[0].get_clim() == pytest.approx((0, 0.03))
    with pytest.raises(TypeError, match="`mask_diagonal` must be True or False"):
        plot_confusion_matrix(y_true, y_pred, mask_diagonal="yes")


def test_plot_confusion_matrix_bad_input():
    with pytest.raises(ValueError, match="same length"):
        plot_confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match="`normalize` must be one of"):
        plot_confusion_matrix([0, 1], [0, 1], normalize="rows")
    with pytest.raises(ValueError, match="`class_names` names 2 classes"):
        plot_confusion_matrix([0, 2], [0, 1], class_names=["a", "b"])
    with pytest.raises(TypeError, match="`y_true` must hold integer class labels"):
        plot_confusion_matrix([0.0, 1.0], [0, 1])
    with pytest.raises(ValueError, match="shape \\(N,\\) or \\(N, 1\\)"):
        plot_confusion_matrix(np.zeros((2, 2), int), [0, 1])


def test_show_misclassified_shows_only_the_errors_in_order():
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (10, 8, 8)).astype(np.uint8)
    y_true = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    y_pred = np.array([0, 2, 2, 1, 1, 2, 0, 0, 2, 0])  # wrong at 1, 3, 7
    fig = show_misclassified(images, y_true, y_pred, class_names=["zero", "one", "two"], ncols=2)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["one -> two", "zero -> one", "one -> zero"]
    for ax, index in zip(shown, [1, 3, 7]):
        np.testing.assert_array_equal(ax.images[0].get_array(), images[index])
    assert fig.get_suptitle() == "3 of 3 misclassified images (true -> predicted)"
    fig = show_misclassified(images, y_true, y_pred, max_images=2, title="errors")
    assert [ax.get_title() for ax in fig.axes if ax.images] == ["1 -> 2", "0 -> 1"]
    assert fig.get_suptitle() == "errors"


def test_show_misclassified_without_errors_says_so():
    fig = show_misclassified(np.zeros((3, 8, 8)), [0, 1, 2], [0, 1, 2])
    (ax,) = fig.axes
    assert not ax.images
    assert [t.get_text() for t in ax.texts] == ["no misclassified images (0 of 3)"]


def test_show_misclassified_bad_input():
    with pytest.raises(ValueError, match="same length"):
        show_misclassified(np.zeros((3, 8, 8)), [0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="`max_images` must be a positive int"):
        show_misclassified(np.zeros((2, 8, 8)), [0, 1], [1, 0], max_images=0)
    with pytest.raises(ValueError, match="`images` must have shape"):
        show_misclassified(np.zeros((2, 8)), [0, 1], [1, 0])


def test_plot_learning_curves_draws_seeds_mean_and_whole_epochs():
    import pandas as pd

    runs = pd.DataFrame({
        "seed": [0, 0, 0, 1, 1, 1], "epoch": [1, 2, 3, 1, 2, 3],
        "accuracy": [0.3, 0.5, 0.6, 0.35, 0.45, 0.65], "val_accuracy": [0.25, 0.4, 0.5, 0.3, 0.42, 0.55],
    })
    ax = plot_learning_curves(runs, title="two seeds", test=0.52)
    assert ax.get_title() == "two seeds" and ax.get_xlabel() == "epoch"
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)  # no epoch 1.5
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any("mean of 2 seeds" in label for label in labels) and "test: 0.520" in labels
