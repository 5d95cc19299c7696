from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 3

@test_case(points=None, hidden=False)
def test_transfer_model_has_a_frozen_backbone_and_a_new_head(build_transfer_model):
    import keras
    import numpy as np
    from course_lib.grading import assert_equal, in_submission, saved_model

    def probe(build_transfer_model, classes):
        import os
        import tempfile
        import keras
        import numpy as np
        from course_lib.grading import call
        from course_lib.pretrained import load_backbone
        name = f'build_transfer_model(backbone, {classes})'
        model = call(build_transfer_model, load_backbone(), classes, name=name)
        if not isinstance(model, keras.Model):
            raise AssertionError(f'{name} should return a keras.Model, got {type(model).__name__}.')
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, 'model.keras')
            call(model.save, path, name=f'saving {name} as a .keras file')
            with open(path, 'rb') as file:
                return np.frombuffer(file.read(), dtype=np.uint8)
    for classes in (5, 3):
        name = f'build_transfer_model(backbone, {classes})'
        model = saved_model(in_submission(probe, build_transfer_model, classes), name)
        assert_equal(tuple(model.output_shape), (None, classes), f'{name}.output_shape')
        trainable = sorted((tuple(w.shape) for w in model.trainable_weights))
        assert_equal(trainable, sorted([(128, classes), (classes,)]), f'the trainable weight shapes of {name}')
        images = np.random.default_rng(classes).integers(0, 256, size=(4, 32, 32, 3)).astype('float32')
        posteriors = keras.ops.convert_to_numpy(model(images))
        assert np.allclose(posteriors.sum(axis=1), 1, atol=1e-05), f'{name}: the outputs are not probabilities (softmax).'

