from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 4

@test_case(points=None, hidden=False)
def test_residual_block(ResidualBlock):
    import keras
    import numpy as np
    from course_lib.grading import assert_equal, assert_same_array, call, layer_output, randomize_weights

    def reference(x, filters, strides, weights):

        def get(name, shape):
            if (name, shape) not in weights:
                raise AssertionError(f'the block has no weight `{name}` of shape {shape}; see the layers it needs.')
            return weights[name, shape]

        def conv(x, size, strides):
            kernel = get('kernel', (size, size, x.shape[-1], filters)).astype('float32')
            return keras.ops.convert_to_numpy(keras.ops.conv(x.astype('float32'), kernel, strides, 'same'))

        def bn(x):
            mean, variance = (get('moving_mean', (filters,)), get('moving_variance', (filters,)))
            return (x - mean) / np.sqrt(variance + 0.001) * get('gamma', (filters,)) + get('beta', (filters,))
        y = bn(conv(np.maximum(bn(conv(x, 3, strides)), 0), 3, 1))
        identity = strides == 1 and x.shape[-1] == filters
        return np.maximum(y + (x if identity else bn(conv(x, 1, strides))), 0)
    rng = np.random.default_rng(222)
    same = int(rng.integers(2, 7))
    configs = [(same, same, 1), (int(rng.integers(2, 5)), int(rng.integers(5, 8)), 1), (same, same, 2)]
    for c_in, filters, strides in configs:
        h, w = (int(n) for n in rng.integers(5, 10, size=2))
        x = rng.normal(size=(2, h, w, c_in)).astype('float32')
        name = f'ResidualBlock({filters}, strides={strides})'
        on_x = f'{name}(x) for x of shape {x.shape}'
        block = call(ResidualBlock, filters, strides=strides, name=name)
        if not isinstance(block, keras.layers.Layer):
            raise AssertionError(f'{name} should make a keras.layers.Layer, got a {type(block).__name__}.')
        out = layer_output(block, x, on_x, training=False)
        assert_equal(out.shape, (2, -(-h // strides), -(-w // strides), filters), f'the shape of {on_x}')
        params = 9 * c_in * filters + 9 * filters * filters + 8 * filters
        if strides != 1 or c_in != filters:
            params += c_in * filters + 4 * filters
        assert_equal(call(block.count_params, name=f'{name}.count_params()'), params, f'{name}.count_params() on {c_in} channels')
        expected = reference(x, filters, strides, randomize_weights(block, rng))
        assert_same_array(layer_output(block, x, on_x, training=False), expected, f'{on_x} with random weights', 0.0001, 0.0001)
        inputs = keras.Input(x.shape[1:])
        model = call(keras.Model, inputs, layer_output(block, inputs, f'{name} on a keras.Input'), name='keras.Model')
        assert_same_array(layer_output(model, x, 'model(x)', training=False), expected, f'a keras.Model around {on_x}', 0.0001, 0.0001)
        config = call(block.get_config, name=f'{name}.get_config()')
        if not isinstance(config, dict):
            raise AssertionError(f'{name}.get_config() should return a dict, got {type(config).__name__}.')
        clone = call(type(block).from_config, config, name=f'ResidualBlock.from_config({name}.get_config())')
        layer_output(clone, x, f'the clone from_config({name}.get_config()) on x', training=False)
        call(clone.set_weights, block.get_weights(), name=f"setting the clone's weights to {name}'s")
        result = layer_output(clone, x, 'clone(x)', training=False)
        assert_same_array(result, expected, f'a ResidualBlock.from_config({name}.get_config()) clone', 0.0001, 0.0001)

