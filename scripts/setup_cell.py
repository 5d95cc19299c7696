"""The first code cell of every notebook and assignment, rendered from one template.

Locally, `course_lib` is installed (`make lab`) and the cell only calls
`setup_notebook`. In a fresh Google Colab runtime it is missing: the cell then
adds Keras (Colab brings TensorFlow and the scientific stack) and the course
package from its public repository, without its dependencies, so that Colab's
own TensorFlow stays. An assignment also clones the repository for the public
tests that sit next to its student version, and adds otter-grader.

Until `make set-repo URL=...` has written the public repository into
pyproject.toml, the Colab branch cannot install anything; it then says so.

`scripts/notebooks.py setup-cells` (and `set-repo`) write the rendering into the
notebooks' sources and executed copies, the assignments' sources and their
student versions; tests/repo/test_notebooks.py checks that every first code
cell equals it.
"""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
NOTEBOOK_SEED = 42
ASSIGNMENT_SEED = 0
# Notebooks that need a Keras backend or a device count of their own: environment variables
# that must be set before Keras (or JAX) is imported, so in the setup cell, before anything else.
NOTEBOOK_ENVIRONMENT = {
    "24_training_on_several_devices": [
        ('os.environ["KERAS_BACKEND"] = "jax"', "keras.distribution runs on JAX in Keras 3.15"),
        ('os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"', "4 virtual CPU devices"),
    ],
}


def _requirement(name, pyproject):
    """The requirement string of `name` in pyproject.toml, e.g. "keras>=3.15,<3.16"."""
    project = pyproject["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    for requirement in requirements:
        if re.match(rf"{re.escape(name)}\s*[<>=!~]", requirement):
            return requirement.split(";")[0].strip()
    raise LookupError(f"pyproject.toml does not list {name!r}")


def render(assignment=None, pyproject_path=PYPROJECT, notebook=None):
    """The setup cell's source: of a notebook (named `notebook`), or of the assignment named `assignment`."""
    pyproject = tomllib.loads(Path(pyproject_path).read_text())
    repository = pyproject["tool"]["course"]["repository"]
    keras = _requirement("keras", pyproject)
    lines = ["# Setup: works locally and in Google Colab."]
    environment = NOTEBOOK_ENVIRONMENT.get(notebook, []) if assignment is None else []
    if environment:
        lines += ["import os", *(f"{line}  # {why}" for line, why in environment)]
    if assignment is not None:
        lines.append(f'ASSIGNMENT = "{assignment}"')
    lines += ["try:", "    import course_lib"]
    if not repository:
        lines += [
            "except ModuleNotFoundError:  # the public repository is not known yet: no Colab install",
            '    raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")',
        ]
    elif assignment is None:
        lines += [
            "except ModuleNotFoundError:  # a fresh Colab runtime: add Keras and the course",
            f'    %pip install -q "{keras}"',
            f'    %pip install -q --no-deps "cnn-course @ git+{repository}"',
        ]
    else:
        otter = _requirement("otter-grader", pyproject)
        lines += [
            "except ModuleNotFoundError:  # a fresh Colab runtime: the course, its public tests, Keras, otter",
            f"    !git clone -q --depth 1 {repository} course && cp -r course/notebooks/assignments/student/$ASSIGNMENT/tests .",
            f'    %pip install -q "{keras}" "{otter}"',
            "    %pip install -q --no-deps ./course",
        ]
    if assignment is None:
        lines += ["from course_lib.runtime import setup_notebook", f"info = setup_notebook(seed={NOTEBOOK_SEED})"]
    else:
        lines += [
            "import otter",
            "from course_lib.runtime import setup_notebook",
            f"info = setup_notebook(seed={ASSIGNMENT_SEED})",
            'grader = otter.Notebook(f"{ASSIGNMENT}.ipynb")',
        ]
    return "\n".join(lines)
