"""Grades a notebook without running any of its code in the grading process.

otter-grader runs an assignment's tests in the student's own interpreter, so a
submission can replace the checkers, NumPy's comparisons or the builtins before
the tests run. The `Judge` keeps otter's test files and its scoring, but runs
them in a clean process:

1. the submission's code cells run in a `course_lib.sandbox.SubmissionProcess`
   (a child process with time, memory and file-size limits);
2. each test case runs here, in the judge's process, on the judge's inputs and
   references; where it calls a student's function it holds a `Remote`, which
   sends the arguments to the child as data and gets the result back as data;
3. the judge scores with otter's rules: a question's points split evenly over
   its test cases, public and hidden.

Each question has a time limit for its calls; a question that runs out scores
0 for its remaining test cases, the child is killed (with every process it
started) and restarted for the next question. A cell that runs out is skipped,
so only the questions that need it lose their points.

Example (an instructor's autograder folder, built by `make assignments`):

>>> judge = Judge("build/assignments/A1_convolution_and_pooling/autograder/tests")  # doctest: +SKIP
>>> result = judge.grade("alice.ipynb")                                           # doctest: +SKIP
>>> result.scores["q1"]                                                           # doctest: +SKIP
(2.0, 2.0)
"""

import ast
import dataclasses
import importlib
import inspect
import re
import time
import zipfile
from pathlib import Path

import nbformat

from course_lib.sandbox import SubmissionDied, SubmissionProcess, TimeLimitExceeded, WireError

__all__ = ["Judge", "GradingResult", "Remote", "notebook_cells"]

MAX_NOTEBOOK_BYTES = 50 << 20


@dataclasses.dataclass
class GradingResult:
    """What the judge found in one submission.

    Attributes:
        scores: `{question: (score, possible)}`.
        outputs: `{question: message}`, the first failing test case's message
            ("" when every case passed).
        notes: problems with the submission as a whole (cells that ran out of
            time, a process that died), one line each.
        seconds: wall-clock time to grade it.
    """

    scores: dict
    outputs: dict
    notes: list
    seconds: float


class _Budget:
    """The time a question's calls may still use; shared by its test cases."""

    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.exceeded = False

    def left(self):
        return self.deadline - time.monotonic()


class Remote:
    """A callable defined by the submission, held by name; calling it runs it in the child.

    Arguments and results cross as data (see `course_lib.sandbox`). An error
    raised by the student's code is raised here as the same builtin exception
    type (or one of the same name) with the same message.
    """

    __course_remote__ = True

    def __init__(self, judge_session, name):
        self._session = judge_session
        self.__name__ = name

    def __repr__(self):
        return f"<the submission's {self.__name__}>"

    def __call__(self, *args, **kwargs):
        return self._session.call(self.__name__, args, kwargs)

    def run_probe(self, source, function, args, kwargs):
        return self._session.probe(source, function, args, kwargs)


def notebook_cells(notebook):
    """The code cells' sources of a notebook, with otter's `grader.*` calls left out.

    `grader.check(...)`, `grader.check_all()` and `grader.export(...)` run the
    student's public tests or write files: the judge does not need them. A
    cell that does not parse is kept whole, so it fails as it would in Jupyter.
    """
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = cell.source
        try:
            tree = ast.parse(source)
        except SyntaxError:
            cells.append(source)
            continue
        lines = source.splitlines()
        for node in reversed(tree.body):
            if (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and isinstance(node.value.func.value, ast.Name)
                and node.value.func.value.id == "grader"
            ):
                del lines[node.lineno - 1 : node.end_lineno]
        cells.append("\n".join(lines))
    return cells


def _question_of_cells(notebook):
    """For each code cell, the question (`qN`) whose heading comes before it, or None."""
    questions, current = [], None
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#+\s*(q\d+)\b", cell.source, flags=re.MULTILINE)
            if match:
                current = match.group(1)
        elif cell.cell_type == "code":
            questions.append(current)
    return questions


def read_submission(path):
    """The notebook in a submission: an `.ipynb`, or the one notebook inside an otter export zip."""
    path = Path(path)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if m.filename.endswith(".ipynb") and "/" not in m.filename]
            if len(members) != 1:
                raise ValueError(f"{path.name}: expected one notebook at the top of the zip, found {len(members)}.")
            if members[0].file_size > MAX_NOTEBOOK_BYTES:
                raise ValueError(f"{path.name}: the notebook is larger than {MAX_NOTEBOOK_BYTES >> 20} MB.")
            text = archive.read(members[0]).decode("utf-8")
    else:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"{path.name}: the notebook is larger than {MAX_NOTEBOOK_BYTES >> 20} MB.")
        text = path.read_text(encoding="utf-8")
    return nbformat.reads(text, as_version=4)


