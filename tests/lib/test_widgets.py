"""Tests of course_lib.widgets: the pure functions against references, the widgets' wiring.

References are independent: `course_lib.ops.correlate2d` and `conv2d_forward`,
`scipy.signal.correlate2d` with a kernel dilated by hand, the output-size
formulas written out here, Keras's `compute_output_shape`, and
`course_lib.receptive_field.receptive_field` on Keras models built from the same
layers. The widgets are driven through their controls, without a browser.
"""

import importlib.util

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest
import scipy.signal

from course_lib import ops
from course_lib.gradcheck import normwise_relative_error
from course_lib.receptive_field import receptive_field
from course_lib.widgets import (
    CLASSIC_KERNELS,
    FieldRow,
    convolution_step,
    default_image,
    kernel_from_text,
    kernel_to_text,
    plot_convolution_step,
    plot_receptive_field_stack,
    receptive_field_stack,
)

L = keras.layers
needs_ipywidgets = pytest.mark.skipif(importlib.util.find_spec("ipywidgets") is None, reason="ipywidgets is missing")
rng = np.random.default_rng(0)
IMAGE = rng.normal(size=(9, 11))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _dilate(kernel, dilation):
    """The kernel with `dilation - 1` zeros between its taps, by hand."""
    kh, kw = kernel.shape
    dilated = np.zeros((dilation * (kh - 1) + 1, dilation * (kw - 1) + 1))
    dilated[::dilation, ::dilation] = kernel
    return dilated


# ---------------------------------------------------------------------------
# convolution_step


@pytest.mark.parametrize("padding", ["valid", "same", "full"])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("kernel_shape", [(3, 3), (1, 1), (3, 5)])
def test_last_step_equals_correlate2d(kernel_shape, stride, padding):
    kernel = rng.normal(size=kernel_shape)
    step = convolution_step(IMAGE, kernel, position=-1, stride=stride, padding=padding)
    assert step.is_last and not np.isnan(step.output).any()
    assert normwise_relative_error(step.output, ops.correlate2d(IMAGE, kernel, padding, stride)) < 1e-12


@pytest.mark.parametrize("stride", [1, 2])
def test_even_kernels_pad_same_as_keras(stride):
    # ops.correlate2d refuses even kernels with "same"; conv2d_forward follows Keras.
    kernel = rng.normal(size=(2, 4))
    step = convolution_step(IMAGE, kernel, position=-1, stride=stride, padding="same")
    reference = ops.conv2d_forward(IMAGE[None, :, :, None], kernel[:, :, None, None], padding="same", strides=stride)
    assert normwise_relative_error(step.output, reference[0, :, :, 0]) < 1e-12


@pytest.mark.parametrize("padding", ["valid", "same", "full"])
@pytest.mark.parametrize("dilation", [2, 3])
def test_dilation_equals_scipy_with_a_dilated_kernel(dilation, padding):
    kernel = rng.normal(size=(3, 2)) if padding != "same" else rng.normal(size=(3, 3))
    step = convolution_step(IMAGE, kernel, position=-1, padding=padding, dilation=dilation)
    reference = scipy.signal.correlate2d(IMAGE, _dilate(kernel, dilation), mode=padding)
    assert step.output.shape == reference.shape
    assert normwise_relative_error(step.output, reference) < 1e-12
    assert step.effective_kernel_size == _dilate(kernel, dilation).shape


@pytest.mark.parametrize("padding", ["valid", "same", "full"])
def test_dilation_with_strides_equals_correlate2d_of_the_dilated_kernel(padding):
    kernel = rng.normal(size=(3, 3))
    step = convolution_step(IMAGE, kernel, position=-1, stride=(2, 3), padding=padding, dilation=2)
    reference = ops.correlate2d(IMAGE, _dilate(kernel, 2), padding, (2, 3))
    assert normwise_relative_error(step.output, reference) < 1e-12


