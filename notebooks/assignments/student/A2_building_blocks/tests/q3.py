from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 4

@test_case(points=None, hidden=False)
def test_inception_module(InceptionModule):
    import keras
    import numpy as np
    from course_lib.grading import assert_equal, assert_same_array, call, layer_output, randomize_weights

    def reference_branches(x, sizes, weights):
        f1, f3_reduce, f3, f5_reduce, f5, pool_proj = sizes

        def conv(x, size, filters):
            shape = (size, size, x.shape[-1], filters)
            if ('kernel', shape) not in weights or ('bias', (filters,)) not in weights:
                raise AssertionError(f'the module has no convolution with a kernel of shape {shape} and a bias.')
            kernel = weights['kernel', shape].astype('float32')
            y = keras.ops.convert_to_numpy(keras.ops.conv(x.astype('float32'), kernel, 1, 'same'))
            return np.maximum(y + weights['bias', (filters,)], 0)
        pooled = keras.ops.convert_to_numpy(keras.ops.max_pool(x, 3, 1, 'same'))
        return [('1x1', conv(x, 1, f1)), ('3x3', conv(conv(x, 1, f3_reduce), 3, f3)), ('5x5', conv(conv(x, 1, f5_reduce), 5, f5)), ('pool', conv(pooled, 1, pool_proj))]
    rng = np.random.default_rng(333)
    for _ in range(2):
        f1, f3_reduce, f5_reduce, pool_proj = (int(n) for n in rng.choice(np.arange(2, 10), 4, replace=False))
        f3, f5 = (int(n) for n in rng.integers(2, 10, size=2))
        sizes = (f1, f3_reduce, f3, f5_reduce, f5, pool_proj)
        c_in, h, w = (int(rng.integers(2, 7)), int(rng.integers(5, 10)), int(rng.integers(5, 10)))
        x = rng.normal(size=(2, h, w, c_in)).astype('float32')
        name = f'InceptionModule{sizes}'
        on_x = f'{name}(x) for x of shape {x.shape}'
        module = call(InceptionModule, *sizes, name=name)
        if not isinstance(module, keras.layers.Layer):
            raise AssertionError(f'{name} should make a keras.layers.Layer, got a {type(module).__name__}.')
        out = layer_output(module, x, on_x)
        assert_equal(out.shape, (2, h, w, f1 + f3 + f5 + pool_proj), f'the shape of {on_x}')
        params = c_in * (f1 + f3_reduce + f5_reduce + pool_proj) + 9 * f3_reduce * f3 + 25 * f5_reduce * f5
        params += f1 + f3_reduce + f3 + f5_reduce + f5 + pool_proj
        assert_equal(call(module.count_params, name=f'{name}.count_params()'), params, f'{name}.count_params() on {c_in} channels')
        branches = reference_branches(x, sizes, randomize_weights(module, rng))
        expected = np.concatenate([y for _, y in branches], axis=-1)
        out = layer_output(module, x, on_x)
        start = 0
        for branch, y in branches:
            stop = start + y.shape[-1]
            where = f'channels {start}:{stop} (the {branch} branch) of {on_x} with random weights'
            assert_same_array(out[..., start:stop], y, where, 0.0001, 0.0001)
            start = stop
        inputs = keras.Input(x.shape[1:])
        model = call(keras.Model, inputs, layer_output(module, inputs, f'{name} on a keras.Input'), name='keras.Model')
        assert_same_array(layer_output(model, x, 'model(x)'), expected, f'a keras.Model around {on_x}', 0.0001, 0.0001)
        config = call(module.get_config, name=f'{name}.get_config()')
        if not isinstance(config, dict):
            raise AssertionError(f'{name}.get_config() should return a dict, got {type(config).__name__}.')
        clone = call(type(module).from_config, config, name=f'InceptionModule.from_config({name}.get_config())')
        layer_output(clone, x, f'the clone from_config({name}.get_config()) on x')
        call(clone.set_weights, module.get_weights(), name=f"setting the clone's weights to {name}'s")
        result = layer_output(clone, x, 'clone(x)')
        assert_same_array(result, expected, f'an InceptionModule.from_config({name}.get_config()) clone', 0.0001, 0.0001)

