"""Tests of course_lib.diagrams: every diagram draws, reads, describes itself, and its numbers are Keras's."""

import warnings

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import FancyArrowPatch
from matplotlib.text import Text

from course_lib import diagrams
from course_lib.layers import (
    BottleneckBlock,
    DenseBlock,
    InceptionModule,
    MLPConv,
    ResidualBlock,
    ResNeXtBlock,
)
from course_lib.models.googlenet import GOOGLENET_LAYOUT
from course_lib.ops import conv_to_dense

# Counting parameters means building layers, which is the same arithmetic on every
# backend; JAX compiles each initializer, seconds per layer on a 2-core machine.
builds_layers = pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="builds Keras layers to count their parameters (the same on every backend): "
    "checked on TensorFlow and PyTorch",
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def small_alexnet():
    """AlexNet's layers at 1/16 of the width: the same structure, quick to build."""
    from course_lib.models import alexnet

    return alexnet(width=1 / 16)


def _texts(fig):
    """Every visible, non-empty text of the figure (titles, labels, tick labels)."""
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _strings(fig):
    return [t.get_text() for t in _texts(fig)]


def _contains(fig, *needles):
    joined = "\n".join(_strings(fig))
    missing = [needle for needle in needles if needle not in joined]
    assert not missing, f"not drawn: {missing}"


def _trainable(layer):
    return sum(int(np.prod(w.shape)) for w in layer.trainable_weights)


def _built(layer, input_shape):
    layer.build(input_shape)
    return layer


