from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 3

@test_case(points=None, hidden=False)
def test_depthwise_separable_conv(DepthwiseSeparableConv):
    import keras
    import numpy as np
    from course_lib.grading import Answers, assert_equal, assert_same_array, in_submission, layer_answers

    def reference(x, filters, strides, weights):

        def get(name, shape):
            if (name, shape) not in weights:
                raise AssertionError(f'the block has no weight `{name}` of shape {shape}; see the layers it needs.')
            return weights[name, shape]

        def bn_relu(x):
            shape = (x.shape[-1],)
            mean, variance = (get('moving_mean', shape), get('moving_variance', shape))
            return np.maximum((x - mean) / np.sqrt(variance + 0.001) * get('gamma', shape) + get('beta', shape), 0)
        c_in = x.shape[-1]
        depthwise = get('kernel', (3, 3, c_in, 1)).astype('float32')
        y = bn_relu(keras.ops.convert_to_numpy(keras.ops.depthwise_conv(x, depthwise, strides, 'same')))
        pointwise = get('kernel', (1, 1, c_in, filters)).astype('float32')
        return bn_relu(keras.ops.convert_to_numpy(keras.ops.conv(y.astype('float32'), pointwise, 1, 'valid')))
    rng = np.random.default_rng(444)
    configs = [(int(rng.integers(2, 6)), int(rng.integers(6, 10)), 1), (int(rng.integers(2, 8)), int(rng.integers(2, 8)), 2)]
    for c_in, filters, strides in configs:
        h, w = (int(n) for n in rng.integers(5, 10, size=2))
        x = rng.normal(scale=5.0, size=(2, h, w, c_in)).astype('float32')
        name = f'DepthwiseSeparableConv({filters}, strides={strides})'
        on_x = f'{name}(x) for x of shape {x.shape}'
        seed = int(rng.integers(2 ** 31))
        answers = Answers(in_submission(layer_answers, DepthwiseSeparableConv, (filters,), {'strides': strides}, x, seed, name, training=False))
        if not answers['is_layer']:
            raise AssertionError(f"{name} should make a keras.layers.Layer, got a {answers['type_name']}.")
        assert_equal(np.shape(answers['output']), (2, -(-h // strides), -(-w // strides), filters), f'the shape of {on_x}')
        params = 9 * c_in + 4 * c_in + c_in * filters + 4 * filters
        assert_equal(answers['count_params'], params, f'{name}.count_params() on {c_in} channels')
        expected = reference(x, filters, strides, answers['weights'])
        assert_same_array(answers['random_output'], expected, f'{on_x} with random weights', 0.0001, 0.0001)
        assert_same_array(answers['model_output'], expected, f'a keras.Model around {on_x}', 0.0001, 0.0001)
        if not answers['config_is_dict']:
            raise AssertionError(f'{name}.get_config() should return a dict.')
        assert_same_array(answers['clone_output'], expected, f'a DepthwiseSeparableConv.from_config({name}.get_config()) clone', 0.0001, 0.0001)

