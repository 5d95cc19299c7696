"""Tests of course_lib.receptive_field on the backend named by KERAS_BACKEND.

Expected values are published ones (VGG16) or worked out by hand in the
comments, never copied from the function's output; the empirical field, taken
by the backend's autodiff, checks the theory on random stacks of layers.
"""

import keras
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from course_lib.receptive_field import empirical_receptive_field, receptive_field

L = keras.layers


def _sequential(input_shape, layers):
    return keras.Sequential([keras.Input(input_shape)] + list(layers))


def _field(table, name):
    row = table.loc[name]
    return (int(row.field_rows), int(row.field_cols))


def _jump(table, name):
    row = table.loc[name]
    return (int(row.jump_rows), int(row.jump_cols))


def _start(table, name):
    row = table.loc[name]
    return (float(row.start_rows), float(row.start_cols))


# ---------------------------------------------------------------------------
# Published values and hand-checked stacks


def test_vgg16_matches_published_values():
    # Araujo et al. (2019), Table 1: VGG16's block5_pool sees 212 pixels.
    model = keras.applications.VGG16(weights=None)
    table = receptive_field(model)
    assert _field(table, "block5_conv3") == (196, 196)
    assert _field(table, "block5_pool") == (212, 212)
    assert _jump(table, "block5_conv3") == (16, 16)
    assert _jump(table, "block5_pool") == (32, 32)
    # Past Flatten every unit sees the whole 224x224 input; no grid any more.
    assert _field(table, "predictions") == (224, 224)
    assert table.loc["predictions", "jump_rows"] is pd.NA
    assert list(table.index[:2]) == [model.layers[0].name, "block1_conv1"]
    assert len(table) == len(model.layers)


def test_three_3x3_convolutions_see_7_pixels():
    # 1 -> 1 + 2 -> 3 + 2 -> 5 + 2 = 7; valid padding centres unit 0 on pixel 1, 2, 3.
    model = _sequential((16, 16, 2), [L.Conv2D(4, 3, name=f"c{i}") for i in range(3)])
    table = receptive_field(model)
    assert [_field(table, f"c{i}") for i in range(3)] == [(3, 3), (5, 5), (7, 7)]
    assert [_start(table, f"c{i}") for i in range(3)] == [(1, 1), (2, 2), (3, 3)]
    assert _jump(table, "c2") == (1, 1)
    assert tuple(table.loc["c0", "kernel"]) == (3, 3)
    assert table.loc["c2", "output_shape"] == (10, 10, 4)


def test_lenet5_stack():
    # conv5 'same' (r 5, j 1, start 0), pool2 (r 5 + 1 = 6, j 2, start 0.5),
    # conv5 valid (r 6 + 4*2 = 14, j 2, start 0.5 + 2*2 = 4.5),
    # pool2 (r 14 + 1*2 = 16, j 4, start 4.5 + 0.5*2 = 5.5).
    # By hand: unit 0 of p2 <- c2 units 0..1 <- p1 units 0..5 <- c1 units 0..11
    # <- input pixels -2..13 (c1 pads 2): 16 pixels centred on 5.5.
    model = _sequential(
        (28, 28, 1),
        [
            L.Conv2D(6, 5, padding="same", activation="tanh", name="c1"),
            L.AveragePooling2D(2, name="p1"),
            L.Conv2D(16, 5, activation="tanh", name="c2"),
            L.MaxPooling2D(2, name="p2"),
            L.Flatten(name="flat"),
            L.Dense(10, name="out"),
        ],
    )
    table = receptive_field(model)
    fields = [_field(table, n)[0] for n in ("c1", "p1", "c2", "p2")]
    jumps = [_jump(table, n)[0] for n in ("c1", "p1", "c2", "p2")]
    starts = [_start(table, n)[0] for n in ("c1", "p1", "c2", "p2")]
    assert fields == [5, 6, 14, 16]
    assert jumps == [1, 2, 2, 4]
    assert starts == [0.0, 0.5, 4.5, 5.5]
    assert _field(table, "out") == (28, 28)


