from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 3

@test_case(points=None, hidden=False)
def test_receptive_field_against_course_lib(receptive_field, vgg16_conv5_3_field):
    from course_lib.grading.checks.a2 import check_receptive_field
    check_receptive_field(receptive_field, vgg16_conv5_3_field, seed=555, lengths=(3, 4, 5, 6, 7), kernel_sizes=(1, 2, 3, 5, 7), strides=(1, 2, 3), input_size=64, check_vgg16_value=False)

