"""Checks of assignment A2, building blocks (`notebooks/assignments`).

The layer checks run the student's Keras layer where the student's code lives
(`course_lib.grading.in_submission` with `layer_answers`) and compare its
outputs, on random weights, with a NumPy reference computed from those
weights, so they work alike in the student's notebook and in the judge.

Example:

>>> check_parameter_counts(lambda k, c_in, c_out, bias=True: k * k * c_in * c_out + (c_out if bias else 0),
...                        lambda channels: 4 * channels, lambda c_in, c_mid: None, seed=0, rounds=1,
...                        kernel_sizes=(3,), channel_max=8, bias_order=(True,), bn_channel_max=8,
...                        identities=(), mid_max=4, in_max=8)
"""

import numpy as np

from course_lib.grading import (
    Answers,
    assert_equal,
    assert_same_array,
    call,
    in_submission,
    layer_answers,
    random_weights,
)

__all__ = [
    "FORBIDDEN_IMPORTS",
    "JUDGE_IMPORTS",
    "check_parameter_counts",
    "check_residual_block",
    "check_depthwise_separable_conv",
    "check_inception_module",
    "check_receptive_field",
]

# The honour code: what A2's rules forbid in an answer (the course's own layers and fields).
# `make grade` lists, per submission, the ones its code uses; the score is not changed.
FORBIDDEN_IMPORTS = ("course_lib.layers", "course_lib.models", "course_lib.receptive_field", "course_lib.analysis",
                     "keras.applications")

# What these checks import inside their functions: the judge imports them before any submission runs.
JUDGE_IMPORTS = ("keras", "keras.applications", "course_lib.receptive_field", "course_lib.grading.sandbox")


