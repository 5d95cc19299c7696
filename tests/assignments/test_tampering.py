"""A hostile submission cannot raise its score, reach the judge or outlive its grading (issues 12 and 31).

Every attack of `attacks.py` is planted into a submission and graded in a
batch through `make grade`'s path (`scripts/assignments.py`'s `grade`: a
private hashed copy of the batch, the judge, each submission in bubblewrap's
sandbox, the CSV and the feedback files). Attacks that do not interfere share a
submission, and each batch starts and ends with an honest full-marks
submission. For each batch the test checks:

- every attack's marker (it ran), read back through a marker question `q0`
  added to the autograder, as its public test cases in the feedback file;
- the attackers' scores (nothing above what their honest answers earn);
- the honest neighbours' full marks, before and after the attackers;
- that nothing the attackers started is alive afterwards (no process of the
  sandbox's uid), and that no file they wrote is left outside their sandbox;
- that the judge imports no module once the first submission has started.
"""

import os
import shutil
import time
import uuid
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from course_lib.grading import sandbox

from . import attacks
from .support import ROOT, assignments

A1, A2, A3 = "A1_convolution_and_pooling", "A2_building_blocks", "A3_learning_with_little_data"
SOLVED = ("output_size", "correlate2d", "convolve2d", "conv2d_forward")  # q1-q4 of A1
TIME_LIMIT = 20.0
SUBMISSION_TIME_LIMIT = 90.0


def _code_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


def _answer_cell(notebook, function):
    cells = [c for c in _code_cells(notebook) if c.source.lstrip().startswith(f"def {function}(")]
    assert len(cells) == 1, f"{len(cells)} cells define {function}"
    return cells[0]


def _after_setup(notebook):
    return next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "setup_notebook(" in c.source) + 1


def _plant(notebook, early=(), late=()):
    """Inserts the cells `early` right after the setup cell (the markers first) and appends `late`."""
    cells = [nbformat.v4.new_code_cell(attacks.MARKERS_CELL)] + [nbformat.v4.new_code_cell(s) for s in early]
    index = _after_setup(notebook)
    notebook.cells[index:index] = cells
    notebook.cells += [nbformat.v4.new_code_cell(s) for s in late]
    return notebook


def _points(name):
    from .test_assignments import questions

    return questions(name)


class Batch:
    """A folder of submissions graded as `make grade` does, with a marker question for the attacks."""

    def __init__(self, name, keys, generated, tmp_path, monkeypatch):
        self.name, self.keys, self.tmp_path = name, list(keys), tmp_path
        self.token = f"grader-attack-{uuid.uuid4().hex[:12]}"
        build = tmp_path / "build"
        autograder = build / name / "autograder"
        shutil.copytree(generated(name) / "autograder", autograder)
        (autograder / "tests" / "q0.py").write_text(attacks.marker_tests(self.keys))
        monkeypatch.setattr(assignments, "BUILD", build)
        self.solution = generated(name) / "autograder" / f"{name}.ipynb"
        self.student = assignments.STUDENT / name / f"{name}.ipynb"
        self.folder = tmp_path / "submissions"
        self.folder.mkdir()
        self.output = tmp_path / "out" / "scores.csv"
        self.fields = dict(batch=str(self.folder), output=str(self.output), autograder=str(autograder),
                           repo=str(ROOT), judge_pid=os.getpid(), judge_cwd=os.getcwd(), token=self.token)

    def source(self, attack_source):
        return attack_source.format(**self.fields)

    def add(self, stem, notebook):
        nbformat.write(notebook, self.folder / f"{stem}.ipynb")

    def grade(self, monkeypatch):
        """Grades the folder; returns the CSV as a table indexed by stem, and the modules imported meanwhile."""
        seen = {}
        grade_one = assignments.grade_one

        def recording(submission, judge):
            seen.setdefault("before", set(sys_modules()))
            return grade_one(submission, judge)

        monkeypatch.setattr(assignments, "grade_one", recording)
        start = time.monotonic()
        assignments.grade(self.name, [str(self.folder)], str(self.output), time_limit=TIME_LIMIT,
                          submission_time_limit=SUBMISSION_TIME_LIMIT)
        self.seconds = time.monotonic() - start
        imported = set(sys_modules()) - seen["before"]
        time.sleep(3)  # a daemon that outlived its sandbox would rewrite the CSV now
        table = pd.read_csv(self.output)
        table.index = table["submission"].map(lambda p: Path(p).stem)
        return table, imported

    def feedback(self, stem):
        return (self.output.parent / "scores-feedback" / f"{stem}.md").read_text()

    def markers_that_ran(self, stem):
        text = self.feedback(stem)
        return {key for key in self.keys if f"public test `test_ran_{key}`: passed" in text}

    def check_nothing_left(self):
        alive = _processes_of(sandbox.SANDBOX_UID) + _processes_mentioning(self.token)
        assert not alive, f"processes still alive after grading: {alive}"
        places = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path.home(), ROOT, ROOT / "scripts", Path.cwd()]
        leftovers = [str(p) for place in places if place.is_dir() for p in place.iterdir() if self.token in p.name]
        leftovers += [str(p) for p in self.tmp_path.rglob("*") if self.token in p.name]
        leftovers += [str(p) for p in (ROOT / "scripts" / "psutil.py", ROOT / "psutil.py", Path.cwd() / "psutil.py",
                                       Path.cwd() / "results.json", self.output.parent / "results.json") if p.exists()]
        owned = [str(p) for p in [*self.tmp_path.rglob("*"), *Path("/tmp").iterdir()] if _owner(p) == sandbox.SANDBOX_UID]
        assert not leftovers and not owned, f"files left outside the sandbox: {leftovers + owned}"
        assert self.token not in self.output.read_text(), "the CSV was rewritten"


