"""Grades a notebook without running any of its code in the grading process.

otter-grader runs an assignment's tests in the student's own interpreter, so a
submission can replace the checkers, NumPy's comparisons or the builtins before
the tests run. The `Judge` keeps otter's test files and its scoring, but runs
them in a clean process:

1. the submission's code cells run in a `course_lib.grading.sandbox.SubmissionProcess`
   (a child process in bubblewrap's OS sandbox, with time, memory, disk and
   process limits);
2. each test case runs here, in the judge's process, on the judge's inputs and
   references; where it calls a student's function it holds a `Remote`, which
   sends the arguments to the child as data and gets the result back as data;
3. the judge scores with otter's rules: a question's points split evenly over
   its test cases, public and hidden.

Each question has a time limit for its calls; a question that runs out scores
0 for its remaining test cases, the child is killed (with every process it
started) and restarted for the next question. A cell that runs out is skipped,
so only the questions that need it lose their points. A submission as a whole
has a time limit (its cells, restarts and questions together), a cap on its
cells and one on its restarts; when one ends the grading, the questions not
yet graded score 0 and the notes say which limit it was.

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

from course_lib._optional import import_optional
from course_lib.grading.sandbox import (
    PRELOADED,
    SubmissionDied,
    SubmissionProcess,
    TimeLimitExceeded,
    WireError,
    check_sandbox,
)

__all__ = ["Judge", "GradingResult", "CaseResult", "Remote", "BudgetExceeded", "notebook_cells", "read_submission"]

MAX_NOTEBOOK_BYTES = 50 << 20
# Seconds a submission's process may take to load its libraries (within the submission's own limit).
STARTUP_LIMIT = 120.0

nbformat = import_optional("nbformat", "the grader (course_lib.grading.judge)")


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
        cases: `{question: [CaseResult, ...]}`, every test case's result.
    """

    scores: dict
    outputs: dict
    notes: list
    seconds: float
    cases: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class CaseResult:
    """One test case's result: its name, whether it is hidden, passed, its message and points."""

    name: str
    hidden: bool
    passed: bool
    message: str
    points: float


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

    Arguments and results cross as data (see `course_lib.grading.sandbox`). An error
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


def read_submission(path, with_bytes=False):
    """The notebook in a submission: an `.ipynb`, or the one notebook inside an otter export zip.

    With `with_bytes`, also returns the notebook's file as bytes (what the
    sandbox copies into its private folder).
    """
    path = Path(path)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if m.filename.endswith(".ipynb") and "/" not in m.filename]
            if len(members) != 1:
                raise ValueError(f"{path.name}: expected one notebook at the top of the zip, found {len(members)}.")
            if members[0].file_size > MAX_NOTEBOOK_BYTES:
                raise ValueError(f"{path.name}: the notebook is larger than {MAX_NOTEBOOK_BYTES >> 20} MB.")
            data = archive.read(members[0])
    else:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"{path.name}: the notebook is larger than {MAX_NOTEBOOK_BYTES >> 20} MB.")
        data = path.read_bytes()
    notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    return (notebook, data) if with_bytes else notebook


class BudgetExceeded(Exception):
    """The submission used up one of its budgets (its time, its restarts); the message says which."""