def _keras_bottleneck_params(c_in, c_mid):
    import keras

    inputs = keras.Input((8, 8, c_in))
    x = inputs
    for filters, size in ((c_mid, 1), (c_mid, 3), (4 * c_mid, 1)):
        x = keras.layers.Conv2D(filters, size, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    shortcut = inputs
    if c_in != 4 * c_mid:
        shortcut = keras.layers.Conv2D(4 * c_mid, 1, use_bias=False)(inputs)
        shortcut = keras.layers.BatchNormalization()(shortcut)
    return keras.Model(inputs, keras.layers.Add()([x, shortcut])).count_params()


def check_parameter_counts(conv_params, batch_norm_params, bottleneck_block_params, seed, rounds, kernel_sizes,
                           channel_max, bias_order, bn_channel_max, identities, mid_max, in_max):
    """q1: the three counting functions against Keras layers of random sizes."""
    import keras

    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        k, c_in, c_out = int(rng.choice(kernel_sizes)), int(rng.integers(1, channel_max + 1)), int(rng.integers(1, channel_max + 1))
        for bias in bias_order:
            layer = keras.layers.Conv2D(c_out, k, use_bias=bias)
            layer.build((None, None, None, c_in))
            name = f"conv_params({k}, {c_in}, {c_out}, bias={bias})"
            assert_equal(call(conv_params, k, c_in, c_out, bias=bias, name=name), layer.count_params(), name)
        channels = int(rng.integers(1, bn_channel_max + 1))
        layer = keras.layers.BatchNormalization()
        layer.build((None, 4, 4, channels))
        name = f"batch_norm_params({channels})"
        assert_equal(call(batch_norm_params, channels, name=name), layer.count_params(), name)
    for identity in identities:
        c_mid = int(rng.integers(1, mid_max + 1))
        c_in = 4 * c_mid if identity else int(rng.integers(1, in_max + 1))
        name = f"bottleneck_block_params({c_in}, {c_mid})"
        assert_equal(call(bottleneck_block_params, c_in, c_mid, name=name), _keras_bottleneck_params(c_in, c_mid), name)


def _weight(weights, name, shape, what):
    if (name, shape) not in weights:
        raise AssertionError(f"the {what} has no weight `{name}` of shape {shape}; see the layers it needs.")
    return weights[name, shape]


def _conv(x, kernel, strides, padding):
    import keras

    return keras.ops.convert_to_numpy(keras.ops.conv(x.astype("float32"), kernel.astype("float32"), strides, padding))


def _batch_norm(x, weights, what):
    shape = (x.shape[-1],)
    mean, variance = _weight(weights, "moving_mean", shape, what), _weight(weights, "moving_variance", shape, what)
    return (x - mean) / np.sqrt(variance + 1e-3) * _weight(weights, "gamma", shape, what) + _weight(weights, "beta", shape, what)


def _residual_reference(x, filters, strides, weights):
    def conv(x, size, strides):
        return _conv(x, _weight(weights, "kernel", (size, size, x.shape[-1], filters), "block"), strides, "same")

    y = _batch_norm(conv(np.maximum(_batch_norm(conv(x, 3, strides), weights, "block"), 0), 3, 1), weights, "block")
    identity = strides == 1 and x.shape[-1] == filters
    return np.maximum(y + (x if identity else _batch_norm(conv(x, 1, strides), weights, "block")), 0)


def _depthwise_reference(x, filters, strides, weights):
    import keras

    c_in = x.shape[-1]
    depthwise = _weight(weights, "kernel", (3, 3, c_in, 1), "block").astype("float32")
    y = keras.ops.convert_to_numpy(keras.ops.depthwise_conv(x, depthwise, strides, "same"))
    y = np.maximum(_batch_norm(y, weights, "block"), 0)
    y = _conv(y, _weight(weights, "kernel", (1, 1, c_in, filters), "block"), 1, "valid")
    return np.maximum(_batch_norm(y, weights, "block"), 0)


def _batch_norm_keys(channels):
    return [(name, (channels,)) for name in ("gamma", "beta", "moving_mean", "moving_variance")]


def _residual_keys(c_in, filters, strides):
    keys = [("kernel", (3, 3, c_in, filters)), ("kernel", (3, 3, filters, filters)), *_batch_norm_keys(filters)]
    if strides != 1 or c_in != filters:
        keys.append(("kernel", (1, 1, c_in, filters)))
    return keys


def _depthwise_keys(c_in, filters, strides):
    return [("kernel", (3, 3, c_in, 1)), *_batch_norm_keys(c_in), ("kernel", (1, 1, c_in, filters)),
            *_batch_norm_keys(filters)]


def _check_block(layer_class, class_name, reference, parameters, keys, seed, configs, batch, size_range, scale=1.0):
    rng = np.random.default_rng(seed)
    for c_in, filters, strides in configs:
        h, w = (int(n) for n in rng.integers(*size_range, size=2))
        x = rng.normal(scale=scale, size=(batch, h, w, c_in)).astype("float32")
        name = f"{class_name}({filters}, strides={strides})"
        on_x = f"{name}(x) for x of shape {x.shape}"
        # The judge draws the weights; the probe only assigns them, by name and shape.
        values = random_weights(keys(c_in, filters, strides), np.random.default_rng(int(rng.integers(2**31))))
        answers = Answers(in_submission(layer_answers, layer_class, (filters,), {"strides": strides}, x, values,
                                        name, training=False))
        if not answers["is_layer"]:
            raise AssertionError(f"{name} should make a keras.layers.Layer, got a {answers['type_name']}.")
        assert_equal(np.shape(answers["output"]), (batch, -(-h // strides), -(-w // strides), filters), f"the shape of {on_x}")
        assert_equal(answers["count_params"], parameters(c_in, filters, strides), f"{name}.count_params() on {c_in} channels")
        expected = reference(x, filters, strides, values)
        assert_same_array(answers["random_output"], expected, f"{on_x} with random weights", 1e-4, 1e-4)
        assert_same_array(answers["model_output"], expected, f"a keras.Model around {on_x}", 1e-4, 1e-4)
        if not answers["config_is_dict"]:
            raise AssertionError(f"{name}.get_config() should return a dict.")
        assert_same_array(answers["clone_output"], expected, f"a {class_name}.from_config({name}.get_config()) clone", 1e-4, 1e-4)


def check_residual_block(ResidualBlock, seed, configs, batch, size_range):
    """q2: `ResidualBlock(filters, strides)` for each `(c_in, filters, strides)` of `configs`."""

    def parameters(c_in, filters, strides):
        count = 9 * c_in * filters + 9 * filters * filters + 8 * filters
        return count + (c_in * filters + 4 * filters if strides != 1 or c_in != filters else 0)

    _check_block(ResidualBlock, "ResidualBlock", _residual_reference, parameters, _residual_keys, seed, configs, batch,
                 size_range)


def check_depthwise_separable_conv(DepthwiseSeparableConv, seed, configs, batch, size_range):
    """q4: `DepthwiseSeparableConv(filters, strides)` for each `(c_in, filters, strides)`; inputs large enough that ReLU6 would clip."""

    def parameters(c_in, filters, strides):
        return 9 * c_in + 4 * c_in + c_in * filters + 4 * filters

    _check_block(DepthwiseSeparableConv, "DepthwiseSeparableConv", _depthwise_reference, parameters, _depthwise_keys,
                 seed, configs, batch, size_range, scale=5.0)


def _inception_branches(x, sizes, weights):
    import keras

    f1, f3_reduce, f3, f5_reduce, f5, pool_proj = sizes

    def conv(x, size, filters):
        shape = (size, size, x.shape[-1], filters)
        if ("kernel", shape) not in weights or ("bias", (filters,)) not in weights:
            raise AssertionError(f"the module has no convolution with a kernel of shape {shape} and a bias.")
        return np.maximum(_conv(x, weights["kernel", shape], 1, "same") + weights["bias", (filters,)], 0)

    pooled = keras.ops.convert_to_numpy(keras.ops.max_pool(x, 3, 1, "same"))
    return [
        ("1x1", conv(x, 1, f1)),
        ("3x3", conv(conv(x, 1, f3_reduce), 3, f3)),
        ("5x5", conv(conv(x, 1, f5_reduce), 5, f5)),
        ("pool", conv(pooled, 1, pool_proj)),
    ]


def check_inception_module(InceptionModule, seed, modules, batch, size_range):
    """q3: `InceptionModule(*sizes)` for each `(sizes, c_in)` of `modules`, branch by branch.

    The sizes of the four 1x1 convolutions (f1, f3_reduce, f5_reduce,
    pool_proj) must differ, so that each branch has its own random weights.
    """
    rng = np.random.default_rng(seed)
    for sizes, c_in in modules:
        f1, f3_reduce, f3, f5_reduce, f5, pool_proj = sizes
        if len({f1, f3_reduce, f5_reduce, pool_proj}) != 4:
            raise ValueError(f"the 1x1 sizes of {sizes} must differ")
        h, w = int(rng.integers(*size_range)), int(rng.integers(*size_range))
        x = rng.normal(size=(batch, h, w, c_in)).astype("float32")
        name = f"InceptionModule{tuple(sizes)}"
        on_x = f"{name}(x) for x of shape {x.shape}"
        keys = [("kernel", (1, 1, c_in, f1)), ("bias", (f1,)), ("kernel", (1, 1, c_in, f3_reduce)), ("bias", (f3_reduce,)),
                ("kernel", (3, 3, f3_reduce, f3)), ("bias", (f3,)), ("kernel", (1, 1, c_in, f5_reduce)),
                ("bias", (f5_reduce,)), ("kernel", (5, 5, f5_reduce, f5)), ("bias", (f5,)),
                ("kernel", (1, 1, c_in, pool_proj)), ("bias", (pool_proj,))]
        values = random_weights(keys, np.random.default_rng(int(rng.integers(2**31))))  # drawn here, only assigned there
        answers = Answers(in_submission(layer_answers, InceptionModule, tuple(sizes), {}, x, values, name))
        if not answers["is_layer"]:
            raise AssertionError(f"{name} should make a keras.layers.Layer, got a {answers['type_name']}.")
        assert_equal(np.shape(answers["output"]), (batch, h, w, f1 + f3 + f5 + pool_proj), f"the shape of {on_x}")
        parameters = c_in * (f1 + f3_reduce + f5_reduce + pool_proj) + 9 * f3_reduce * f3 + 25 * f5_reduce * f5
        parameters += f1 + f3_reduce + f3 + f5_reduce + f5 + pool_proj
        assert_equal(answers["count_params"], parameters, f"{name}.count_params() on {c_in} channels")
        branches = _inception_branches(x, sizes, values)
        expected = np.concatenate([y for _, y in branches], axis=-1)
        out = np.asarray(answers["random_output"])
        assert_equal(out.shape, expected.shape, f"the shape of {on_x}")
        start = 0
        for branch, y in branches:
            stop = start + y.shape[-1]
            where = f"channels {start}:{stop} (the {branch} branch) of {on_x} with random weights"
            assert_same_array(out[..., start:stop], y, where, 1e-4, 1e-4)
            start = stop
        assert_same_array(answers["model_output"], expected, f"a keras.Model around {on_x}", 1e-4, 1e-4)
        if not answers["config_is_dict"]:
            raise AssertionError(f"{name}.get_config() should return a dict.")
        assert_same_array(answers["clone_output"], expected, f"an InceptionModule.from_config({name}.get_config()) clone", 1e-4, 1e-4)


def check_receptive_field(receptive_field, vgg16_conv5_3_field, seed, lengths, kernel_sizes, strides, input_size,
                          check_vgg16_value):
    """q5: `receptive_field(pairs)` on random stacks, measured by `course_lib.receptive_field`; VGG16's conv5_3.

    Public: `vgg16_conv5_3_field` must be an int; hidden: it must be the field
    of VGG16's `block5_conv3` (`check_vgg16_value=True`).
    """
    import keras

    from course_lib.receptive_field import receptive_field as field_table

    rng = np.random.default_rng(seed)
    for length in lengths:
        layers, pairs = [keras.Input((input_size, input_size, 1))], []
        for _ in range(length):
            k, s = int(rng.choice(kernel_sizes)), int(rng.choice(strides))
            if rng.random() < 0.3:
                layers.append(keras.layers.MaxPooling2D(k, s, padding="same"))
            else:
                layers.append(keras.layers.Conv2D(1, k, strides=s, padding="same"))
            pairs.append((k, s))
        expected = int(field_table(keras.Sequential(layers))["field_rows"].iloc[-1])
        name = f"receptive_field({pairs})"
        assert_equal(call(receptive_field, list(pairs), name=name), expected, name)
    assert_equal(call(receptive_field, [], name="receptive_field([])"), 1, "receptive_field([])")
    if isinstance(vgg16_conv5_3_field, bool) or not isinstance(vgg16_conv5_3_field, (int, np.integer)):
        raise AssertionError(f"`vgg16_conv5_3_field` should be an int, got {vgg16_conv5_3_field!r:.60}.")
    if check_vgg16_value:
        vgg16 = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
        expected = int(field_table(vgg16).loc["block5_conv3", "field_rows"])
        assert_equal(vgg16_conv5_3_field, expected, "vgg16_conv5_3_field")