def sys_modules():
    import sys

    return list(sys.modules)


def _owner(path):
    try:
        return path.lstat().st_uid
    except OSError:
        return None


def _processes_of(uid):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _owner(entry) == uid:
            found.append(entry.name)
    return found


def _processes_mentioning(token):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
            except OSError:
                pass
    return found


def _half_solved(batch):
    student = nbformat.read(batch.student, as_version=4)
    solution = nbformat.read(batch.solution, as_version=4)
    for function in SOLVED:
        _answer_cell(student, function).source = _answer_cell(solution, function).source
    return student


def _scores(table, stem, name):
    return {q: float(table.loc[stem, q]) for q in _points(name)}


def _assert_honest(table, batch, stems):
    full = {q: float(p) for q, p in _points(batch.name).items()}
    for stem in stems:
        assert _scores(table, stem, batch.name) == full, (stem, table.loc[stem].to_dict())
        assert pd.isna(table.loc[stem, "honour_code"]), table.loc[stem, "honour_code"]


@pytest.fixture(scope="module")
def require_sandbox():
    sandbox.check_sandbox()  # the tests grade as `make grade` does: in bubblewrap's sandbox


def test_a1_batch_of_attacks(require_sandbox, generated, tmp_path, monkeypatch):
    keys = [*attacks.PATCHERS, *attacks.LIARS, *attacks.PLANT_A_MODULE, "13_sleep_and_exit"]
    batch = Batch(A1, keys, generated, tmp_path, monkeypatch)
    solution = nbformat.read(batch.solution, as_version=4)
    batch.add("a_honest", solution)
    patchers = _plant(_half_solved(batch), [batch.source(s) for s in attacks.PATCHERS.values()],
                      [*(batch.source(s) for s in attacks.LIARS.values()), attacks.BREAK_THE_BUILTINS])
    batch.add("b_patchers", patchers)
    psutil = _plant(nbformat.read(batch.student, as_version=4),
                    [batch.source(attacks.PLANT_A_MODULE["11_plant_psutil_then_exit"]), attacks.EXIT_CELL])
    batch.add("c_plant_a_module_then_exit", psutil)
    looping = _half_solved(batch)
    _answer_cell(looping, "correlate2d").source += attacks.LOOP_IN_AN_ANSWER
    batch.add("d_loop_in_q2", looping)
    batch.add("e_sleep_and_exit", _plant(nbformat.read(batch.student, as_version=4),
                                         *attacks.restarts_cells(TIME_LIMIT - 2, 2)))
    batch.add("f_honest", solution)

    table, imported = batch.grade(monkeypatch)

    assert list(table.index) == ["a_honest", "b_patchers", "c_plant_a_module_then_exit", "d_loop_in_q2",
                                 "e_sleep_and_exit", "f_honest"]
    _assert_honest(table, batch, ["a_honest", "f_honest"])
    points = _points(A1)
    half = {q: float(points[q]) if q in ("q1", "q2", "q3", "q4") else 0.0 for q in points}
    # The patchers: every attack ran; no question above the honest half-solved notebook's.
    assert batch.markers_that_ran("b_patchers") == {*attacks.PATCHERS, *attacks.LIARS}
    patched = _scores(table, "b_patchers", A1)
    assert all(patched[q] <= half[q] for q in points), patched
    flags = table.loc["b_patchers", "honour_code"]
    assert "scipy.signal" in flags and "keras.ops.conv" in flags and "course_lib.gradcheck" in flags, flags
    # A planted module and an exit: nothing imported, the next submission graded in full.
    assert batch.markers_that_ran("c_plant_a_module_then_exit") == {"11_plant_psutil_then_exit"}
    assert sum(_scores(table, "c_plant_a_module_then_exit", A1).values()) == 0
    assert "psutil" not in imported
    # An endless answer costs its question and one restart, within the time limit.
    assert _scores(table, "d_loop_in_q2", A1) == {**half, "q2": 0.0}
    notes = table.loc["d_loop_in_q2", "notes"]
    assert "did not finish within 20 s" in notes and "(q2)" in notes, notes
    assert table.loc["d_loop_in_q2", "seconds"] < SUBMISSION_TIME_LIMIT
    # Cells that sleep just under the limit, and answers that exit: the submission's budget ends it.
    assert batch.markers_that_ran("e_sleep_and_exit") == {"13_sleep_and_exit"}
    assert sum(_scores(table, "e_sleep_and_exit", A1).values()) == 0
    notes = table.loc["e_sleep_and_exit", "notes"]
    assert "time limit of 90 s" in notes or "restarted 4 times" in notes, notes
    assert table.loc["e_sleep_and_exit", "seconds"] < SUBMISSION_TIME_LIMIT + 30
    # The judge imported nothing once the first submission had started.
    assert not imported, sorted(imported)
    # The feedback: points per question, hidden cases by name and result only.
    feedback = batch.feedback("a_honest")
    assert "## q1: 2 / 2" in feedback and "hidden test `test_output_size_hidden`: passed" in feedback
    assert "seed=9001" not in batch.feedback("d_loop_in_q2")  # a hidden case's code never shows
    batch.check_nothing_left()