def test_one_step_shows_its_window_products_and_the_map_so_far():
    kernel = rng.normal(size=(3, 3))
    full = convolution_step(IMAGE, kernel, position=-1, stride=2, padding="same", dilation=2).output
    step = convolution_step(IMAGE, kernel, position=7, stride=2, padding="same", dilation=2)
    rows, cols = step.output_shape
    assert step.index == divmod(7, cols) and step.position == 7
    # The taps sit `dilation` apart from the window's corner, `stride` per unit.
    assert step.rows.tolist() == [2 * step.index[0] + 2 * i for i in range(3)]
    assert step.cols.tolist() == [2 * step.index[1] + 2 * j for j in range(3)]
    np.testing.assert_array_equal(step.window, step.padded[np.ix_(step.rows, step.cols)])
    np.testing.assert_allclose(step.products, step.window * kernel)
    np.testing.assert_allclose(step.value, step.products.sum(), rtol=1e-12)
    np.testing.assert_allclose(step.output.flat[:8], full.flat[:8])
    assert np.isnan(step.output.flat[8:]).all() and not step.is_last
    assert step.value_range == (full.min(), full.max())
    # The padded input holds the image where padding_before says.
    top, left = step.padding_before
    np.testing.assert_array_equal(step.padded[top : top + 9, left : left + 11], IMAGE)
    assert step.expression == f"out[{step.index[0]}, {step.index[1]}] = sum of 9 products = {step.value:.4g}"


def test_negative_positions_count_from_the_end():
    last = convolution_step(IMAGE, "box_blur", position=-1)
    assert last.position == 7 * 9 - 1 and last.index == (6, 8)
    assert convolution_step(IMAGE, "box_blur", position=-63).position == 0


@pytest.mark.parametrize("n", [7, 8, 28])
@pytest.mark.parametrize("k", [1, 3, 4])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
def test_output_size_follows_the_formula_with_the_effective_kernel(n, k, stride, dilation):
    k_eff = dilation * (k - 1) + 1
    formulas = {"valid": (n - k_eff) // stride + 1, "same": -(-n // stride), "full": (n + k_eff - 2) // stride + 1}
    for padding, size in formulas.items():
        if padding == "valid" and k_eff > n:
            continue
        step = convolution_step(np.ones((n, 5)), np.ones((k, 1)), stride=stride, padding=padding, dilation=dilation)
        assert step.output_shape[0] == size == ops.output_size(n, k_eff, padding, stride)
        assert step.size_formulas[0].endswith(f"= {size}")
        assert ("k_eff" in step.size_formulas[0]) == (dilation > 1)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_output_size_equals_keras_with_dilation(padding, dilation):
    step = convolution_step(np.ones((12, 10)), np.ones((3, 2)), padding=padding, dilation=dilation)
    layer = L.Conv2D(1, (3, 2), padding=padding, dilation_rate=dilation)
    assert step.output_shape == tuple(layer.compute_output_shape((None, 12, 10, 1))[1:3])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(image=np.ones((4, 4, 1))), ValueError, r"`image` must be a non-empty 2-D array; received shape \(4, 4, 1\)"),
        (dict(image=np.ones((4, 0))), ValueError, r"`image` must be a non-empty 2-D array"),
        (dict(image=[["a"]]), TypeError, r"`image` must hold real numbers"),
        (dict(image=np.full((4, 4), np.nan)), ValueError, r"`image` must hold finite numbers"),
        (dict(kernel="blur"), ValueError, r"`kernel` must be one of 'identity', .*; received kernel='blur'"),
        (dict(kernel=np.ones(3)), ValueError, r"`kernel` must be a non-empty 2-D array"),
        (dict(padding="circular"), ValueError, r"`padding` must be one of 'valid', 'same', 'full'; received padding='circular'"),
        (dict(stride=0), ValueError, r"`stride` must be a positive int or a pair of positive ints; received stride=0"),
        (dict(dilation=True), ValueError, r"`dilation` must be a positive int or a pair"),
        (dict(position=36), ValueError, r"`position` must be an int in \[0, 36\) \(the output has 6x6 units\)"),
        (dict(position=-37), ValueError, r"`position` must be an int in \[0, 36\)"),
        (dict(position=1.0), ValueError, r"`position` must be an int"),
        (dict(dilation=4), ValueError, r"kernel must fit in `image` with padding='valid': .* covers 9x9 pixels"),
    ],
)
def test_convolution_step_rejects_bad_arguments(kwargs, error, message):
    arguments = dict(image=default_image(), kernel="sobel_x") | kwargs
    with pytest.raises(error, match=message):
        convolution_step(**arguments)


def test_classic_kernels_are_notebook_02s():
    sobel_y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]]) / 4
    np.testing.assert_array_equal(CLASSIC_KERNELS["sobel_x"], sobel_y.T)
    np.testing.assert_allclose(CLASSIC_KERNELS["sharpen"].sum(), 1.0)  # keeps flat images
    np.testing.assert_allclose(CLASSIC_KERNELS["box_blur"].sum(), 1.0)
    assert CLASSIC_KERNELS["laplacian"].sum() == 0
    # A name gives a copy: the shared table cannot be changed through a step.
    step = convolution_step(default_image(), "identity")
    step.kernel[1, 1] = 5
    assert CLASSIC_KERNELS["identity"][1, 1] == 1


