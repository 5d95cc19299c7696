from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_parameter_counts_against_keras(conv_params, batch_norm_params, bottleneck_block_params):
    from course_lib.grading.checks.a2 import check_parameter_counts
    check_parameter_counts(conv_params, batch_norm_params, bottleneck_block_params, seed=111, rounds=3, kernel_sizes=(1, 3, 5, 7), channel_max=64, bias_order=(True, False), bn_channel_max=256, identities=(True, False, True, False), mid_max=32, in_max=128)

