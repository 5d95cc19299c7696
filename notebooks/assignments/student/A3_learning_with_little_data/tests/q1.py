from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 4

@test_case(points=None, hidden=False)
def test_mixup_batch_invariants(mixup_batch):
    import numpy as np
    import scipy.stats
    from course_lib.grading import assert_same_array, call, unpack
    data = np.random.default_rng(111)
    for alpha in (0.05, 0.4, 1.0):
        n, classes = (2000, 4)
        images = data.normal(size=(n, 3, 3, 2)).astype('float32')
        labels = np.eye(classes, dtype='float32')[data.integers(0, classes, n)]
        name = f'mixup_batch(alpha={alpha})'
        result = call(mixup_batch, images, labels, alpha, np.random.default_rng(5), name=name)
        parts = ('mixed_images', 'mixed_labels', 'lambdas', 'partners')
        mixed_images, mixed_labels, lambdas, partners = unpack(result, parts, name)
        lambdas = np.asarray(lambdas, dtype=np.float32)
        partners = np.asarray(partners)
        assert lambdas.shape == (n,) and partners.shape == (n,), f'{name}: lambdas and partners need shape ({n},).'
        assert ((lambdas > 0) & (lambdas < 1)).all(), f'{name}: {int(((lambdas <= 0) | (lambdas >= 1)).sum())} lambdas are 0 or 1 in float32.'
        assert np.issubdtype(partners.dtype, np.integer), f'{name}: partners must be integers.'
        assert (labels[partners].argmax(1) != labels.argmax(1)).all(), f'{name}: some partners are of the same class.'
        weights = lambdas[:, None, None, None]
        assert_same_array(mixed_images, weights * images + (1 - weights) * images[partners], f'mixed images of {name}')
        assert_same_array(mixed_labels, lambdas[:, None] * labels + (1 - lambdas[:, None]) * labels[partners], f'mixed labels of {name}')
        if alpha >= 0.4:
            p_value = scipy.stats.kstest(lambdas, 'beta', args=(alpha, alpha)).pvalue
            assert p_value > 0.0001, f'{name}: the lambdas do not look Beta({alpha}, {alpha}) distributed (KS p = {p_value:.2g}).'