def test_kernel_text_round_trip_and_errors():
    kernel = np.array([[1, 0, -1], [2, 0.5, -2]])
    np.testing.assert_array_equal(kernel_from_text(kernel_to_text(kernel)), kernel)
    assert kernel_from_text("1\n2\n").tolist() == [[1.0], [2.0]]
    for bad in ("1 2; 3", "", "1 x", " ; "):
        with pytest.raises(ValueError, match="`text` must hold"):
            kernel_from_text(bad)
    with pytest.raises(TypeError, match="`text` must be a string"):
        kernel_from_text([[1]])


def test_plot_convolution_step_titles_and_labels():
    step = convolution_step(default_image(), "sobel_x", position=3, padding="full")
    figure = plot_convolution_step(step)
    assert figure.get_suptitle().startswith(step.expression)
    assert [ax.get_title() for ax in figure.axes] == ["input 8x8, padding 'full'", "kernel 3x3", "output 10x10: out[0, 3]"]
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in figure.axes)
    assert len(figure.axes[0].patches) == 1 + 9  # the image's frame and the window's taps
    with pytest.raises(TypeError, match="`step` must be a ConvolutionStep"):
        plot_convolution_step("step")


# ---------------------------------------------------------------------------
# receptive_field_stack


def _keras_layer(spec):
    if isinstance(spec, tuple):
        return L.Conv2D(1, spec[0], strides=spec[1])
    if spec["kind"] == "pool":
        return L.MaxPooling2D(spec["kernel"], spec.get("stride"), padding=spec.get("padding", "valid"))
    return L.Conv2D(1, spec["kernel"], strides=spec.get("stride", 1), padding=spec.get("padding", "valid"),
                    dilation_rate=spec.get("dilation", 1))


STACKS = [
    [(5, 1), {"kind": "pool", "kernel": 2}, (5, 1), {"kind": "pool", "kernel": 2}],
    [{"kind": "conv", "kernel": 5, "padding": "same"}, {"kind": "pool", "kernel": 2},
     {"kind": "conv", "kernel": 5}, {"kind": "pool", "kernel": 2}],
    [{"kind": "conv", "kernel": 3, "stride": 2, "padding": "same"}, {"kind": "pool", "kernel": 3, "stride": 2,
     "padding": "same"}, {"kind": "conv", "kernel": 4, "stride": 3, "padding": "same"}],
    [{"kind": "conv", "kernel": 3, "dilation": 2}, {"kind": "conv", "kernel": 3, "dilation": 4, "padding": "same"},
     (2, 2)],
]


@pytest.mark.parametrize("input_size", [28, 31])
@pytest.mark.parametrize("stack", range(len(STACKS)))
def test_receptive_field_stack_equals_receptive_field_of_a_keras_model(stack, input_size):
    layers = STACKS[stack]
    model = keras.Sequential([keras.Input((input_size, input_size, 1))] + [_keras_layer(s) for s in layers])
    table = receptive_field(model)
    rows = receptive_field_stack(layers, input_size)
    assert len(rows) == len(table) == len(layers) + 1
    for row, (_, expected) in zip(rows, table.iterrows()):
        assert row.field == expected.field_rows and row.jump == expected.jump_rows
        assert row.start == expected.start_rows
        assert row.output_size == expected.output_shape[0]


def test_receptive_field_stack_by_hand():
    # LeNet-5 (notebook 06): 1 -> 5 -> 6 (jump 2) -> 14 -> 16 (jump 4).
    rows = receptive_field_stack([(5, 1), {"kind": "pool", "kernel": 2}, (5, 1), {"kind": "pool", "kernel": 2}], 28)
    assert [r.field for r in rows] == [1, 5, 6, 14, 16]
    assert [r.jump for r in rows] == [1, 1, 2, 2, 4]
    assert [r.output_size for r in rows] == [28, 24, 12, 8, 4]
    assert [r.layer for r in rows] == ["input", "conv1", "pool2", "conv3", "pool4"]
    assert all(isinstance(r, FieldRow) for r in rows)


