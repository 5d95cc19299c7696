"""The graded assignments: student versions current, and graders that can fail.

For each assignment in notebooks/assignments/source, otter assign regenerates
the student version and the autograder (it refuses unless the solution passes
every test). Then:

- the committed student version equals the generated one (after normalising
  the cell ids and execution traces that otter writes differently each time);
- the student version holds the public tests only;
- graded by the judge (`course_lib.grading.judge`, the submission's code in a child
  process): the solution scores full marks, the untouched student notebook
  zero on every question, and each planted wrong submission
  (tests/assignments/planted.py) loses exactly the points of its question;
- run as a student would (fresh kernel, Run all), the student notebook raises
  no error and its first `grader.check` reports a failure;
- the points stated in each notebook's table and headings are the graded ones.
"""

import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from nbclient import NotebookClient

from .planted import PLANTED
from .support import ROOT, assignments

NAMES = assignments.names()
PLANTED_CASES = [(name, planted) for name in NAMES for planted in PLANTED.get(name, [])]


def questions(name):
    """{question: points} from the BEGIN QUESTION blocks of the source."""
    source = (assignments.SOURCES / f"{name}.py").read_text()
    found = {}
    for block in re.findall(r"# %% \[raw\]\n# # BEGIN QUESTION\n((?:# .*\n)+)", source):
        config = yaml.safe_load("\n".join(line[2:] for line in block.splitlines()))
        found[config["name"]] = config["points"]
    return found


def test_there_are_three_assignments_with_planted_bugs():
    assert [name[:2] for name in NAMES] == ["A1", "A2", "A3"]
    for name in NAMES:
        assert PLANTED.get(name), f"{name} has no planted wrong submissions"
        assert {p.question for p in PLANTED[name]} <= set(questions(name))


@pytest.mark.parametrize("name", NAMES)
def test_committed_student_version_is_what_the_source_generates(name, generated):
    diff = assignments.differences(name, generated(name))
    assert not diff, "\n".join(["run `make assignments` and commit:"] + diff[:80])


@pytest.mark.parametrize("name", NAMES)
def test_student_version_has_no_solutions_or_hidden_tests(name, generated):
    student = assignments.STUDENT / name
    autograder_tests = generated(name) / "autograder" / "tests"
    for test_file in sorted((student / "tests").glob("*.py")):
        text = test_file.read_text()
        assert "hidden=True" not in text
        assert text.count("@test_case(") < (autograder_tests / test_file.name).read_text().count("@test_case(")
    notebook = (student / f"{name}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in notebook and "# HIDDEN" not in notebook
    assert not list(student.rglob("*.zip"))


@pytest.mark.parametrize("name", NAMES)
def test_points_in_the_notebook_are_the_graded_points(name):
    points = questions(name)
    source = (assignments.SOURCES / f"{name}.py").read_text()
    table = dict(re.findall(r"^# \| (q\d+) \| .* \| (\d+) \|$", source, flags=re.MULTILINE))
    assert {q: int(p) for q, p in table.items()} == points
    total = re.search(r"^# \| total \| +\| (\d+) \|$", source, flags=re.MULTILINE)
    assert total and int(total.group(1)) == sum(points.values())
    headings = dict(re.findall(r"^# ## (q\d+) · .* \((\d+) points?\)$", source, flags=re.MULTILINE))
    assert {q: int(p) for q, p in headings.items()} == points


def _grade(notebook_path, name, judge):
    scores, result = assignments.grade_one(notebook_path, judge(name))
    return scores, result.outputs


@pytest.mark.parametrize("name", NAMES)
def test_solution_scores_full_marks(name, generated, judge):
    scores, outputs = _grade(generated(name) / "autograder" / f"{name}.ipynb", name, judge)
    assert set(scores) == set(questions(name))
    lost = {q: s for q, s in scores.items() if s[0] != s[1]}
    assert not lost, {q: outputs[q] for q in lost}
    assert {q: s[1] for q, s in scores.items()} == questions(name)


@pytest.mark.parametrize("name", NAMES)
def test_untouched_student_notebook_scores_zero_everywhere(name, judge):
    scores, outputs = _grade(assignments.STUDENT / name / f"{name}.ipynb", name, judge)
    assert set(scores) == set(questions(name))
    scored = {q: s for q, s in scores.items() if s[0] != 0}
    assert not scored, {q: outputs[q] for q in scored}


def _plant(notebook, planted):
    cells = [c for c in notebook.cells if c.cell_type == "code" and planted.cell in c.source]
    assert len(cells) == 1, f"{planted.name}: {len(cells)} cells contain {planted.cell!r}"
    assert cells[0].source.count(planted.find) == 1, f"{planted.name}: {planted.find!r} not found once"
    cells[0].source = cells[0].source.replace(planted.find, planted.replace)


@pytest.mark.parametrize(("name", "planted"), PLANTED_CASES, ids=[f"{n[:2]}-{p.name}" for n, p in PLANTED_CASES])
def test_planted_bug_loses_exactly_its_question(name, planted, generated, judge, tmp_path):
    solution = generated(name) / "autograder" / f"{name}.ipynb"
    notebook = nbformat.read(solution, as_version=4)
    _plant(notebook, planted)
    submission = tmp_path / f"{name}.ipynb"
    nbformat.write(notebook, submission)
    scores, outputs = _grade(submission, name, judge)
    expected = {q: (0.0 if q == planted.question else p) for q, p in questions(name).items()}
    assert {q: s[0] for q, s in scores.items()} == expected, outputs[planted.question]
    assert planted.message in outputs[planted.question], outputs[planted.question]


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_runs_all_and_reports_the_first_failure(name, tmp_path):
    # A new student: a fresh kernel in the assignment's folder, Run all.
    folder = tmp_path / name
    shutil.copytree(assignments.STUDENT / name, folder)
    notebook = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0]
    first_check = next(c for c in notebook.cells if c.cell_type == "code" and c.source.startswith("grader.check("))
    shown = "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in first_check.outputs
    )
    assert "Test case failed" in shown and "returned None" in shown, shown


