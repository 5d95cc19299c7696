"""course_lib.sandbox and course_lib.judge: a submission's code answers by data only, within limits."""

import time

import nbformat
import numpy as np
import pytest

from course_lib.judge import notebook_cells
from course_lib.sandbox import (
    Opaque,
    SubmissionDied,
    SubmissionProcess,
    TimeLimitExceeded,
    WireError,
    decode,
    encode,
    remote_exception,
)


def test_data_round_trips_with_its_types():
    value = {
        ("kernel", (3, 3)): np.arange(9.0).reshape(3, 3),
        "items": [1, 2.5, None, True, "text", (1, 2)],
        "scalars": (np.float32(1.5), np.int64(7)),
        "special": [float("nan"), float("inf")],
    }
    back = decode(encode(value))
    np.testing.assert_array_equal(back["kernel", (3, 3)], value["kernel", (3, 3)])
    assert back["items"] == value["items"] and type(back["items"][5]) is tuple
    assert type(back["scalars"][0]) is np.float32 and back["scalars"][1] == 7
    assert np.isnan(back["special"][0]) and back["special"][1] == float("inf")
    generator = decode(encode(np.random.default_rng(3)))
    assert generator.integers(1000) == np.random.default_rng(3).integers(1000)


def test_anything_but_data_is_refused_or_opaque():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    class LyingInt(int):
        def __eq__(self, other):
            return True

    with pytest.raises(WireError, match="cannot be sent as data"):
        encode(AlwaysEqual())
    for liar in (AlwaysEqual(), LyingInt(3), np.array([object()], dtype=object)):
        stand_in = decode(encode(liar, strict=False))
        assert isinstance(stand_in, Opaque) and stand_in != 3 and not (stand_in == stand_in)
    # An array subclass crosses as a plain ndarray: its comparisons are NumPy's again.
    class LyingArray(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(other), dtype=bool)

    plain = decode(encode(np.zeros(2).view(LyingArray)))
    assert type(plain) is np.ndarray and not (plain == np.ones(2)).any()
    # Pickled object arrays and unknown tags are refused when decoding.
    with pytest.raises(WireError):
        decode({"__pickle__": "gASV"})
    with pytest.raises(WireError):
        decode({"__ref__": "x"})  # a name in the submission: meaningless to the judge


def test_errors_keep_their_builtin_type_and_message():
    error = remote_exception("ValueError", "k must be at most 3")
    assert type(error) is ValueError and str(error) == "k must be at most 3"
    custom = remote_exception("MyError", "boom")
    assert type(custom).__name__ == "MyError" and not isinstance(custom, ValueError)


def test_a_submission_process_runs_cells_and_answers_calls():
    with SubmissionProcess() as process:
        assert process.run_cell("import numpy as np\ndef double(x):\n    return 2 * x") is None
        assert process.run_cell("1 / 0") == ("ZeroDivisionError", "division by zero")
        assert process.call("double", (np.arange(3),), {}).tolist() == [0, 2, 4]
        with pytest.raises(TypeError, match="unsupported operand"):
            process.call("double", (None,), {})
        process.run_cell("class Liar:\n    def __eq__(self, other):\n        return True\nliar = Liar()\nlimit = 3")
        found = process.describe(["double", "liar", "limit", "missing"])
        assert found["double"][0] == "callable" and found["missing"][0] == "missing"
        assert found["limit"] == ("value", 3) and isinstance(found["liar"][1], Opaque)


def test_a_call_that_never_ends_is_killed_at_its_time_limit():
    with SubmissionProcess() as process:
        process.run_cell("import os, time\ndef forever():\n    if os.fork() == 0:\n        time.sleep(1000)\n    while True:\n        pass")
        start = time.monotonic()
        with pytest.raises(TimeLimitExceeded):
            process.call("forever", (), {}, timeout=2)
        assert time.monotonic() - start < 10 and not process.alive
        with pytest.raises(SubmissionDied):
            process.call("forever", (), {}, timeout=2)


def test_a_process_that_exits_is_reported():
    with SubmissionProcess() as process:
        with pytest.raises(SubmissionDied):
            process.run_cell("import os\nos._exit(3)", timeout=30)


def test_grader_calls_are_left_out_of_the_cells():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## q1 · A question"),
        nbformat.v4.new_code_cell("def f():\n    return 1\n\ngrader.check(\"q1\")"),
        nbformat.v4.new_code_cell("grader.export(pdf=False)"),
        nbformat.v4.new_code_cell("def broken(:"),
    ])
    assert notebook_cells(notebook) == ["def f():\n    return 1\n", "", "def broken(:"]


def test_an_object_whose_repr_never_returns_does_not_stop_the_grading(tmp_path):
    from course_lib.judge import Judge

    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "q1.py").write_text(
        "from otter.test_files import test_case\n\nOK_FORMAT = False\n\nname = 'q1'\npoints = 1\n\n"
        "@test_case(points=None, hidden=False)\ndef test_double(double, liar):\n    assert double(2) == 4\n"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "def double(x):\n    return 2 * x\n\nclass Liar:\n    def __repr__(self):\n        while True:\n            pass\n\nliar = Liar()"
    )])
    path = tmp_path / "submission.ipynb"
    nbformat.write(notebook, path)
    result = Judge(tests, time_limit=5).grade(path)
    assert result.scores == {"q1": (1.0, 1.0)} and not result.notes  # the stand-in never calls __repr__
    assert result.seconds < 30
