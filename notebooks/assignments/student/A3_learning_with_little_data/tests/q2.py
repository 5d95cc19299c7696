from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2

@test_case(points=None, hidden=False)
def test_tta_predict_is_the_mean_posterior(tta_predict):
    from course_lib.grading.checks.a3 import check_tta_predict
    check_tta_predict(tta_predict, seed=21, n=10, architecture=((6, 6, 2), 8, 'tanh', 3), view_sets=[['identity', 'flip_cols', 'roll_rows'], ['flip_cols', 'roll_rows'], ['identity']], check_no_views=False)

