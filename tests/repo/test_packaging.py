"""The package installs from a wheel, and what it lacks outside a clone says so.

A wheel is built from a copy of the working tree (so that nothing is written into
the clone) and installed without its dependencies into a folder outside the clone
(`pip install --no-deps --target`). The environment running the tests then runs
course_lib from that folder (first on PYTHONPATH), from another folder: as a
student's `pip install` would, with no `data/` beside the package.

- The pre-trained backbone's weights are package data: `load_backbone()` works.
- The zoo's recorded runs and the speedrun's ablation live in the repository's
  `data/`, not in the package: `zoo.recorded()`, `zoo.load()` and
  `speedrun.load_ablation()` say where they come from instead of returning an
  empty list or naming a script the wheel does not carry.
- An optional package that is missing (hidden from the import system) gives a
  message that names the extra to install, `pip install "cnn-course[widgets]"`.
- Every extra that course_lib names exists in pyproject.toml, lists the
  package, and is pinned by the locks; no module imports an optional package
  except through `course_lib._optional.import_optional`.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from course_lib import _optional

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "course_lib" / "weights"
# The distribution of each optional top-level module of course_lib._optional.EXTRAS.
DISTRIBUTIONS = {"ipywidgets": "ipywidgets", "nbformat": "nbformat", "otter": "otter-grader", "psutil": "psutil",
                 "IPython": "ipython", "jax": "jax", "torch": "torch"}
# Packages whose absence is plausible in an install of the course: imported only through import_optional.
# (jax and torch are imported only on their own Keras backend, which cannot run without them.)
GUARDED = ("ipywidgets", "nbformat", "otter", "psutil", "IPython")
# Modules of other work in progress that still import an optional package directly: xfail(strict), so that
# the test fails as soon as they switch to import_optional and this list must shrink.
PENDING = set()

PRELUDE = """
import json, sys
for hidden in {hidden!r}:
    sys.modules[hidden] = None  # as if the package were not installed: import raises ModuleNotFoundError
def attempt(call):
    try:
        result = call()
    except Exception as error:
        return {{"error": type(error).__name__, "message": str(error)}}
    return {{"result": repr(result)}}
"""


def _run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`(wheel, folder)`: the wheel built from the working tree, installed into `folder` outside the clone."""
    tmp_path = tmp_path_factory.mktemp("packaging")
    source = tmp_path / "source"
    shutil.copytree(ROOT / "course_lib", source / "course_lib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "--no-index", "-w", str(dist), str(source)])
    (wheel,) = dist.glob("cnn_course-*.whl")
    target = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheel)])
    return wheel, target


def _outside(installed, script, hidden=()):
    """Runs `script` with the installed course_lib first on the path, from a folder outside the clone.

    Returns the JSON object the script's last line prints.
    """
    _, target = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(target)
    env.setdefault("KERAS_BACKEND", "tensorflow")
    code = PRELUDE.format(hidden=list(hidden)) + script
    return json.loads(_run([sys.executable, "-c", code], cwd=target.parent, env=env).splitlines()[-1])


@pytest.fixture(scope="module")
def outside_report(installed):
    """What the installed package does outside the clone: one process (Keras loads once)."""
    return _outside(installed, """
import course_lib
from course_lib import pretrained, speedrun, zoo
classifier = pretrained.load_backbone(include_top=True)
features = pretrained.load_backbone()
print(json.dumps({
    "course_lib": course_lib.__file__,
    "weights_dir": str(pretrained.weights_dir()),
    "parameters": classifier.count_params(),
    "features_shape": list(features.output_shape),
    "recorded": attempt(zoo.recorded),
    "records": attempt(zoo.records),
    "load": attempt(lambda: zoo.load("resnet20")),
    "ablation": attempt(speedrun.load_ablation),
}))
""")


