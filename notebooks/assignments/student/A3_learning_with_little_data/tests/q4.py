from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 2

@test_case(points=None, hidden=False)
def test_nearest_neighbours_against_scikit_learn(nearest_neighbours):
    import numpy as np
    from sklearn.neighbors import NearestNeighbors
    from course_lib.grading import assert_equal, call
    rng = np.random.default_rng(404)
    for m, q, d, k in ((50, 7, 8, 5), (30, 4, 3, 1), (20, 6, 16, 20)):
        index, queries = (rng.normal(size=(m, d)), rng.normal(size=(q, d)))
        expected = NearestNeighbors(n_neighbors=k).fit(index).kneighbors(queries, return_distance=False)
        name = f'nearest_neighbours(index {index.shape}, queries {queries.shape}, k={k})'
        result = call(nearest_neighbours, index, queries, k, name=name)
        assert_equal(np.shape(result), (q, k), f'{name}.shape')
        assert_equal(np.asarray(result).tolist(), expected.tolist(), name)