class _Session:
    """One submission being graded: its notebook, its sandboxed process, its budgets."""

    def __init__(self, cells, cell_questions, judge, submission_bytes):
        self.judge = judge
        self.notes = []
        if len(cells) > judge.max_cells:
            self.notes.append(f"the notebook has {len(cells)} code cells; only the first {judge.max_cells} "
                              f"(the limit on cells) were run")
            cells, cell_questions = cells[: judge.max_cells], cell_questions[: judge.max_cells]
        self.cells, self.cell_questions = cells, cell_questions
        self.submission_bytes = submission_bytes
        self.time_limit = judge.time_limit
        self.deadline = time.monotonic() + judge.submission_time_limit
        self.skipped = set()  # cells that ran out of time: never run again
        self.starts = 0
        self.over = None  # the budget that ended the grading, once one has
        self.process = None
        self.budget = _Budget(judge.time_limit)

    def _left(self, limit):
        """Seconds a request may take: `limit`, within what is left of the submission's time."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            self._end(f"the submission's time limit of {self.judge.submission_time_limit:g} s (cells, restarts and "
                      "questions together) ran out")
        return min(limit, left)

    def _end(self, reason):
        if self.over is None:
            self.over = reason
        raise BudgetExceeded(self.over)

    def start(self):
        """A fresh child that has run every cell (except those that ran out of time before)."""
        if self.over is not None:
            raise BudgetExceeded(self.over)
        while True:
            self.starts += 1
            if self.starts > self.judge.max_restarts + 1:
                self._end(f"the notebook's process was restarted {self.judge.max_restarts} times (the limit on restarts)")
            j = self.judge
            self.process = SubmissionProcess(
                self.submission_bytes, isolation=j.isolation, memory_limit=j.memory_limit,
                disk_limit=j.disk_limit, max_processes=j.max_processes, hide=j.hide, preload=PRELOADED,
            )
            try:  # loading the libraries counts in the submission's time, not in its first cell's
                self.process.wait_ready(self._left(STARTUP_LIMIT))
            except (TimeLimitExceeded, SubmissionDied, WireError):
                self.process.close()
                self._left(STARTUP_LIMIT)
                self._end(f"the notebook's process did not start within {STARTUP_LIMIT:g} s")
            for index, source in enumerate(self.cells):
                if index in self.skipped:
                    continue
                try:
                    self.process.run_cell(source, timeout=self._left(self.time_limit))
                except TimeLimitExceeded:
                    self.process.close()
                    self._left(self.time_limit)  # ends here if the submission's own time ran out
                    self.skipped.add(index)
                    where = f" ({self.cell_questions[index]})" if self.cell_questions[index] else ""
                    self.notes.append(f"code cell {index + 1}{where} did not finish within {self.time_limit:g} s "
                                      "(the time limit per cell) and was skipped")
                    break
                except (SubmissionDied, WireError):
                    self.process.close()
                    self.skipped.add(index)
                    self.notes.append(f"the notebook's process ended in code cell {index + 1}; the cell was skipped")
                    break
                except BudgetExceeded:
                    self.process.close()
                    raise
            else:
                return

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
            return getattr(self.process, method)(*args, timeout=self._left(max(self.budget.left(), 0.0)))
        except TimeLimitExceeded:
            self._left(self.time_limit)  # the submission's own time, if that is what ran out
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
        found = self.process.describe(sorted(names), timeout=self._left(self.time_limit))
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
        submission_time_limit: seconds one submission may take in all: its
            cells, the restarts of its process and every question (default
            `10 * time_limit`). When they run out, the questions not yet graded
            score 0.
        isolation: True (default) runs each submission in bubblewrap's OS
            sandbox (`course_lib.grading.sandbox.bwrap_command`) and raises
            `SandboxUnavailable` when it cannot; False runs it as a plain child
            process, for development machines only.
        memory_limit: the submission process's address-space limit in bytes (default 8 GiB).
        disk_limit: the size of the sandbox's writable tmpfs in bytes (default 512 MiB).
        max_processes: how many processes and threads a submission may run (default 256).
        max_cells: how many code cells run (default 300); later cells are left out.
        max_restarts: how many times a submission's process is restarted (after a
            cell or a call ran out of time or the process ended) before the
            remaining questions score 0 (default 4).
        hide: folders the sandbox must mask should they lie inside the Python
            environment or the course (the batch, the output, the autograder).

    The test files, every module they import and every module their checks
    use (`JUDGE_IMPORTS` of the checks' modules) are loaded when the judge is
    made, before any submission runs: a submission that rewrites files on disk
    cannot change the tests or the code the judge already holds.
    """

    def __init__(self, tests_dir, time_limit=60.0, submission_time_limit=None, isolation=True, memory_limit=8 << 30,
                 disk_limit=512 << 20, max_processes=256, max_cells=300, max_restarts=4, hide=()):
        ExceptionTestFile = import_optional("otter.test_files", "the grader").ExceptionTestFile

        if not time_limit > 0:
            raise ValueError(f"`time_limit` must be a positive number of seconds; received time_limit={time_limit!r}.")
        if submission_time_limit is None:
            submission_time_limit = 10 * float(time_limit)
        if not submission_time_limit >= time_limit:
            raise ValueError("`submission_time_limit` must be at least `time_limit`; received "
                             f"submission_time_limit={submission_time_limit!r}, time_limit={time_limit!r}.")
        self.time_limit, self.memory_limit = float(time_limit), int(memory_limit)
        self.submission_time_limit = float(submission_time_limit)
        self.isolation, self.disk_limit, self.max_processes = bool(isolation), int(disk_limit), int(max_processes)
        self.max_cells, self.max_restarts, self.hide = int(max_cells), int(max_restarts), tuple(map(str, hide))
        if self.isolation:
            check_sandbox()
        paths = sorted(Path(tests_dir).glob("q*.py"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
        if not paths:
            raise FileNotFoundError(f"no test files (q*.py) in {tests_dir}")
        self.test_files = []
        for path in paths:
            source = path.read_text()
            for module in sorted(_imports(source)):
                _import_with_its_judge_imports(module)
            self.test_files.append(ExceptionTestFile.from_string(source, path=str(path)))
        for module in JUDGE_MODULES:
            importlib.import_module(module)
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
        notebook, data = read_submission(submission, with_bytes=True)
        session = _Session(notebook_cells(notebook), _question_of_cells(notebook), self, data)
        scores, outputs, cases = {}, {}, {}
        try:
            env = {}
            try:
                session.start()
                env = session.environment(self.names)
            except BudgetExceeded:
                pass
            except (TimeLimitExceeded, SubmissionDied, WireError):  # e.g. a __repr__ that never returns
                session.notes.append("the notebook's names could not be read within the time limit")
            for test_file in self.test_files:
                session.budget = _Budget(self.time_limit)
                if session.over is None:
                    test_file.run(env)
                else:  # never the results the test file still holds from the last submission
                    test_file.test_case_results = [_not_run(case, session.over) for case in test_file.test_cases]
                scores[test_file.name] = (float(test_file.score), float(test_file.possible))  # otter's rules
                failed = [result.message for result in test_file.test_case_results if not result.passed]
                outputs[test_file.name] = failed[0] if failed else ""
                cases[test_file.name] = [
                    CaseResult(_case_name(r.test_case), bool(r.test_case.hidden), bool(r.passed), str(r.message),
                               float(r.test_case.points or 0))
                    for r in test_file.test_case_results
                ]
                if session.budget.exceeded:
                    session.notes.append(f"{test_file.name}: its calls did not finish within {self.time_limit:g} s "
                                         "(the time limit per question)")
        finally:
            session.close()
        if session.over is not None:
            ungraded = [q for q, results in cases.items() if all(r.message.startswith(_NOT_RUN) for r in results)]
            session.notes.append(f"{session.over}: grading ended" + (f"; {', '.join(ungraded)} scored 0" if ungraded else ""))
        return GradingResult(scores, outputs, session.notes, time.monotonic() - start, cases)


_NOT_RUN = "not run: "


def _case_name(case):
    """A test case's name: its test function's (`test_output_size_hidden`), else otter's (`q1 - 2`)."""
    function = getattr(getattr(case, "body", None), "test_func", None)
    return getattr(function, "__name__", None) or str(case.name)


def _not_run(case, reason):
    TestCaseResult = import_optional("otter.test_files.abstract_test", "the grader").TestCaseResult

    return TestCaseResult(test_case=case, message=f"{_NOT_RUN}{reason}", passed=False)


def _import_with_its_judge_imports(name):
    module = importlib.import_module(name)
    for other in getattr(module, "JUDGE_IMPORTS", ()):
        importlib.import_module(other)
    warm_up = getattr(module, "judge_warm_up", None)
    if callable(warm_up) and name not in _WARMED_UP:
        warm_up()
        _WARMED_UP.add(name)


_WARMED_UP = set()


# What the judge itself uses while grading, beyond what the test files import.
JUDGE_MODULES = ("otter.test_files.abstract_test", "otter.test_files.exception_test", "nbformat", "zipfile", "hashlib")