def _assert_readable(fig):
    """No two texts overlap, and none is cut by the figure's edge."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    whole = fig.bbox
    boxes = []
    for text in _texts(fig):
        box = text.get_window_extent(renderer)
        inside = box.x0 >= whole.x0 - 1 and box.x1 <= whole.x1 + 1 and box.y0 >= whole.y0 - 1 and box.y1 <= whole.y1 + 1
        assert inside, f"{text.get_text()!r} is cut by the figure's edge"
        boxes.append((text.get_text(), box))
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            overlap_x = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            overlap_y = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            assert overlap_x <= 1 or overlap_y <= 1, f"{a!r} overlaps {b!r}"


def _all_diagrams():
    return [f for functions in diagrams.DIAGRAMS.values() for f in functions]


_READ_A_MODEL = (diagrams.alexnet_split, diagrams.parallelism)
# Build their small default model (LeNet-5) when given none.
_BUILD_A_MODEL = (diagrams.lenet5,)


@pytest.mark.parametrize(
    "function",
    [pytest.param(f, marks=builds_layers) if f in _READ_A_MODEL + _BUILD_A_MODEL else f for f in _all_diagrams()],
    ids=lambda f: f.__name__,
)
def test_every_diagram_draws_without_warnings_reads_and_has_alt_text(function, request):
    kwargs = {"model": request.getfixturevalue("small_alexnet")} if function in _READ_A_MODEL else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = function(**kwargs)
        _assert_readable(fig)
    assert fig.get_suptitle()
    alt = diagrams.alt_text(fig)
    assert len(alt) > 80
    assert diagrams.cell_metadata(fig) == {"mystnb": {"image": {"alt": alt}}}


def test_every_notebook_of_the_issue_has_a_diagram():
    assert sorted(diagrams.DIAGRAMS) == ["02", "04", "05", "06", "08", "10", "12", "14", "15", "16", "17", "18", "19",
                                         "20", "24"]
    assert {f.__name__ for f in _all_diagrams()} <= set(diagrams.__all__)


def test_alt_text_needs_a_diagram():
    with pytest.raises(ValueError, match="`fig` must be a figure drawn by course_lib.diagrams"):
        diagrams.alt_text(plt.figure())


@pytest.mark.parametrize("n, k, stride, padding", [(5, 3, 2, "same"), (6, 3, 2, "same"), (7, 3, 1, "valid"),
                                                    (7, 2, 2, "valid")])
def test_sliding_window_output_size_and_padding_are_keras_conv2d(n, k, stride, padding):
    fig = diagrams.sliding_window(n, k, stride, padding)
    out = keras.layers.Conv2D(1, k, strides=stride, padding=padding).compute_output_shape((None, n, n, 1))[1]
    _contains(fig, f"output {out}x{out}", f"input {n}x{n}", f"kernel {k}x{k}", f"stride {stride}")
    # TensorFlow's "same" rule: as many zeros as the ceil(n / s) windows need.
    pad = max((out - 1) * stride + k - n, 0) if padding == "same" else 0
    assert _strings(fig).count("0") == (n + pad) ** 2 - n**2
    assert f"{out}x{out}" in diagrams.alt_text(fig)


@builds_layers
@pytest.mark.parametrize("input_shape, activation, classes", [((28, 28, 1), "relu", 10), ((32, 32, 1), "tanh", 5)])
def test_lenet5_shapes_and_counts_are_those_of_the_builder(input_shape, activation, classes):
    from course_lib.models import lenet5

    model = lenet5(input_shape=input_shape, activation=activation, classes=classes)
    fig = diagrams.lenet5(model)
    alt = diagrams.alt_text(fig)
    names = ["C1", "S2", "C3", "S4", "C5", "F6", "output"]
    layers = [model.get_layer(name) for name in
              ("c1_conv", "s2_pool", "c3_conv", "s4_pool", "c5_dense", "f6_dense", "predictions")]
    for name, layer in zip(names, layers):
        shape = tuple(layer.output.shape[1:])
        shown = "x".join(map(str, shape)) if len(shape) == 3 else f"{shape[0]} units"
        count = f"{layer.count_params():,} parameters"
        _contains(fig, shown, count)
        assert f"{name}, " in alt and f"output {shown}, {count}" in alt
    conv1, conv3 = layers[0], layers[2]
    _contains(fig, f"C1 convolution\n{conv1.filters} filters 5x5\nstride 1, {conv1.padding!r}\n{activation}",
              f"C3 convolution\n{conv3.filters} filters 5x5", "S2 max pooling\n2x2, stride 2",
              f"on 400 = {'x'.join(map(str, layers[3].output.shape[1:]))}", f"{classes} units\nsoftmax",
              f"{model.count_params():,} parameters")
    assert f"{model.count_params():,} parameters in all" in alt
    # 28x28 digits: C1's "same" padding adds the paper's 2-pixel border; 32x32 images need none.
    padded = input_shape[0] < 32
    assert ("the paper's 32x32 input" in alt) == padded == (conv1.padding == "same")
    assert tuple(conv1.output.shape[1:3]) == (28, 28)


@builds_layers
def test_lenet5_needs_a_lenet5_with_its_classifier():
    from course_lib.models import lenet5

    with pytest.raises(ValueError, match="`model` must be a LeNet-5 with its classifier"):
        diagrams.lenet5(lenet5(include_top=False))
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        diagrams.lenet5("lenet5")


def test_im2col_shapes_and_non_zeros_are_those_of_the_conv_layer():
    n, k = 5, 2
    fig = diagrams.im2col(n, k)
    out = keras.layers.Conv2D(1, k).compute_output_shape((None, n, n, 1))[1]
    dense, _ = conv_to_dense(np.random.default_rng(0).normal(size=(k, k, 1, 1)), None, (n, n, 1))
    nonzero = int(np.count_nonzero(dense))
    assert nonzero == out * out * k * k
    _contains(fig, f"patches: {out * out} x {k * k}", f"kernel: {k * k} x 1", f"output {out}x{out}",
              f"W: {out * out} x {n * n}, {nonzero} of {dense.size} entries non-zero")
    # The first patch row lists the pixels under the first window, column by column.
    strings = _strings(fig)
    assert [f"x{j * n + i}" for j in range(k) for i in range(k)] == [s for s in strings if s.startswith("x")][
        n * n : n * n + k * k
    ]


@builds_layers
def test_receptive_field_growth_labels_are_course_lib_receptive_field():
    from course_lib.receptive_field import receptive_field

    layers = [(3, 1), (3, 1), {"kind": "pool", "kernel": 2}, (3, 1)]
    fig = diagrams.receptive_field_growth(layers, input_size=16)
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(1, 3), keras.layers.Conv2D(1, 3),
                              keras.layers.MaxPooling2D(2), keras.layers.Conv2D(1, 3)])
    table = receptive_field(model)
    fields = [int(v) for v in table["field_rows"].iloc[1:]]
    jumps = [int(v) for v in table["jump_rows"].iloc[1:]]
    assert fields == [3, 5, 6, 10]
    for field, jump in zip(fields, jumps):
        _contains(fig, f"field {field} = ", f"jump {jump}")
    _contains(fig, f"the field, {fields[-1]} pixels")


def test_receptive_field_growth_rejects_same_padding():
    with pytest.raises(ValueError, match="'valid' padding and no dilation"):
        diagrams.receptive_field_growth([{"kind": "conv", "kernel": 3, "padding": "same"}])
    with pytest.raises(ValueError, match="'valid' padding and no dilation"):
        diagrams.receptive_field_growth([{"kind": "conv", "kernel": 3, "dilation": 2}])


def test_batch_norm_modes_defaults_are_keras_batch_normalization():
    layer = keras.layers.BatchNormalization()
    fig = diagrams.batch_norm_modes()
    _contains(fig, f"moving = {layer.momentum:g}·moving", f"+ {1 - layer.momentum:.6g}·batch statistic",
              f"ε = {layer.epsilon:g}")
    _contains(diagrams.batch_norm_modes(momentum=0.9), "moving = 0.9·moving", "+ 0.1·batch statistic")


def test_mixup_pair_mixes_the_given_images_and_labels():
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(2))
    fig = diagrams.mixup_pair(a, b, label_a=1, label_b=4, lam=0.25, num_classes=5, class_names="abcde")
    mixed = fig.axes[3].images[0].get_array()
    np.testing.assert_allclose(mixed, 0.25 * a / 255 + 0.75 * b / 255)
    heights = [patch.get_height() for patch in fig.axes[6].patches]
    np.testing.assert_allclose(heights, [0, 0.25, 0, 0, 0.75])
    _contains(fig, "image A: class b", "image B: class e", "× 0.25", "× 0.75")
    with pytest.raises(ValueError, match="`label_b` must be an int in \\[0, 5\\)"):
        diagrams.mixup_pair(a, b, label_b=5, num_classes=5)
    with pytest.raises(ValueError, match="must be given together"):
        diagrams.mixup_pair(a)
    # Float images are shown on their joint range, the mix on the same scale.
    c, e = np.full((4, 4), -1.0), np.full((4, 4), 3.0)
    fig = diagrams.mixup_pair(c, e, lam=0.5)
    shown = [ax.images[0].get_array() for ax in fig.axes[1:4]]
    np.testing.assert_allclose([s.mean() for s in shown], [0.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="`image_b` must hold finite numbers"):
        diagrams.mixup_pair(c, np.full((4, 4), np.nan))


@builds_layers
def test_transfer_regimes_counts_are_those_of_set_trainable():
    from course_lib.pretrained import backbone_model
    from course_lib.transfer import build_transfer_model, set_trainable

    fig = diagrams.transfer_regimes()
    model = build_transfer_model(backbone_model(include_top=False), classes=5)
    head = _trainable(model)
    set_trainable(model, from_layer="stage3_block1")
    model_last = _trainable(model)
    set_trainable(model)
    whole = _trainable(model)
    assert head < model_last < whole
    for count in (head, model_last, whole):
        _contains(fig, f"trains {count:,} of {whole:,} parameters")


@builds_layers
def test_alexnet_split_reads_its_model(small_alexnet):
    fig = diagrams.alexnet_split(small_alexnet)
    convs = [layer for layer in small_alexnet.layers if isinstance(layer, keras.layers.Conv2D)]
    for conv in convs:
        _contains(fig, f"{conv.filters // 2} filters\n{conv.kernel_size[0]}x{conv.kernel_size[0]}, "
                       f"stride {conv.strides[0]}")
    # Into every ungrouped layer after conv1 and every dense layer, one crossing arrow per GPU.
    dense = [layer for layer in small_alexnet.layers if isinstance(layer, keras.layers.Dense)]
    crossings = 2 * (sum(conv.groups == 1 for conv in convs[1:]) + len(dense))
    accent = [p for p in fig.axes[0].patches
              if isinstance(p, FancyArrowPatch) and p.get_edgecolor()[:3] == plt.matplotlib.colors.to_rgb(
                  diagrams.PALETTE["accent"])]
    assert len(accent) == crossings == 2 * 4


@pytest.mark.full_size
def test_alexnet_split_of_the_paper_network():
    fig = diagrams.alexnet_split()
    for name, half in [("conv1", 48), ("conv2", 128), ("conv3", 192), ("conv4", 192), ("conv5", 128)]:
        _contains(fig, f"{name}\n{half} filters")
    _contains(fig, "55x55x48", "fc1\n2048\nunits", "predictions\n1000\nclasses")


@builds_layers
@pytest.mark.parametrize("channels", [64, 5])
def test_stack_vs_large_counts_are_keras_conv2d(channels):
    fig = diagrams.stack_vs_large(channels)
    small = 3 * _built(keras.layers.Conv2D(channels, 3, use_bias=False), (None, 16, 16, channels)).count_params()
    large = _built(keras.layers.Conv2D(channels, 7, use_bias=False), (None, 16, 16, channels)).count_params()
    assert (small, large) == (27 * channels**2, 49 * channels**2)
    _contains(fig, f"27C² = {small:,} (C = {channels})", f"49C² = {large:,} (C = {channels})", "field 7 x 7")


@builds_layers
def test_mlpconv_block_defaults_are_nin_block3_and_counts_are_keras():
    from course_lib.models import nin

    block3 = nin().get_layer("block3")
    assert (block3.filters, block3.kernel_size, block3.mlp_filters) == (192, 3, (192, 10))
    assert tuple(block3.input.shape[1:]) == (8, 8, 192)
    fig = diagrams.mlpconv_block()
    block = _built(MLPConv(192, 3, mlp_filters=(192, 10)), (None, 8, 8, 192))
    for conv in block.convs:
        _contains(fig, f"{conv.count_params():,} parameters")
    _contains(fig, "→ 8x8x10")


@builds_layers
def test_gap_vs_flatten_counts_are_keras():
    fig = diagrams.gap_vs_flatten((8, 8, 192), 10)
    inputs = keras.Input((8, 8, 192))
    flat = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(10)
    dense(flat)
    conv = _built(keras.layers.Conv2D(10, 1), (None, 8, 8, 192))
    gap = keras.layers.GlobalAveragePooling2D()
    gap(inputs)
    assert gap.count_params() == 0
    _contains(fig, f"→ {flat.shape[-1]:,} values", f"{dense.count_params():,} parameters",
              f"{conv.count_params():,} parameters", "0 parameters")


def test_inception_module_numbers_are_googlenet_3a():
    name, *filters = GOOGLENET_LAYOUT[0]
    fig = diagrams.inception_module()
    depth = InceptionModule(*filters).compute_output_shape((None, 28, 28, 192))[-1]
    f1, r3, f3, r5, f5, proj = filters
    _contains(fig, name, f"1x1 conv, {f1}", f"1x1 conv, {r3}", f"3x3 conv, {f3}", f"1x1 conv, {r5}",
              f"5x5 conv, {f5}", f"1x1 conv, {proj}", f"= {depth}", f"28x28x{depth}", "28x28x192")
    assert depth == 256
    naive = diagrams.inception_module((8, 0, 16, 0, 4, 0), input_shape=(14, 14, 32), name="naive")
    _contains(naive, f"= {8 + 16 + 4 + 32}", "14x14x32")
    assert not any("conv, 0" in s for s in _strings(naive))


@builds_layers
def test_residual_shortcuts_counts_and_shapes_are_keras():
    fig = diagrams.residual_shortcuts(64, (56, 56, 64))
    identity = _built(ResidualBlock(64), (None, 56, 56, 64))
    projection = _built(ResidualBlock(128, strides=2), (None, 56, 56, 64))
    assert not identity.shortcut and projection.shortcut
    _contains(fig, f"{_trainable(identity):,} trainable parameters",
              f"{_trainable(projection):,} trainable parameters", "28x28x128", "1x1 conv, 128\nstride 2, BN")


@builds_layers
def test_bottleneck_block_counts_are_keras():
    fig = diagrams.bottleneck_block(64, 4, (56, 56, 256))
    block = _built(BottleneckBlock(64), (None, 56, 56, 256))
    plain = _built(ResidualBlock(256, use_bias=True), (None, 56, 56, 256))
    _contains(fig, f"{_trainable(block):,} trainable parameters", f"{_trainable(plain):,}\ntrainable parameters",
              "256 → 64 → 64 → 256")


@builds_layers
def test_separable_conv_counts_are_keras():
    K, F = 32, 64
    fig = diagrams.separable_conv(K, F, 3, 112)
    shape = (None, 112, 112, K)
    depthwise = _built(keras.layers.DepthwiseConv2D(3, use_bias=False), shape).count_params()
    pointwise = _built(keras.layers.Conv2D(F, 1, use_bias=False), shape).count_params()
    standard = _built(keras.layers.Conv2D(F, 3, use_bias=False), shape).count_params()
    separable = _built(keras.layers.SeparableConv2D(F, 3, use_bias=False), shape).count_params()
    assert separable == depthwise + pointwise == K * 9 + K * F
    _contains(fig, f"= {depthwise:,} weights", f"= {pointwise:,} weights", f"together {separable:,}",
              f"= {standard:,} weights")


@builds_layers
def test_wide_block_counts_are_keras():
    fig = diagrams.wide_block(10, 16)
    thin = _built(ResidualBlock(16, preactivation=True), (None, 32, 32, 16))
    wide = _built(ResidualBlock(160, preactivation=True), (None, 32, 32, 160))
    _contains(fig, f"{_trainable(thin):,} trainable parameters", f"{_trainable(wide):,} trainable parameters")


@builds_layers
def test_resnext_block_weights_are_those_of_the_grouped_block():
    fig = diagrams.resnext_block(128, 32, (56, 56, 256))
    block = _built(ResNeXtBlock(128, cardinality=32), (None, 56, 56, 256))
    kernels = sum(int(np.prod(layer.kernel.shape)) for layer in block.residual if hasattr(layer, "kernel"))
    _contains(fig, f"= {kernels:,} weights", "32 groups of 4")
    assert "\n".join(_strings(fig)).count(f"{kernels:,} weights") == 2


def test_dense_block_depths_are_dense_block_output_shapes():
    fig = diagrams.dense_block(6, 32, 64)
    out = DenseBlock(6, 32).compute_output_shape((None, 56, 56, 64))[-1]
    _contains(fig, f"64 + 6·32 = {out} maps", *(f"{64 + 32 * i}" for i in range(6)))
    assert out == 256


@builds_layers
def test_parallelism_splits_batch_and_model(small_alexnet):
    fig = diagrams.parallelism(small_alexnet, devices=4, batch_size=64)
    _contains(fig, "images\n0-15", "images\n48-63", "sum the 4 gradients", "the whole batch of 64 images")
    per_device = sum(layer.count_params() for layer in small_alexnet.layers) // 2
    _contains(fig, f"each device: {per_device:,} of the {small_alexnet.count_params():,} parameters")
    with pytest.raises(ValueError, match="`batch_size` must be a multiple of `devices`"):
        diagrams.parallelism(small_alexnet, devices=3, batch_size=64)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="`kernel_size` must be a positive int"):
        diagrams.sliding_window(kernel_size=0)
    with pytest.raises(ValueError, match="`padding` must be one of"):
        diagrams.sliding_window(padding="reflect")
    with pytest.raises(ValueError, match="`filters` must hold 6 filter counts"):
        diagrams.inception_module((1, 2, 3))
    with pytest.raises(ValueError, match="`cardinality` must divide `filters`"):
        diagrams.resnext_block(128, cardinality=5)
    with pytest.raises(ValueError, match="`input_shape` must have `filters`"):
        diagrams.residual_shortcuts(64, (56, 56, 32))


def test_the_readability_check_finds_overlaps_and_clipped_labels():
    fig = diagrams.stack_vs_large()
    title = fig.get_suptitle()
    fig.axes[0].text(0.5, 0.98, title, transform=fig.transFigure, ha="center", va="top")
    with pytest.raises(AssertionError, match="overlaps"):
        _assert_readable(fig)
    fig = diagrams.stack_vs_large()
    fig.axes[0].text(1.0, 0.5, "a label past the right edge", transform=fig.transFigure)
    with pytest.raises(AssertionError, match="cut by the figure's edge"):
        _assert_readable(fig)
