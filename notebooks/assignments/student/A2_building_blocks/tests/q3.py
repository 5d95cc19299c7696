from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 4

@test_case(points=None, hidden=False)
def test_inception_module(InceptionModule):
    import keras
    import numpy as np
    from course_lib.grading import Answers, assert_equal, assert_same_array, in_submission, layer_answers

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
        seed = int(rng.integers(2 ** 31))
        answers = Answers(in_submission(layer_answers, InceptionModule, sizes, {}, x, seed, name))
        if not answers['is_layer']:
            raise AssertionError(f"{name} should make a keras.layers.Layer, got a {answers['type_name']}.")
        assert_equal(np.shape(answers['output']), (2, h, w, f1 + f3 + f5 + pool_proj), f'the shape of {on_x}')
        params = c_in * (f1 + f3_reduce + f5_reduce + pool_proj) + 9 * f3_reduce * f3 + 25 * f5_reduce * f5
        params += f1 + f3_reduce + f3 + f5_reduce + f5 + pool_proj
        assert_equal(answers['count_params'], params, f'{name}.count_params() on {c_in} channels')
        branches = reference_branches(x, sizes, answers['weights'])
        expected = np.concatenate([y for _, y in branches], axis=-1)
        out = np.asarray(answers['random_output'])
        assert_equal(out.shape, expected.shape, f'the shape of {on_x}')
        start = 0
        for branch, y in branches:
            stop = start + y.shape[-1]
            where = f'channels {start}:{stop} (the {branch} branch) of {on_x} with random weights'
            assert_same_array(out[..., start:stop], y, where, 0.0001, 0.0001)
            start = stop
        assert_same_array(answers['model_output'], expected, f'a keras.Model around {on_x}', 0.0001, 0.0001)
        if not answers['config_is_dict']:
            raise AssertionError(f'{name}.get_config() should return a dict.')
        assert_same_array(answers['clone_output'], expected, f'a InceptionModule.from_config({name}.get_config()) clone', 0.0001, 0.0001)

