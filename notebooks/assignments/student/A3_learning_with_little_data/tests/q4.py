from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 2

@test_case(points=None, hidden=False)
def test_nearest_neighbours_against_scikit_learn(nearest_neighbours):
    from course_lib.grading.checks.a3 import check_nearest_neighbours
    check_nearest_neighbours(nearest_neighbours, seed=404, cases=((50, 7, 8, 5), (30, 4, 3, 1), (20, 6, 16, 20)), reference='sklearn', check_too_large_k=False)