def test_dilation_rectangular_kernels_and_strides():
    # Dilation 2 spreads a 3-tap kernel over 5 pixels: 1 + 4 = 5, then + 4 = 9.
    # A (3, 5) kernel with strides (1, 2): rows 9 + 2 = 11, cols 9 + 4 = 13,
    # jump (1, 2); then a 2x2 pool: rows 11 + 1 = 12, cols 13 + 2 = 15, jump (2, 4).
    model = _sequential(
        (40, 40, 1),
        [
            L.Conv2D(2, 3, dilation_rate=2, name="d1"),
            L.Conv2D(2, 3, dilation_rate=2, name="d2"),
            L.Conv2D(2, (3, 5), strides=(1, 2), name="rect"),
            L.MaxPooling2D(2, name="pool"),
        ],
    )
    table = receptive_field(model)
    assert _field(table, "d1") == (5, 5)
    assert _field(table, "d2") == (9, 9)
    assert _field(table, "rect") == (11, 13) and _jump(table, "rect") == (1, 2)
    assert _field(table, "pool") == (12, 15) and _jump(table, "pool") == (2, 4)


def test_separable_depthwise_padding_and_pointwise_layers():
    # Depthwise 3x3 stride 2 'same' on 9 pixels: Keras pads 2 zeros in all
    # ((5 - 1) * 2 + 3 - 9 = 2), one before: start 0 + (1 - 1) = 0.
    # On 10 pixels it pads 1 zero in all ((5 - 1) * 2 + 3 - 10 = 1), after: start 1.
    # ZeroPadding2D top 2 moves the start by -2 jumps; Cropping2D left 1 by +1 jump.
    for size, start_rows in ((9, 0.0), (10, 1.0)):
        model = _sequential(
            (size, size, 3),
            [
                L.DepthwiseConv2D(3, strides=2, padding="same", name="dw"),
                L.BatchNormalization(name="bn"),
                L.Normalization(mean=0.5, variance=4.0, name="norm"),
                L.ReLU(name="relu"),
                L.ZeroPadding2D(((2, 0), (0, 0)), name="pad"),
                L.Cropping2D(((0, 0), (1, 0)), name="crop"),
                L.SeparableConv2D(4, 3, name="sep"),
                L.Dense(5, name="per_position"),
                L.GlobalAveragePooling2D(name="gap"),
            ],
        )
        table = receptive_field(model)
        assert _field(table, "dw") == (3, 3) and _jump(table, "dw") == (2, 2)
        assert _start(table, "dw") == (start_rows, start_rows)
        assert _field(table, "relu") == _field(table, "norm") == _field(table, "bn") == (3, 3)
        assert _start(table, "pad") == (start_rows - 4, start_rows)
        assert _start(table, "crop") == (start_rows - 4, start_rows + 2)
        # 3 + 2 * 2 = 7 pixels, as a 3x3 Conv2D would.
        assert _field(table, "sep") == _field(table, "per_position") == (7, 7)
        assert _start(table, "sep") == (start_rows - 2, start_rows + 4)
        assert _field(table, "gap") == (size, size)


def _inception_like(input_shape=(24, 24, 1)):
    inputs = keras.Input(input_shape)
    stem = L.Conv2D(4, 3, name="stem")(inputs)  # 3 pixels
    b1 = L.Conv2D(2, 1, padding="same", name="b1x1")(stem)  # 3
    b5 = L.Conv2D(2, 5, padding="same", name="b5x5")(stem)  # 3 + 4 = 7
    bp = L.MaxPooling2D(3, strides=1, padding="same", name="bpool")(stem)  # 5
    merged = L.Concatenate(name="concat")([b1, b5, bp])
    summed = L.Add(name="add")([b1, L.Conv2D(2, 3, padding="same", name="b3x3")(b1)])
    return keras.Model(inputs, [merged, summed])


def test_branching_model_reports_largest_field_over_paths():
    table = receptive_field(_inception_like())
    assert _field(table, "b1x1") == (3, 3)
    assert _field(table, "b5x5") == (7, 7)
    assert _field(table, "bpool") == (5, 5)
    assert _field(table, "concat") == (7, 7)
    assert _field(table, "add") == (5, 5)
    assert _start(table, "concat") == (1.0, 1.0)


