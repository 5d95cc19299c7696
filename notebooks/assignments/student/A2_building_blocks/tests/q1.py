from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_parameter_counts_against_keras(conv_params, batch_norm_params, bottleneck_block_params):
    import keras
    import numpy as np
    from course_lib.grading import assert_equal, call

    def keras_bottleneck(c_in, c_mid):
        inputs = keras.Input((8, 8, c_in))
        x = inputs
        for filters, size in ((c_mid, 1), (c_mid, 3), (4 * c_mid, 1)):
            x = keras.layers.Conv2D(filters, size, padding='same', use_bias=False)(x)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.ReLU()(x)
        shortcut = inputs
        if c_in != 4 * c_mid:
            shortcut = keras.layers.Conv2D(4 * c_mid, 1, use_bias=False)(inputs)
            shortcut = keras.layers.BatchNormalization()(shortcut)
        return keras.Model(inputs, keras.layers.Add()([x, shortcut])).count_params()
    rng = np.random.default_rng(111)
    for _ in range(3):
        k, c_in, c_out = (int(rng.choice([1, 3, 5, 7])), int(rng.integers(1, 65)), int(rng.integers(1, 65)))
        for bias in (True, False):
            layer = keras.layers.Conv2D(c_out, k, use_bias=bias)
            layer.build((None, None, None, c_in))
            name = f'conv_params({k}, {c_in}, {c_out}, bias={bias})'
            assert_equal(call(conv_params, k, c_in, c_out, bias=bias, name=name), layer.count_params(), name)
        channels = int(rng.integers(1, 257))
        layer = keras.layers.BatchNormalization()
        layer.build((None, 4, 4, channels))
        name = f'batch_norm_params({channels})'
        assert_equal(call(batch_norm_params, channels, name=name), layer.count_params(), name)
    for identity in (True, False, True, False):
        c_mid = int(rng.integers(1, 33))
        c_in = 4 * c_mid if identity else int(rng.integers(1, 129))
        name = f'bottleneck_block_params({c_in}, {c_mid})'
        expected = keras_bottleneck(c_in, c_mid)
        assert_equal(call(bottleneck_block_params, c_in, c_mid, name=name), expected, name)