def test_receptive_field_stack_without_an_input_size():
    rows = receptive_field_stack([{"kind": "conv", "kernel": 3, "padding": "same"},
                                  {"kind": "conv", "kernel": 3, "stride": 2, "padding": "same"}, (3, 1)])
    assert [r.output_size for r in rows] == [None] * 4
    assert [r.field for r in rows] == [1, 3, 5, 9]
    # "same" with stride 1 pads (k - 1) / 2 whatever the size; with stride 2 the padding depends on it.
    assert [r.start for r in rows] == [0.0, 0.0, None, None]


@pytest.mark.parametrize(
    "layers, input_size, message",
    [
        ("conv", None, r"`layers` must be a list of layers; received str"),
        ([(3, 0)], None, r"`layers\[0\]` must be a pair \(kernel, stride\) of positive ints"),
        ([(3, 1), {"kernel": 3, "size": 2}], None, r"`layers\[1\]` must be a pair .*; received layers\[1\]="),
        ([{"kind": "dense", "kernel": 3}], None, r"`layers\[0\]\['kind'\]` must be one of 'conv', 'pool'"),
        ([{"kind": "pool", "kernel": 2, "dilation": 2}], None, r"`layers\[0\]` is a pooling, which has no dilation"),
        ([{"kind": "conv", "kernel": 3, "padding": "full"}], None, r"`layers\[0\]\['padding'\]` must be one of 'valid', 'same'"),
        ([{"kind": "conv", "kernel": 3, "stride": 1.5}], None, r"`layers\[0\]\['stride'\]` must be a positive int"),
        ([(5, 1), (5, 1)], 8, r"`layers\[1\]` \(conv, window 5\) does not fit in its input of 4 pixels"),
        ([(3, 1)], 0, r"`input_size` must be None or a positive int"),
    ],
)
def test_receptive_field_stack_rejects_bad_layers(layers, input_size, message):
    with pytest.raises(ValueError, match=message):
        receptive_field_stack(layers, input_size)


def test_plot_receptive_field_stack():
    image = np.zeros((16, 20))
    rows, cols = (receptive_field_stack([(3, 1), (2, 2)], n) for n in image.shape)
    figure = plot_receptive_field_stack(image, rows, cols, unit=(0, 8))
    field = figure.axes[0].patches[0]
    # Unit (0, 8) of conv-then-pool: centred at 1.5 + 2 * (0, 8) pixels, 4 pixels wide.
    assert (field.get_x(), field.get_y(), field.get_width(), field.get_height()) == (17.5 - 2, 1.5 - 2, 4, 4)
    assert figure.axes[0].get_title() == "conv2 unit (0, 8): field 4x4, jump 2"
    assert all(ax.get_xlabel() and ax.get_ylabel() and ax.get_title() for ax in figure.axes)
    with pytest.raises(ValueError, match=r"`unit` must be \(row, col\) inside the last layer's 7x9 output"):
        plot_receptive_field_stack(image, rows, cols, unit=(7, 0))
    with pytest.raises(ValueError, match=r"`cols` must be the list of FieldRow"):
        plot_receptive_field_stack(image, rows)  # the rows' table does not fit 20 columns


# ---------------------------------------------------------------------------
# The widgets, driven through their controls


@needs_ipywidgets
def test_convolution_explorer_follows_its_controls():
    from course_lib.widgets import ConvolutionExplorer

    explorer = ConvolutionExplorer(kernel="box_blur")
    assert explorer.step.output_shape == (6, 6) and explorer.position.max == 35 and explorer.error is None
    label, picture = explorer.label.value, explorer.picture.value
    assert explorer.step.expression in label and bytes(picture).startswith(b"\x89PNG")

    explorer.position.value = 35
    assert explorer.step.is_last and explorer.step.expression in explorer.label.value
    np.testing.assert_allclose(explorer.step.output, ops.correlate2d(default_image(), CLASSIC_KERNELS["box_blur"]))

    explorer.stride.value = 2  # a smaller output: the position follows its range
    assert explorer.step.stride == (2, 2) and explorer.step.output_shape == (3, 3)
    assert explorer.position.max == explorer.play.max == 8 and explorer.position.value == 8
    assert "floor((8 - 3) / 2) + 1 = 3" in explorer.label.value
    assert bytes(explorer.picture.value) != bytes(picture)
    assert explorer.figure.get_suptitle().startswith(explorer.step.expression)

    explorer.padding.value = "full"
    explorer.dilation.value = 2
    assert explorer.step.effective_kernel_size == (5, 5) and explorer.step.output_shape == (6, 6)
    assert "k_eff = 2(3 - 1) + 1 = 5" in explorer.label.value

    explorer.kernel.value = "sobel_y"  # the typed values follow the choice
    assert explorer.kernel_values.value == kernel_to_text(CLASSIC_KERNELS["sobel_y"])
    np.testing.assert_array_equal(explorer.step.kernel, CLASSIC_KERNELS["sobel_y"])