def _offset_branches():
    # Branch "up" sees rows i-2..i, branch "down" rows i..i+2 (3 each): the
    # merged unit sees rows i-2..i+2, 5 rows, more than either path.
    inputs = keras.Input((12, 12, 1))
    up = L.Conv2D(1, (3, 1), name="up")(L.ZeroPadding2D(((2, 0), (0, 0)))(inputs))
    down = L.Conv2D(1, (3, 1), name="down")(L.ZeroPadding2D(((0, 2), (0, 0)))(inputs))
    return keras.Model(inputs, L.Add(name="add")([up, down]))


def test_merge_of_offset_paths_covers_their_union():
    table = receptive_field(_offset_branches())
    assert _field(table, "up") == _field(table, "down") == (3, 1)
    assert _start(table, "up") == (-1.0, 0.0) and _start(table, "down") == (1.0, 0.0)
    assert _field(table, "add") == (5, 1) and _start(table, "add") == (0.0, 0.0)


def test_nested_sequential_is_walked():
    block = keras.Sequential(
        [keras.Input((20, 20, 1)), L.Conv2D(2, 3, name="a"), L.Conv2D(2, 3, name="b")], name="block"
    )
    inputs = keras.Input((20, 20, 1))
    outputs = L.MaxPooling2D(2, name="pool")(block(inputs))
    table = receptive_field(keras.Model(inputs, outputs))
    assert _field(table, "block/a") == (3, 3)
    assert _field(table, "block/b") == _field(table, "block") == (5, 5)
    assert _field(table, "pool") == (6, 6) and _jump(table, "pool") == (2, 2)


def test_nested_model_with_two_outputs_keeps_each_field():
    inner_input = keras.Input((20, 20, 1))
    small = L.Conv2D(2, 3, padding="same", name="small")(inner_input)  # 3 pixels
    large = L.Conv2D(2, 5, padding="same", name="large")(inner_input)  # 5 pixels
    two_heads = keras.Model(inner_input, [small, large], name="two_heads")
    inputs = keras.Input((20, 20, 1))
    small_out, large_out = two_heads(inputs)
    after_small = L.Conv2D(2, 3, padding="same", name="after_small")(small_out)  # 3 + 2
    after_large = L.Conv2D(2, 3, padding="same", name="after_large")(large_out)  # 5 + 2
    table = receptive_field(keras.Model(inputs, [after_small, after_large]))
    assert _field(table, "after_small") == (5, 5)
    assert _field(table, "after_large") == (7, 7)


def test_shared_layer_gets_one_row_per_call():
    inputs = keras.Input((10, 10, 1))
    conv = L.Conv2D(1, 3, padding="same", name="shared")
    outputs = conv(conv(inputs))
    table = receptive_field(keras.Model(inputs, outputs))
    assert _field(table, "shared") == (3, 3)
    assert _field(table, "shared[1]") == (5, 5)


def test_unknown_input_size():
    model = _sequential(
        (None, None, 3),
        [L.Conv2D(2, 3, padding="same", name="s1"), L.Conv2D(2, 3, strides=2, padding="same", name="s2"), L.Flatten(name="flat")],
    )
    table = receptive_field(model)
    assert _field(table, "s2") == (5, 5) and _start(table, "s1") == (0.0, 0.0)
    # Stride 2 'same': the zeros before the input depend on its unknown size.
    assert table.loc["s2", "start_rows"] is pd.NA
    assert table.loc["flat", "field_rows"] is pd.NA


# ---------------------------------------------------------------------------
# Theory against measurement (autodiff on this backend)

POSITIVE = keras.initializers.RandomUniform(0.5, 1.5, seed=0)

layer_specs = st.lists(
    st.tuples(
        st.sampled_from(["conv", "depthwise", "separable", "avgpool", "pad"]),
        st.integers(1, 3),  # kernel rows
        st.integers(1, 3),  # kernel cols
        st.integers(1, 2),  # stride
        st.integers(1, 2),  # dilation (convolutions with stride 1)
        st.sampled_from(["valid", "same"]),
    ),
    min_size=1,
    max_size=4,
)


