"""course_lib's public API is explicit: every public module declares `__all__`.

- Every module of course_lib whose name does not start with "_" (package
  `__init__.py` files included) has `__all__`: a list of unique strings,
  each a name the module has.
- Every public function or class a module defines itself is in its `__all__`,
  so that a new helper is either listed or named with a leading "_".
- Every `from course_lib.X import name` of the notebooks, the solutions and
  the scripts imports a name in X's `__all__`, or a submodule of X.

The modules are only imported, never run: `course_lib.distributed.worker`
imports Keras inside its functions (a worker picks its backend first), so
importing it here starts no worker. A module that needs an optional extra that
is not installed (`course_lib._optional.EXTRAS`) is skipped.
"""

import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

from course_lib import _optional

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "course_lib"


def _module_names():
    """The dotted names of course_lib's public modules, packages included, from the files."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts):
            continue
        names.append(".".join(parts))
    return names


MODULES = _module_names()


def _import(name):
    """Imports module `name`, or skips the test if it needs an optional extra that is not installed."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing in _optional.EXTRAS:
            pytest.skip(f"{name} needs {missing!r} (the {_optional.EXTRAS[missing]!r} extra), not installed")
        raise


def test_the_modules_are_found():
    # A guard for the parametrisations below: a wrong path would make them test nothing.
    assert len(MODULES) > 40, MODULES
    assert {"course_lib", "course_lib.models", "course_lib.grading.checks.a1", "course_lib.data"} <= set(MODULES)
    assert not any(part.startswith("_") for name in MODULES for part in name.split(".")), MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_declares_all_as_a_list_of_unique_names_it_has(name):
    module = _import(name)
    assert "__all__" in vars(module), f"{name} does not declare `__all__`"
    public = module.__all__
    assert isinstance(public, list), f"{name}.__all__ is a {type(public).__name__}, not a list"
    assert all(isinstance(item, str) for item in public), f"{name}.__all__ holds non-strings: {public}"
    repeated = sorted({item for item in public if public.count(item) > 1})
    assert not repeated, f"{name}.__all__ lists {repeated} more than once"
    absent = [item for item in public if not hasattr(module, item)]
    assert not absent, f"{name}.__all__ lists names the module does not have: {absent}"


@pytest.mark.parametrize("name", MODULES)
def test_every_public_function_and_class_defined_in_a_module_is_in_its_all(name):
    module = _import(name)
    public = set(getattr(module, "__all__", ()))
    defined = [
        attribute for attribute, value in vars(module).items()
        if not attribute.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", None) == name
    ]
    missing = [attribute for attribute in defined if attribute not in public]
    assert not missing, (f"{name} defines public {missing} but its `__all__` does not list them: "
                         "add them to `__all__`, or prefix them with '_' if they are internal")


# `from course_lib.X import a, b as c` on one line (backslash continuations allowed) or in parentheses.
IMPORT = re.compile(
    r"^[ \t]*from[ \t]+(course_lib(?:\.\w+)*)[ \t]+import[ \t]+(\([^)]*\)|(?:\\\n|[^\n])*)",
    re.MULTILINE,
)


def _imported_names(text):
    """`(line, module, name)` of every name a `from course_lib... import ...` statement in `text` imports."""
    found = []
    for match in IMPORT.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        clause = "\n".join(part.partition("#")[0] for part in match.group(2).splitlines())
        clause = clause.replace("\\", " ").strip().removeprefix("(").removesuffix(")")
        for item in clause.split(","):
            words = item.split()
            if words:
                found.append((line, match.group(1), words[0]))
    return found


def test_the_import_parser_reads_aliases_comments_and_parentheses():
    text = ("from course_lib.ops import conv2d_forward, output_size as size  # a comment\n"
            "    from course_lib import (\n        data,  # the datasets\n        viz as V,\n    )\n"
            "# from course_lib.zoo import load\n"
            "from course_lib.tta import \\\n    predict_tta\n")
    assert _imported_names(text) == [
        (1, "course_lib.ops", "conv2d_forward"), (1, "course_lib.ops", "output_size"),
        (2, "course_lib", "data"), (2, "course_lib", "viz"), (7, "course_lib.tta", "predict_tta"),
    ]


def _course_files():
    return [*sorted((ROOT / "notebooks" / "src").glob("*.py")),
            *sorted((ROOT / "notebooks" / "solutions").glob("*.md")),
            *sorted((ROOT / "scripts").rglob("*.py"))]


def test_notebooks_solutions_and_scripts_import_only_public_names():
    problems, count = [], 0
    for path in _course_files():
        for line, module_name, name in _imported_names(path.read_text()):
            count += 1
            if any(part.startswith("_") for part in module_name.split(".")):
                continue  # a private module (the scripts may use one): it has no `__all__`
            module = _import(module_name)
            if name in getattr(module, "__all__", ()):
                continue
            if hasattr(module, "__path__") and importlib.util.find_spec(f"{module_name}.{name}") is not None:
                continue  # a submodule
            problems.append(f"{path.relative_to(ROOT)}:{line}: `from {module_name} import {name}`: "
                            f"{name!r} is not in {module_name}.__all__")
    assert count > 100, f"only {count} course_lib imports found: the parser or the paths are wrong"
    assert not problems, "names imported from course_lib but not in its `__all__`:\n" + "\n".join(problems)
