"""course_lib.grading.sandbox and course_lib.grading.judge: a submission's code answers by data only, within limits."""

import os
import time

import nbformat
import numpy as np
import pytest

from course_lib.grading.judge import notebook_cells
from course_lib.grading.sandbox import (
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
    from course_lib.grading.judge import Judge

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


# ---------------------------------------------------------------------------
# The OS sandbox (bubblewrap): what a submission sees, and its limits.

def _sandbox_uid_processes():
    from pathlib import Path

    from course_lib.grading.sandbox import SANDBOX_UID

    return [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _uid(p) == SANDBOX_UID]


def _uid(path):
    try:
        return path.stat().st_uid
    except OSError:
        return None


def test_the_sandbox_sees_its_own_copy_and_nothing_of_the_judge(tmp_path):
    import os
    from pathlib import Path

    import course_lib

    repo = Path(course_lib.__file__).resolve().parents[1]
    secret = tmp_path / "batch" / "classmate.ipynb"
    secret.parent.mkdir()
    secret.write_text("{}")
    probe = (
        "import os, socket, sys\n"
        "seen = dict(uid=os.getuid(), pid=os.getpid(), processes=sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),\n"
        "            isolated=sys.flags.isolated, cwd=os.getcwd(), copy=open('submission.ipynb').read(),\n"
        "            hostname=socket.gethostname())\n"
        f"seen['visible'] = [p for p in ({str(secret)!r}, {str(repo / 'build')!r}, {str(repo / 'tests')!r}, {str(repo / 'scripts')!r},\n"
        f"                   {os.getcwd()!r} + '/README.md', '/home') if os.path.exists(p)]\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
        "    seen['network'] = 'open'\n"
        "except OSError as error:\n"
        "    seen['network'] = type(error).__name__\n"
        "try:\n"
        f"    open({str(Path(course_lib.__file__).parent / 'planted.py')!r}, 'w')\n"
        "    seen['course'] = 'writable'\n"
        "except OSError as error:\n"
        "    seen['course'] = type(error).__name__\n"
    )
    with SubmissionProcess(b"the submission") as process:
        assert process.run_cell(probe) is None
        seen = process.describe(["seen"])["seen"][1]
    assert seen["uid"] != 0 and seen["uid"] != os.getuid()
    assert seen["pid"] == 2 and seen["processes"] == [1, 2]  # its own PID namespace: bubblewrap's init and itself
    assert seen["isolated"] == 1 and seen["cwd"] == "/tmp/work" and seen["copy"] == "the submission"
    assert seen["hostname"] == "sandbox" and seen["network"] != "open"
    assert seen["visible"] == [] and seen["course"] in ("OSError", "PermissionError")


def test_the_sandbox_limits_disk_and_processes_and_ends_them_all():
    cell = (
        "import os, time\n"
        "try:\n"
        "    with open('big', 'wb') as file:\n"
        "        for _ in range(64):\n"
        "            file.write(b'0' * (1 << 20))\n"
        "    disk = 'wrote 64 MB'\n"
        "except OSError as error:\n"
        "    disk = f'{error.strerror} after {os.path.getsize(\"big\") >> 20} MB'\n"
        "forks = 0\n"
        "try:\n"
        "    for _ in range(200):\n"
        "        if os.fork() == 0:\n"
        "            os.setsid()\n"
        "            time.sleep(600)\n"
        "            os._exit(0)\n"
        "        forks += 1\n"
        "except OSError:\n"
        "    pass\n"
    )
    with SubmissionProcess(disk_limit=16 << 20, max_processes=24) as process:
        assert process.run_cell(cell, timeout=60) is None
        found = process.describe(["disk", "forks"])
        assert _sandbox_uid_processes()  # the sleepers run, as the sandbox's uid
    assert found["disk"][1].startswith("No space left on device after 1"), found["disk"]
    assert 0 < found["forks"][1] < 24, found["forks"]
    time.sleep(0.5)
    assert _sandbox_uid_processes() == []  # every process it started ended with it


def test_without_bubblewrap_the_judge_refuses_and_says_how_to_install_it(monkeypatch, tmp_path):
    from course_lib.grading import sandbox
    from course_lib.grading.judge import Judge

    monkeypatch.setattr(sandbox, "_bwrap", lambda: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        Judge(tmp_path, time_limit=5)


def test_without_isolation_a_submission_still_runs_in_a_child_process():
    with SubmissionProcess(b"copy", isolation=False) as process:
        cell = "import os, sys\npid = os.getpid()\nisolated = sys.flags.isolated\ncopy = open('submission.ipynb').read()"
        assert process.run_cell(cell) is None
        found = process.describe(["pid", "isolated", "copy"])
    assert found["pid"][1] != os.getpid() and found["isolated"][1] == 1 and found["copy"][1] == "copy"
