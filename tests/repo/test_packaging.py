"""The package installs from a wheel, the pre-trained backbone's weights with it.

A wheel is built from a copy of the working tree (so that nothing is written into
the clone), installed without its dependencies into a fresh virtual environment
outside the clone, and `course_lib.pretrained.load_backbone()` runs there from
another folder. The dependencies (TensorFlow, Keras, ...) are not downloaded again:
a `.pth` file puts the running environment's site-packages after the fresh one's.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "course_lib" / "weights"

LOAD = """
import json, course_lib
from course_lib import pretrained
classifier = pretrained.load_backbone(include_top=True)
features = pretrained.load_backbone()
print(json.dumps({
    "course_lib": course_lib.__file__,
    "weights_dir": str(pretrained.weights_dir()),
    "parameters": classifier.count_params(),
    "features_shape": list(features.output_shape),
}))
"""


def _run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _build_wheel(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT / "course_lib", source / "course_lib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "--no-index", "-w", str(dist), str(source)])
    (wheel,) = dist.glob("cnn_course-*.whl")
    return wheel


def _fresh_venv(folder):
    _run([sys.executable, "-m", "venv", str(folder)])
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).strip()
    # The running environment's packages, after the fresh environment's own.
    ours = dict.fromkeys(sysconfig.get_path(key) for key in ("purelib", "platlib"))
    (Path(purelib) / "course_dependencies.pth").write_text("\n".join(ours) + "\n")
    return python


def test_wheel_installs_the_backbone_weights_and_loads_them_outside_the_clone(tmp_path):
    wheel = _build_wheel(tmp_path)
    committed = sorted(p.name for p in WEIGHTS.iterdir() if p.is_file())
    with zipfile.ZipFile(wheel) as archive:
        packaged = sorted(Path(n).name for n in archive.namelist() if n.startswith("course_lib/weights/"))
    assert packaged == committed, f"wheel has {packaged}; course_lib/weights/ has {committed}"

    venv = tmp_path / "venv"
    python = _fresh_venv(venv)
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    report = json.loads(_run([str(python), "-c", LOAD], cwd=tmp_path, env=env).splitlines()[-1])

    installed = Path(report["course_lib"]).resolve()
    assert installed.is_relative_to(venv.resolve()), report
    assert not installed.is_relative_to(ROOT), report
    assert Path(report["weights_dir"]).resolve().is_relative_to(venv.resolve()), report
    record = json.loads((WEIGHTS / "backbone_cifar5.json").read_text())
    assert report["parameters"] == record["parameters"], (report, record)
    assert len(report["features_shape"]) == 4 and report["features_shape"][0] is None, report
