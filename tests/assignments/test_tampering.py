"""A hostile submission cannot raise its score (issue 12).

Each attack in `attacks.py` is planted into a half-solved A1 notebook: the
student's notebook with the solutions of q1-q4 filled in and q5-q8 untouched.
Graded by the judge, the attacked notebook may not score more than the honest
half-solved one on any question, and the honest answers keep their points
wherever the attack leaves the submission's own process working. Every attack
leaves a marker file, so a test fails if its attack never ran.
"""

import time

import nbformat
import pytest

from .attacks import AFTER_THE_ANSWERS, ATTACKS, LOOP_IN_AN_ANSWER
from .support import assignments

NAME = "A1_convolution_and_pooling"
SOLVED = ("output_size", "correlate2d", "convolve2d", "conv2d_forward")  # q1-q4
TIME_LIMIT = 20.0
# Attacks that break the submission's own interpreter (the builtins) may cost it its honest points too.
BREAKS_ITS_OWN_PROCESS = {"d_redefine_isinstance_and_float"}


def _answer_cell(notebook, function):
    cells = [c for c in notebook.cells if c.cell_type == "code" and c.source.lstrip().startswith(f"def {function}(")]
    assert len(cells) == 1, f"{len(cells)} cells define {function}"
    return cells[0]


@pytest.fixture(scope="module")
def half_solved(generated, tmp_path_factory):
    student = nbformat.read(assignments.STUDENT / NAME / f"{NAME}.ipynb", as_version=4)
    solution = nbformat.read(generated(NAME) / "autograder" / f"{NAME}.ipynb", as_version=4)
    for function in SOLVED:
        _answer_cell(student, function).source = _answer_cell(solution, function).source
    path = tmp_path_factory.mktemp("half") / f"{NAME}.ipynb"
    nbformat.write(student, path)
    return path


@pytest.fixture(scope="module")
def honest(half_solved, judge):
    """The half-solved notebook's scores, seconds: q1-q4 full marks, q5-q8 zero."""
    scores, result = assignments.grade_one(half_solved, judge(NAME, TIME_LIMIT))
    assert all(scores[q][0] == scores[q][1] > 0 for q in ("q1", "q2", "q3", "q4")), result.outputs
    assert all(scores[q][0] == 0 for q in ("q5", "q6", "q7", "q8")), scores
    return {q: s[0] for q, s in scores.items()}, result.seconds


def _grade_attacked(half_solved, judge, tmp_path, edit):
    notebook = nbformat.read(half_solved, as_version=4)
    edit(notebook)
    path = tmp_path / f"{NAME}.ipynb"
    nbformat.write(notebook, path)
    scores, result = assignments.grade_one(path, judge(NAME, TIME_LIMIT))
    return {q: s[0] for q, s in scores.items()}, result


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_raises_no_score(attack, half_solved, honest, judge, generated, tmp_path):
    marker = tmp_path / "attack-ran"
    source = ATTACKS[attack].format(marker=str(marker), autograder=str(generated(NAME) / "autograder"))
    cell = nbformat.v4.new_code_cell(source)

    def plant(notebook):
        if attack in AFTER_THE_ANSWERS:
            notebook.cells.append(cell)
        else:
            setup = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "setup_notebook(" in c.source)
            notebook.cells.insert(setup + 1, cell)

    scores, result = _grade_attacked(half_solved, judge, tmp_path, plant)
    assert marker.exists(), f"the attack {attack} did not run"
    if attack == "f_read_the_autograders_files":
        assert int(marker.read_text()) > 0, "the attack found no autograder files to read"
    honest_scores, _ = honest
    raised = {q: (honest_scores[q], s) for q, s in scores.items() if s > honest_scores[q]}
    assert not raised, f"{attack} raised {raised}"
    if attack not in BREAKS_ITS_OWN_PROCESS:
        assert scores == honest_scores, (attack, scores, result.outputs)


def test_an_answer_that_never_ends_costs_its_question_only_within_the_time_limit(half_solved, honest, judge, tmp_path):
    def loop_in_q2(notebook):
        _answer_cell(notebook, "correlate2d").source += LOOP_IN_AN_ANSWER

    start = time.monotonic()
    scores, result = _grade_attacked(half_solved, judge, tmp_path, loop_in_q2)
    seconds = time.monotonic() - start
    honest_scores, honest_seconds = honest
    assert scores == {**honest_scores, "q2": 0.0}, scores
    assert any("did not finish within 20 s" in note and "(q2)" in note for note in result.notes), result.notes
    # The loop costs the time limit and one restart of the notebook's process, no more.
    assert seconds < honest_seconds + TIME_LIMIT + 30, (seconds, honest_seconds)