@needs_ipywidgets
def test_convolution_explorer_typed_values_and_refused_settings():
    from course_lib.widgets import ConvolutionExplorer

    explorer = ConvolutionExplorer(image=np.arange(25.0).reshape(5, 5), kernel=[[1, 2], [3, 4]], position=2)
    assert explorer.kernel.value == "custom"
    assert explorer.step.expression == "out[0, 2] = sum of 4 products = 61"  # 2 + 2 * 3 + 3 * 7 + 4 * 8
    explorer.kernel_values.value = "1 -1"  # typing selects "custom" and recomputes
    assert explorer.kernel.value == "custom" and explorer.step.kernel.tolist() == [[1.0, -1.0]]
    assert explorer.step.expression == "out[0, 2] = sum of 2 products = -1"

    step = explorer.step
    explorer.kernel_values.value = "1 x"
    assert explorer.step is step and "`text` must hold numbers" in explorer.error and explorer.error in explorer.label.value
    explorer.kernel.value = "box_blur"
    explorer.dilation.value = 3  # 7x7 pixels do not fit in 5x5 without padding
    assert explorer.step.dilation == (1, 1) and "must fit in `image`" in explorer.error
    explorer.padding.value = "same"
    assert explorer.error is None and explorer.step.dilation == (3, 3) and explorer.step.output_shape == (5, 5)

    bundle = explorer._repr_mimebundle_()
    assert "needs a live Jupyter kernel" in bundle["text/plain"]
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    with pytest.raises(ValueError, match="`stride` and `dilation` must be single ints up to `max_stride`"):
        ConvolutionExplorer(stride=5)
    with pytest.raises(ValueError, match="`padding` must be one of"):
        ConvolutionExplorer(padding="reflect")


@needs_ipywidgets
def test_receptive_field_explorer_follows_its_controls():
    from course_lib.widgets import ReceptiveFieldExplorer

    explorer = ReceptiveFieldExplorer(image=np.zeros((28, 28)))  # LeNet-5's feature extractor
    # 28 -> 28 ("same") -> 14 -> 10 -> 5 units; the central one is (2, 2).
    assert [r.field for r in explorer.rows] == [1, 5, 6, 14, 16] and explorer.rows[-1].output_size == 5
    assert (explorer.unit_row.max, explorer.unit_row.value) == (4, 2)
    assert "<td>16x16</td>" in explorer.table.value and bytes(explorer.picture.value).startswith(b"\x89PNG")
    assert explorer.figure.axes[0].get_title() == "pool4 unit (2, 2): field 16x16, jump 4"

    explorer.unit_col.value = 0
    assert explorer.figure.axes[0].get_title() == "pool4 unit (2, 0): field 16x16, jump 4"
    explorer.strides[0].value = 2  # every jump after it doubles; 28 -> 14 -> 7 -> 3 -> 1 unit
    assert [r.jump for r in explorer.rows] == [1, 2, 4, 4, 8]
    assert [r.field for r in explorer.rows] == [1, 5, 7, 23, 27] and explorer.error is None
    assert explorer.rows == receptive_field_stack(explorer.layers(), 28)
    assert "<td>27x27</td>" in explorer.table.value and explorer.unit_row.max == explorer.unit_col.value == 0

    explorer.layer_count.value = 2
    assert len(explorer.rows) == 3 and explorer.slots[2].layout.display == "none"
    assert explorer.slots[1].layout.display is None
    explorer.kinds[1].value = "conv"
    assert explorer.rows[-1].layer == "conv2" and explorer.rows[-1].field == 5 + 1 * 2

    explorer.layer_count.value = 4
    explorer.kernels[3].value = 7  # a 7x7 valid window on a 3x3 input: refused, last result kept
    assert "`layers[3]` (pool, window 7) does not fit in its input of 3 pixels" in explorer.error and explorer.error in explorer.table.value
    assert len(explorer.rows) == 5 and explorer.rows[-1].kernel == 2
    assert "needs a live Jupyter kernel" in explorer._repr_mimebundle_()["text/plain"]
    with pytest.raises(ValueError, match=r"`layers` must hold 1 to max_layers=4 layers"):
        ReceptiveFieldExplorer(layers=[(3, 1)] * 5)
