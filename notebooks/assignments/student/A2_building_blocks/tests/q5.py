from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 3

@test_case(points=None, hidden=False)
def test_receptive_field_against_course_lib(receptive_field, vgg16_conv5_3_field):
    import keras
    import numpy as np
    from course_lib.grading import assert_equal, call
    from course_lib.receptive_field import receptive_field as field_table
    rng = np.random.default_rng(555)
    for length in (3, 4, 5, 6, 7):
        layers, pairs = ([keras.Input((64, 64, 1))], [])
        for _ in range(length):
            k, s = (int(rng.choice([1, 2, 3, 5, 7])), int(rng.choice([1, 2, 3])))
            if rng.random() < 0.3:
                layers.append(keras.layers.MaxPooling2D(k, s, padding='same'))
            else:
                layers.append(keras.layers.Conv2D(1, k, strides=s, padding='same'))
            pairs.append((k, s))
        expected = int(field_table(keras.Sequential(layers))['field_rows'].iloc[-1])
        name = f'receptive_field({pairs})'
        assert_equal(call(receptive_field, list(pairs), name=name), expected, name)
    assert_equal(call(receptive_field, [], name='receptive_field([])'), 1, 'receptive_field([])')
    if isinstance(vgg16_conv5_3_field, bool) or not isinstance(vgg16_conv5_3_field, (int, np.integer)):
        raise AssertionError(f'`vgg16_conv5_3_field` should be an int, got {vgg16_conv5_3_field!r:.60}.')

