from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 4

@test_case(points=None, hidden=False)
def test_residual_block(ResidualBlock):
    import keras
    import numpy as np
    from course_lib.grading import Answers, assert_equal, assert_same_array, in_submission, layer_answers

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
        seed = int(rng.integers(2 ** 31))
        answers = Answers(in_submission(layer_answers, ResidualBlock, (filters,), {'strides': strides}, x, seed, name, training=False))
        if not answers['is_layer']:
            raise AssertionError(f"{name} should make a keras.layers.Layer, got a {answers['type_name']}.")
        assert_equal(np.shape(answers['output']), (2, -(-h // strides), -(-w // strides), filters), f'the shape of {on_x}')
        params = 9 * c_in * filters + 9 * filters * filters + 8 * filters
        if strides != 1 or c_in != filters:
            params += c_in * filters + 4 * filters
        assert_equal(answers['count_params'], params, f'{name}.count_params() on {c_in} channels')
        expected = reference(x, filters, strides, answers['weights'])
        assert_same_array(answers['random_output'], expected, f'{on_x} with random weights', 0.0001, 0.0001)
        assert_same_array(answers['model_output'], expected, f'a keras.Model around {on_x}', 0.0001, 0.0001)
        if not answers['config_is_dict']:
            raise AssertionError(f'{name}.get_config() should return a dict.')
        assert_same_array(answers['clone_output'], expected, f'a ResidualBlock.from_config({name}.get_config()) clone', 0.0001, 0.0001)

