from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 3

@test_case(points=None, hidden=False)
def test_transfer_model_has_a_frozen_backbone_and_a_new_head(build_transfer_model):
    from course_lib.grading.checks.a3 import check_transfer_model_structure
    check_transfer_model_structure(build_transfer_model, class_counts=(5, 3))

