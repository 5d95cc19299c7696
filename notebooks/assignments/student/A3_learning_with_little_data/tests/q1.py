from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 4

@test_case(points=None, hidden=False)
def test_mixup_batch_invariants(mixup_batch):
    from course_lib.grading.checks.a3 import check_mixup_batch
    check_mixup_batch(mixup_batch, seed=111, alphas=(0.05, 0.4, 1.0), n=2000, classes=4, image_shape=(3, 3, 2), mixer_seed=5)

