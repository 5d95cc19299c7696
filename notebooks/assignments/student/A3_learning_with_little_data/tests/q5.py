from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 2

@test_case(points=None, hidden=False)
def test_precision_at_k(precision_at_k):
    import numpy as np
    from course_lib.grading import assert_same_array, call
    rng = np.random.default_rng(505)
    for q, big_k, k in ((20, 10, 5), (8, 6, 1), (12, 4, 3)):
        query_labels = rng.integers(0, 3, q)
        retrieved = rng.integers(0, 3, (q, big_k))
        expected = np.mean([np.mean(retrieved[i, :k] == query_labels[i]) for i in range(q)])
        name = f'precision_at_k(labels of {q} queries, retrieved {retrieved.shape}, k={k})'
        result = call(precision_at_k, query_labels, retrieved, k, name=name)
        if not isinstance(result, float):
            raise AssertionError(f'{name} should return a float, got {type(result).__name__}.')
        assert_same_array(result, expected, name, rtol=1e-09, atol=1e-12)