def test_readme_states_each_assignments_points():
    readme = (ROOT / "README.md").read_text()
    for name in NAMES:
        row = re.search(rf"^\| {name[:2]} · [^|]+\| [^|]+\| (\d+) \| [^|]+ \|$", readme, flags=re.MULTILINE)
        assert row, f"README.md's table of assignments has no row for {name[:2]} with its points"
        assert int(row.group(1)) == sum(questions(name).values()), name


def test_grade_command_grades_a_folder_in_bounded_time(generated, tmp_path, monkeypatch):
    # The instructor's command on a folder: a correct submission, an unreadable file, one that
    # loops forever in q1, one that tampers (and forges the output table), an untouched one.
    name = NAMES[0]
    monkeypatch.setattr(assignments, "BUILD", tmp_path / "build")
    (tmp_path / "build" / name).mkdir(parents=True)
    shutil.copytree(generated(name) / "autograder", tmp_path / "build" / name / "autograder")
    submissions, output = tmp_path / "submissions", tmp_path / "scores.csv"
    submissions.mkdir()
    solution = generated(name) / "autograder" / f"{name}.ipynb"
    shutil.copy(solution, submissions / "alice.ipynb")
    (submissions / "bob.ipynb").write_text("not a notebook")
    looping = nbformat.read(solution, as_version=4)
    looping.cells.append(nbformat.v4.new_code_cell("def output_size(*args, **kwargs):\n    while True:\n        pass"))
    nbformat.write(looping, submissions / "carol.ipynb")
    tampering = nbformat.read(assignments.STUDENT / name / f"{name}.ipynb", as_version=4)
    tampering.cells.append(nbformat.v4.new_code_cell(
        "import course_lib.grading as grading\n"
        "for name in grading.__all__:\n"
        "    setattr(grading, name, lambda *args, **kwargs: None)\n"
        f"open({str(output)!r}, 'w').write('submission,total\\ndave.ipynb,16\\n')\n"
    ))
    nbformat.write(tampering, submissions / "dave.ipynb")
    shutil.copy(assignments.STUDENT / name / f"{name}.ipynb", submissions / "erin.ipynb")
    (submissions / "notes.txt").write_text("ignored")

    table = assignments.grade(name, [str(submissions)], str(output), time_limit=20.0)
    written = pd.read_csv(output).set_index(pd.read_csv(output)["submission"].map(lambda p: Path(p).stem))
    assert list(written.index) == ["alice", "bob", "carol", "dave", "erin"]
    points = questions(name)
    assert [written.loc["alice", q] for q in points] == list(points.values())
    assert pd.isna(written.loc["bob", "total"]) and "could not grade" in written.loc["bob", "error"]
    assert written.loc["carol", "q1"] == 0 and written.loc["carol", "total"] == sum(points.values()) - points["q1"]
    assert "q1" in written.loc["carol", "notes"] and "20 s" in written.loc["carol", "notes"]
    assert written.loc["carol", "seconds"] < 20 + 40  # the loop costs its question's limit, then the batch goes on
    assert written.loc["dave", "total"] == 0 and written.loc["erin", "total"] == 0
    assert len(table) == 5
