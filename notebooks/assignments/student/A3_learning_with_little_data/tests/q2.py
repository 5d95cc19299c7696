from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2

@test_case(points=None, hidden=False)
def test_tta_predict_is_the_mean_posterior(tta_predict):
    import keras
    import numpy as np
    from course_lib.grading import assert_equal, assert_same_array, in_submission

    def probe(tta_predict, images, seed, view_sets):
        import keras
        import numpy as np
        from course_lib.grading import call
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Flatten(), keras.layers.Dense(8, activation='tanh'), keras.layers.Dense(3, activation='softmax')])
        views = {'identity': lambda x: x, 'flip': lambda x: x[:, :, ::-1], 'roll': lambda x: np.roll(x, 1, axis=1)}
        results = []
        for chosen in view_sets:
            name = f'tta_predict with {len(chosen)} views'
            results.append(call(tta_predict, model, images, [views[v] for v in chosen], name=name))
        try:
            tta_predict(model, images, [])
            raises_on_no_views = False
        except ValueError:
            raises_on_no_views = True
        except Exception:
            raises_on_no_views = False
        return {'weights': model.get_weights(), 'results': results, 'raises_on_no_views': raises_on_no_views}
    rng = np.random.default_rng(21)
    images = rng.normal(size=(10, 6, 6, 2)).astype('float32')
    view_sets = [['identity', 'flip', 'roll'], ['flip', 'roll'], ['identity']]
    answers = in_submission(probe, tta_predict, images, 21, view_sets)
    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Flatten(), keras.layers.Dense(8, activation='tanh'), keras.layers.Dense(3, activation='softmax')])
    model.set_weights(answers['weights'])
    views = {'identity': lambda x: x, 'flip': lambda x: x[:, :, ::-1], 'roll': lambda x: np.roll(x, 1, axis=1)}
    assert_equal(len(answers['results']), len(view_sets), 'the number of tta_predict results')
    for chosen, result in zip(view_sets, answers['results']):
        expected = np.mean([model.predict(views[v](images), verbose=0) for v in chosen], axis=0)
        assert_same_array(result, expected, f'tta_predict with {len(chosen)} views', rtol=1e-05, atol=1e-06)

