from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2

@test_case(points=None, hidden=False)
def test_tta_predict_is_the_mean_posterior(tta_predict):
    import keras
    import numpy as np
    from course_lib.grading import assert_same_array, call
    keras.utils.set_random_seed(21)
    rng = np.random.default_rng(21)
    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Flatten(), keras.layers.Dense(8, activation='tanh'), keras.layers.Dense(3, activation='softmax')])
    images = rng.normal(size=(10, 6, 6, 2)).astype('float32')
    views = [lambda x: x, lambda x: x[:, :, ::-1], lambda x: np.roll(x, 1, axis=1)]
    expected = np.mean([model.predict(view(images), verbose=0) for view in views], axis=0)
    for chosen in (views, views[1:], views[:1]):
        name = f'tta_predict with {len(chosen)} views'
        result = call(tta_predict, model, images, chosen, name=name)
        want = np.mean([model.predict(view(images), verbose=0) for view in chosen], axis=0)
        assert_same_array(result, want, name, rtol=1e-05, atol=1e-06)
    assert expected.shape == (10, 3)

