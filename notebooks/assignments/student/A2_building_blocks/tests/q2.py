from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 4

@test_case(points=None, hidden=False)
def test_residual_block(ResidualBlock):
    from course_lib.grading.checks.a2 import check_residual_block
    check_residual_block(ResidualBlock, seed=222, configs=[(4, 4, 1), (3, 6, 1), (4, 4, 2)], batch=2, size_range=(5, 10))