def test_wheel_installs_the_backbone_weights_and_loads_them_outside_the_clone(installed, outside_report):
    wheel, target = installed
    report = outside_report
    committed = sorted(p.name for p in WEIGHTS.iterdir() if p.is_file())
    with zipfile.ZipFile(wheel) as archive:
        packaged = sorted(Path(n).name for n in archive.namelist() if n.startswith("course_lib/weights/"))
    assert packaged == committed, f"wheel has {packaged}; course_lib/weights/ has {committed}"
    installed_at = Path(report["course_lib"]).resolve()
    assert installed_at.is_relative_to(target.resolve()), report
    assert not installed_at.is_relative_to(ROOT), report
    assert Path(report["weights_dir"]).resolve().is_relative_to(target.resolve()), report
    record = json.loads((WEIGHTS / "backbone_cifar5.json").read_text())
    assert report["parameters"] == record["parameters"], (report, record)
    assert len(report["features_shape"]) == 4 and report["features_shape"][0] is None, report


def test_recorded_runs_outside_a_clone_say_where_they_come_from(outside_report):
    report = outside_report
    assert not Path(report["course_lib"]).resolve().is_relative_to(ROOT), report
    for key in ("recorded", "records", "load"):
        outcome = report[key]
        assert outcome.get("error") == "FileNotFoundError", (key, outcome)  # never [] or an empty table
        assert "data/zoo/" in outcome["message"] and "clone the course repository" in outcome["message"], outcome
    assert report["ablation"].get("error") == "FileNotFoundError", report["ablation"]
    assert "data/speedrun/" in report["ablation"]["message"], report["ablation"]
    assert "clone the course repository" in report["ablation"]["message"], report["ablation"]


def test_a_missing_optional_package_names_the_extra_to_install(installed):
    report = _outside(installed, """
from course_lib import widgets
from course_lib._optional import import_optional
print(json.dumps({
    "convolution": attempt(widgets.ConvolutionExplorer),
    "field": attempt(widgets.ReceptiveFieldExplorer),
    "step": attempt(lambda: widgets.convolution_step(widgets.default_image(), "sobel_x").output_shape),
    "nbformat": attempt(lambda: import_optional("nbformat", "grading")),
}))
""", hidden=("ipywidgets", "nbformat"))
    for key, extra in (("convolution", "widgets"), ("field", "widgets"), ("nbformat", "grading")):
        outcome = report[key]
        assert outcome.get("error") == "ModuleNotFoundError", (key, outcome)
        assert f'pip install "cnn-course[{extra}]"' in outcome["message"], outcome
    assert "result" in report["step"], report["step"]  # the pure functions need no ipywidgets


def _pyproject():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _locked_311():
    pins = {}
    for name in ("lab.lock", "test.lock"):
        for line in (ROOT / "requirements" / name).read_text().splitlines():
            if line.strip() and not line.startswith(("#", "-")):
                requirement = Requirement(line)
                pins[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return pins


def test_every_extra_course_lib_names_exists_and_is_locked():
    project = _pyproject()
    assert project["name"] == _optional.DISTRIBUTION
    pins = _locked_311()
    for module, extra in _optional.EXTRAS.items():
        assert extra in project["optional-dependencies"], f"course_lib names the extra {extra!r}; pyproject has none"
        requirements = {canonicalize_name(Requirement(r).name): Requirement(r)
                        for r in project["optional-dependencies"][extra]}
        distribution = canonicalize_name(DISTRIBUTIONS[module])
        assert distribution in requirements, f"the {extra!r} extra does not install {distribution} ({module})"
        assert distribution in pins, f"{distribution} is not pinned in requirements/*.lock"
        assert requirements[distribution].specifier.contains(pins[distribution], prereleases=True), (
            f"{distribution}=={pins[distribution]} is outside the {extra!r} extra's {requirements[distribution].specifier}"
        )


def _direct_optional_imports(path):
    """`(line, module)` of each import statement of a guarded optional package in the file at `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in GUARDED]
    return found


MODULES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "course_lib").rglob("*.py"))


@pytest.mark.parametrize("module", [
    pytest.param(m, marks=pytest.mark.xfail(strict=True, reason="imports an optional package directly (in progress)"))
    if m in PENDING else m
    for m in MODULES
])
def test_optional_packages_are_imported_through_import_optional(module):
    direct = _direct_optional_imports(ROOT / module)
    assert not direct, (
        f"{module} imports {direct} directly: use course_lib._optional.import_optional, so that a missing "
        "package names the extra that installs it"
    )