def _positive_linear_layer(kind, kh, kw, stride, dilation, padding, index):
    name = f"l{index}"
    if kind == "conv":
        strides, rate = (1, dilation) if dilation > 1 else (stride, 1)
        return L.Conv2D(
            2, (kh, kw), strides=strides, dilation_rate=rate, padding=padding,
            kernel_initializer=POSITIVE, name=name,
        )
    if kind == "depthwise":
        return L.DepthwiseConv2D(
            (kh, kw), strides=stride, padding=padding, depthwise_initializer=POSITIVE, name=name
        )
    if kind == "separable":
        return L.SeparableConv2D(
            2, (kh, kw), strides=stride, padding=padding, depthwise_initializer=POSITIVE,
            pointwise_initializer=POSITIVE, name=name,
        )
    if kind == "avgpool":
        return L.AveragePooling2D((kh, kw), strides=stride, padding=padding, name=name)
    return L.ZeroPadding2D(((kh - 1, 0), (0, kw - 1)), name=name)


@settings(max_examples=12, deadline=None)
@given(specs=layer_specs, size=st.integers(30, 33))
def test_empirical_field_equals_theory_on_positive_linear_stacks(specs, size):
    # Positive weights and no activation: every path from a pixel of the field
    # to the unit adds a positive term, so the gradient is non-zero on exactly
    # the theoretical field (when it lies inside the image).
    layers = [_positive_linear_layer(*spec, index=i) for i, spec in enumerate(specs)]
    model = _sequential((size, size, 2), layers)
    last = layers[-1].name
    output_rows, output_cols = model.output_shape[1:3]
    assume(output_rows >= 1 and output_cols >= 1)
    table = receptive_field(model)
    field, jump, start = _field(table, last), _jump(table, last), _start(table, last)
    unit = ((output_rows - 1) // 2, (output_cols - 1) // 2)
    centre = [s + u * j for s, u, j in zip(start, unit, jump)]
    low = [c - (f - 1) / 2 for c, f in zip(centre, field)]
    high = [c + (f - 1) / 2 for c, f in zip(centre, field)]
    assume(min(low) >= 0 and high[0] <= size - 1 and high[1] <= size - 1)

    measured = empirical_receptive_field(model, last)
    assert measured.unit == unit
    assert measured.size == field
    top, left, bottom, right = measured.bounds
    assert (top, left, bottom, right) == (low[0], low[1], high[0], high[1])
    assert measured.gradient.shape == (size, size)


def test_empirical_field_of_branches_and_of_a_vgg_block():
    merged = _offset_branches()
    for layer in merged.layers:
        if layer.weights:
            layer.set_weights([np.ones(w.shape, "float32") for w in layer.weights])
    assert empirical_receptive_field(merged, "add").size == (5, 1)

    vgg_block = _sequential(
        (32, 32, 1),
        [L.Conv2D(2, 3, padding="same", kernel_initializer=POSITIVE, name=f"c{i}") for i in range(2)]
        + [L.AveragePooling2D(2, name="pool")],
    )
    # 3 + 2 = 5, then + 1 = 6 pixels: the first block of VGG16.
    assert empirical_receptive_field(vgg_block, "pool").size == (6, 6)
    assert empirical_receptive_field(vgg_block, "c1", channel=1).size == (5, 5)


def test_max_pooling_and_relu_can_shrink_the_effective_field():
    model = _sequential(
        (16, 16, 1),
        [L.Conv2D(1, 3, kernel_initializer=POSITIVE, name="conv"), L.MaxPooling2D(2, name="pool")],
    )
    # The gradient flows to the arg-max of the pooling window only: one 3x3 patch.
    assert empirical_receptive_field(model, "pool").size == (3, 3)
    assert _field(receptive_field(model), "pool") == (4, 4)
    # An input that turns the ReLU off gives a zero gradient.
    relu = _sequential((8, 8, 1), [L.Conv2D(1, 3, activation="relu", kernel_initializer=POSITIVE, name="c")])
    dead = empirical_receptive_field(relu, "c", inputs=-np.ones((8, 8, 1)))
    assert dead.size == (0, 0) and dead.bounds is None and not dead.gradient.any()


def test_empirical_field_with_explicit_unit_and_input_shape():
    model = _sequential((None, None, 1), [L.Conv2D(1, 3, kernel_initializer=POSITIVE, name="c")])
    measured = empirical_receptive_field(model, "c", input_shape=(10, 12, 1), unit=(0, 0))
    assert measured.size == (3, 3) and measured.bounds == (0, 0, 2, 2)


# ---------------------------------------------------------------------------
# Bad input


def test_receptive_field_rejects_bad_models():
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        receptive_field("vgg16")
    with pytest.raises(ValueError, match="not built"):
        receptive_field(keras.Sequential([L.Conv2D(2, 3)]))
    with pytest.raises(ValueError, match=r"must take images of shape \(batch, rows, cols, channels\)"):
        receptive_field(_sequential((8,), [L.Dense(2)]))
    two_inputs = [keras.Input((8, 8, 1)), keras.Input((8, 8, 1))]
    with pytest.raises(ValueError, match="has 2 inputs"):
        receptive_field(keras.Model(two_inputs, L.Add()(two_inputs)))


@pytest.mark.parametrize(
    "layer, kind",
    [
        (L.UpSampling2D(name="up"), "UpSampling2D"),
        (L.Conv2DTranspose(2, 3, name="up"), "Conv2DTranspose"),
        (L.Reshape((64, 4), name="up"), "Reshape"),
        (L.Lambda(lambda t: t[:, ::2], name="up"), "Lambda"),
    ],
)
def test_unsupported_layers_are_named(layer, kind):
    model = _sequential((8, 8, 4), [L.Conv2D(4, 1), layer])
    with pytest.raises(ValueError, match=f"Layer 'up' of type {kind} is not supported"):
        receptive_field(model)


def test_layers_that_mix_positions_or_grids_are_rejected():
    with pytest.raises(ValueError, match="'sm'.*axis=1"):
        receptive_field(_sequential((8, 8, 2), [L.Softmax(axis=1, name="sm")]))
    with pytest.raises(ValueError, match="channels_last"):
        receptive_field(_sequential((8, 8, 2), [L.MaxPooling2D(data_format="channels_first")]))
    # Paths with jumps 2 and 4 reach the same 4x4 grid but not the same pixels.
    inputs = keras.Input((16, 16, 1))
    a = L.Cropping2D(2)(L.MaxPooling2D(2)(inputs))
    b = L.MaxPooling2D(4)(inputs)
    with pytest.raises(ValueError, match=r"'mix' \(Add\) merges paths whose jumps"):
        receptive_field(keras.Model(inputs, L.Add(name="mix")([a, b])))


def test_empirical_field_rejects_bad_arguments():
    model = _sequential(
        (8, 8, 1), [L.Conv2D(2, 3, name="c"), L.Flatten(name="flat"), L.Dense(2, name="d")]
    )
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        empirical_receptive_field(None, "c")
    with pytest.raises(ValueError, match="`layer_name` must name a layer.*received layer_name='nope'"):
        empirical_receptive_field(model, "nope")
    with pytest.raises(ValueError, match="Layer 'flat' must output"):
        empirical_receptive_field(model, "flat")
    with pytest.raises(ValueError, match="`channel` must be None or in"):
        empirical_receptive_field(model, "c", channel=2)
    with pytest.raises(ValueError, match="`channel` must be None or in"):
        empirical_receptive_field(model, "c", channel=0.5)
    with pytest.raises(ValueError, match="`unit` must be"):
        empirical_receptive_field(model, "c", unit=(6, 0))
    with pytest.raises(ValueError, match="`inputs` has shape"):
        empirical_receptive_field(model, "c", inputs=np.zeros((8, 8, 1)), input_shape=(9, 9, 1))
    open_model = _sequential((None, None, 1), [L.Conv2D(2, 3, name="c")])
    with pytest.raises(ValueError, match="`input_shape` must be"):
        empirical_receptive_field(open_model, "c")
