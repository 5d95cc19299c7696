from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 4

@test_case(points=None, hidden=False)
def test_inception_module(InceptionModule):
    from course_lib.grading.checks.a2 import check_inception_module
    check_inception_module(InceptionModule, seed=333, modules=[((3, 4, 8, 5, 2, 7), 6), ((9, 2, 5, 6, 3, 4), 3)], batch=2, size_range=(5, 10))

