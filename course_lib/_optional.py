"""Optional dependencies, imported when a feature needs them, with the extra that installs them named.

`pip install cnn-course` installs what every notebook needs (Keras, TensorFlow,
NumPy, ...). A few features need more, declared as extras in pyproject.toml:
the widgets need `ipywidgets` (`cnn-course[widgets]`), the grading tools
`nbformat`, `otter-grader` and `psutil` (`cnn-course[grading]`), what displays
in a notebook IPython (`cnn-course[lab]`, Jupyter), the other Keras backends
JAX or PyTorch (`cnn-course[jax]`, `cnn-course[torch]`).
`import_optional` imports such a module, or raises a `ModuleNotFoundError`
that says which extra to install, instead of a bare "No module named ...".

tests/repo/test_packaging.py checks that every extra named in `EXTRAS` exists
in pyproject.toml and lists the package, and that `DISTRIBUTION` is the
project's name there.
"""

import importlib

__all__ = ["DISTRIBUTION", "EXTRAS", "import_optional", "install_hint"]

# The distribution's name on PyPI and in pyproject.toml (`import course_lib` installs as this).
DISTRIBUTION = "cnn-course"

# Top-level module -> the extra of pyproject.toml that installs it.
EXTRAS = {
    "ipywidgets": "widgets",
    "nbformat": "grading",
    "otter": "grading",
    "psutil": "grading",
    "IPython": "lab",
    "jax": "jax",
    "torch": "torch",
}


def install_hint(extra):
    """How to install `extra`, for an error message.

    Example:

    >>> install_hint("widgets")
    'pip install "cnn-course[widgets]" (in a clone of the course, `make lab` installs it)'
    """
    if extra not in set(EXTRAS.values()):
        raise ValueError(f"`extra` must be one of {sorted(set(EXTRAS.values()))}; received extra={extra!r}.")
    target = "make test" if extra in ("jax", "torch") else "make lab"  # what installs it in a clone
    return f'pip install "{DISTRIBUTION}[{extra}]" (in a clone of the course, `{target}` installs it)'


def import_optional(module, purpose=None):
    """Imports `module`, or raises a ModuleNotFoundError naming the extra that installs it.

    Args:
        module: a module name whose top-level package is a key of `EXTRAS`
            (e.g. "ipywidgets" or "otter.test_files").
        purpose: what needs it, for the message (e.g. "ConvolutionExplorer").

    Returns:
        The module.

    Raises:
        ModuleNotFoundError: the package is not installed; the message names
            the extra (`pip install "cnn-course[widgets]"`). A module that is
            installed but fails to import raises its own error unchanged.

    Example:

    >>> import_optional("nbformat").__name__
    'nbformat'
    """
    top = module.split(".")[0]
    if top not in EXTRAS:
        raise ValueError(
            f"`module` must be a module of an optional package {sorted(EXTRAS)}; received module={module!r}."
        )
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] != top:
            raise  # the package is there; one of its own dependencies is missing
        raise ModuleNotFoundError(
            f"{purpose or module} needs the optional package {top!r}, which is not installed. "
            f"Install it with: {install_hint(EXTRAS[top])}.",
            name=top,
        ) from error