class _Session:
    """One submission being graded: its notebook, its child process, the current question's budget."""

    def __init__(self, cells, cell_questions, time_limit, memory_limit):
        self.cells, self.cell_questions = cells, cell_questions
        self.time_limit, self.memory_limit = time_limit, memory_limit
        self.skipped = set()  # cells that ran out of time: never run again
        self.notes = []
        self.process = None
        self.budget = _Budget(time_limit)

    def start(self):
        """A fresh child that has run every cell (except those that ran out of time before)."""
        self.process = SubmissionProcess(memory_limit=self.memory_limit)
        for index, source in enumerate(self.cells):
            if index in self.skipped:
                continue
            try:
                self.process.run_cell(source, timeout=self.time_limit)
            except TimeLimitExceeded:
                self.skipped.add(index)
                where = f" ({self.cell_questions[index]})" if self.cell_questions[index] else ""
                self.notes.append(f"code cell {index + 1}{where} did not finish within {self.time_limit:g} s and was skipped")
                self.process.close()
                return self.start()
            except (SubmissionDied, WireError):
                self.skipped.add(index)
                self.notes.append(f"the notebook's process ended in code cell {index + 1}; the cell was skipped")
                self.process.close()
                return self.start()

    def ensure_started(self):
        if self.process is None or not self.process.alive:
            if self.process is not None:
                self.process.close()
            self.start()

    def _request(self, method, *args):
        if self.budget.exceeded:
            raise TimeLimitExceeded(f"this question already used its {self.budget.seconds:g} s")
        self.ensure_started()
        try:
            return getattr(self.process, method)(*args, timeout=max(self.budget.left(), 0.0))
        except TimeLimitExceeded:
            self.budget.exceeded = True
            raise TimeLimitExceeded(f"the question's calls did not finish within {self.budget.seconds:g} s") from None
        except SubmissionDied:
            raise SubmissionDied("the notebook's process ended during this call") from None

    def call(self, name, args, kwargs):
        return self._request("call", name, args, kwargs)

    def probe(self, source, function, args, kwargs):
        return self._request("probe", source, function, args, kwargs)

    def environment(self, names):
        """{name: value} for the test functions' parameters: a Remote for callables, data for values."""
        self.ensure_started()
        found = self.process.describe(sorted(names), timeout=self.time_limit)
        env = {}
        for name, (kind, value) in found.items():
            if kind == "callable":
                env[name] = Remote(self, name)
            elif kind == "value":
                env[name] = value
        return env

    def close(self):
        if self.process is not None:
            self.process.close()


def _imports(source):
    """Top-level module names that a test file imports (also inside its functions)."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


class Judge:
    """Grades submissions against a folder of otter test files (public and hidden).

    Args:
        tests_dir: the autograder's `tests/` folder (`q1.py`, `q2.py`, ...).
        time_limit: seconds each code cell may run, and each question's calls
            together (default 60).
        memory_limit: the submission process's address-space limit in bytes
            (default 8 GiB).

    The test files, and every module they import, are loaded when the judge
    is made, before any submission runs: a submission that rewrites files on
    disk cannot change the tests the judge already holds.
    """

    def __init__(self, tests_dir, time_limit=60.0, memory_limit=8 << 30):
        from otter.test_files import ExceptionTestFile

        if not time_limit > 0:
            raise ValueError(f"`time_limit` must be a positive number of seconds; received {time_limit!r}.")
        self.time_limit, self.memory_limit = float(time_limit), int(memory_limit)
        paths = sorted(Path(tests_dir).glob("q*.py"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
        if not paths:
            raise FileNotFoundError(f"no test files (q*.py) in {tests_dir}")
        self.test_files = []
        for path in paths:
            source = path.read_text()
            for module in sorted(_imports(source)):
                importlib.import_module(module)
            self.test_files.append(ExceptionTestFile.from_string(source, path=str(path)))
        self.names = {
            parameter
            for test_file in self.test_files
            for case in test_file.test_cases
            # otter passes each test function the globals its parameters name.
            for parameter in inspect.signature(case.body.test_func).parameters
            if parameter != "env"
        }

    def grade(self, submission):
        """Grades one submission (an `.ipynb` or an otter export zip); returns a `GradingResult`."""
        start = time.monotonic()
        notebook = read_submission(submission)
        session = _Session(notebook_cells(notebook), _question_of_cells(notebook), self.time_limit, self.memory_limit)
        scores, outputs = {}, {}
        try:
            session.start()
            try:
                env = session.environment(self.names)
            except (TimeLimitExceeded, SubmissionDied, WireError):  # e.g. a __repr__ that never returns
                session.notes.append("the notebook's names could not be read within the time limit")
                env = {}
            for test_file in self.test_files:
                session.budget = _Budget(self.time_limit)
                test_file.run(env)
                scores[test_file.name] = (float(test_file.score), float(test_file.possible))  # otter's rules
                failed = [result.message for result in test_file.test_case_results if not result.passed]
                outputs[test_file.name] = failed[0] if failed else ""
                if session.budget.exceeded:
                    session.notes.append(f"{test_file.name}: its calls did not finish within {self.time_limit:g} s")
        finally:
            session.close()
        return GradingResult(scores, outputs, session.notes, time.monotonic() - start)