def test_a2_a_layer_cannot_forge_the_probe(require_sandbox, generated, tmp_path, monkeypatch):
    batch = Batch(A2, attacks.FORGE_THE_PROBE, generated, tmp_path, monkeypatch)
    attacker = _plant(nbformat.read(batch.student, as_version=4), [],
                      [batch.source(s) for s in attacks.FORGE_THE_PROBE.values()])
    batch.add("a_forger", attacker)
    batch.add("b_honest", nbformat.read(batch.solution, as_version=4))

    table, imported = batch.grade(monkeypatch)

    assert batch.markers_that_ran("a_forger") == set(attacks.FORGE_THE_PROBE)
    assert sum(_scores(table, "a_forger", A2).values()) == 0, table.loc["a_forger"].to_dict()
    _assert_honest(table, batch, ["b_honest"])
    assert not imported, sorted(imported)
    batch.check_nothing_left()


def test_a3_probes_and_models_that_lie_or_cost(require_sandbox, generated, tmp_path, monkeypatch):
    keys = [*attacks.A3_LIARS, *attacks.A3_COSTLY_MODEL]
    batch = Batch(A3, keys, generated, tmp_path, monkeypatch)
    student = nbformat.read(batch.student, as_version=4)
    batch.add("a_liar", _plant(student, [], [batch.source(s) for s in attacks.A3_LIARS.values()]))
    student = nbformat.read(batch.student, as_version=4)
    batch.add("b_costly_model", _plant(student, [], [batch.source(s) for s in attacks.A3_COSTLY_MODEL.values()]))
    batch.add("c_honest", nbformat.read(batch.solution, as_version=4))

    table, imported = batch.grade(monkeypatch)

    assert batch.markers_that_ran("a_liar") == set(attacks.A3_LIARS)
    assert batch.markers_that_ran("b_costly_model") == set(attacks.A3_COSTLY_MODEL)
    liar = _scores(table, "a_liar", A3)
    assert liar["q2"] == 0 and liar["q3"] == 0 and sum(liar.values()) == 0, table.loc["a_liar"].to_dict()
    assert sum(_scores(table, "b_costly_model", A3).values()) == 0
    assert "should contain the course backbone" in batch.feedback("a_liar")
    assert "layers; a transfer model here is the backbone" in batch.feedback("b_costly_model")
    assert table.loc["b_costly_model", "seconds"] < SUBMISSION_TIME_LIMIT
    _assert_honest(table, batch, ["c_honest"])
    assert not imported, sorted(imported)
    batch.check_nothing_left()
