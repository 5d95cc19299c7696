"""The committed notebooks: in sync with their sources, executed, clean, listed.

The sources (notebooks/src/*.py, jupytext percent format) are the truth;
`make notebooks` executes them into the committed .ipynb files. The concept map
(notebooks/concepts.csv) names, for each concept of the lecture notes, a section
heading of a source: renaming or removing that heading fails a test here.
"""

import csv
import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted((NOTEBOOKS / "src").glob("[0-9][0-9]_*.py"))
EXECUTED = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
MAX_NOTEBOOK_BYTES = 2_500_000

spec = importlib.util.spec_from_file_location("course_notebooks", ROOT / "scripts" / "notebooks.py")
tool = importlib.util.module_from_spec(spec)
sys.modules["course_notebooks"] = tool
spec.loader.exec_module(tool)

# What must never appear in committed outputs: absolute paths and user folders.
PRIVATE = re.compile(r"(/home/|/Users/|/root/|/work/|/tmp/|[A-Z]:\\\\|site-packages)")


def _ids(paths):
    return [p.stem for p in paths]


def test_every_source_has_an_executed_notebook_and_vice_versa():
    assert SOURCES, "no notebook sources found"
    assert _ids(SOURCES) == _ids(EXECUTED)


@pytest.mark.parametrize("source", SOURCES, ids=_ids(SOURCES))
def test_executed_notebook_matches_its_source(source):
    committed = nbformat.read(NOTEBOOKS / f"{source.stem}.ipynb", as_version=4)
    expected = tool.read_source(source)
    assert tool.code_cells(committed) == tool.code_cells(expected), (
        f"{source.stem}.ipynb differs from its source: run `make notebooks NB={source.stem}`"
    )


@pytest.mark.parametrize("path", EXECUTED, ids=_ids(EXECUTED))
def test_notebook_hygiene(path):
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES, "notebook too large: shrink its figures"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"] == tool.KERNELSPEC
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {path.stem[:2]} ")
    assert "Learning objectives" in first.source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == tool.setup_cell(notebook=path.stem), (
        "setup cell differs from its template: run `python scripts/notebooks.py setup-cells`")
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "cells not executed once, in order"
    assert sum(len(c.outputs) for c in code) > 0, "notebook committed without outputs"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## Summary" in markdown and "## Exercises" in markdown
    for cell in code:
        if "NBVAL_SKIP" in cell.source:
            assert not re.search(r"\bassert\b|\.fit\(", cell.source), "NBVAL_SKIP on a checking cell"
        for output in cell.outputs:
            assert output.output_type != "error", f"error output in {cell.id}"
            text = str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
            text += str(output.get("data", {}).get("text/html", ""))
            assert not PRIVATE.search(text), f"private path in output of {cell.id}: {text[:200]}"
            assert "Traceback" not in text


def test_course_map_lists_every_notebook_and_readme_is_current():
    with open(NOTEBOOKS / "course_map.csv", newline="") as f:
        listed = [row["notebook"] for row in csv.DictReader(f)]
    assert listed == _ids(SOURCES)
    readme = (ROOT / "README.md").read_text()
    assert tool.render_course_map() in readme, "README course map is stale: run `make course-map`"


def test_set_repo_writes_badges_and_keeps_sources_in_sync(tmp_path, monkeypatch):
    import shutil

    for name in ("notebooks", "README.md", "pyproject.toml", "benchmarks"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    for attr, value in {
        "ROOT": tmp_path,
        "NOTEBOOKS": tmp_path / "notebooks",
        "SOURCES": tmp_path / "notebooks" / "src",
        "COURSE_MAP": tmp_path / "notebooks" / "course_map.csv",
        "BENCH_CSV": tmp_path / "benchmarks" / "notebooks.csv",
        "README": tmp_path / "README.md",
        "PYPROJECT": tmp_path / "pyproject.toml",
    }.items():
        monkeypatch.setattr(tool, attr, value)
    with pytest.raises(SystemExit, match="OWNER/REPO"):
        tool.set_repo("not a url")
    url = "https://github.com/example/cnn-course"
    tool.set_repo(url + ".git")
    tool.set_repo(url)  # idempotent: one badge, one URL
    assert tool.repository_url() == url
    readme = (tmp_path / "README.md").read_text()
    for source in sorted((tmp_path / "notebooks" / "src").glob("*.py")):
        colab = tool.colab_url(url, source.stem)
        assert f"({colab})" in readme
        committed = nbformat.read(tmp_path / "notebooks" / f"{source.stem}.ipynb", as_version=4)
        assert tool.code_cells(committed) == tool.code_cells(tool.read_source(source))
        assert committed.cells[0].source.count(colab) == 1
        setup = tool.setup_cell(notebook=source.stem)
        assert committed.cells[1].source == setup and setup.count(f"git+{url}") == 1
        _assert_ipython_parses(setup)
    assignments = tmp_path / "notebooks" / "assignments"
    for source in sorted(assignments.glob("source/A*.py")):
        setup = tool.setup_cell(source.stem)
        assert setup.count(f"git clone -q --depth 1 {url} course") == 1
        _assert_ipython_parses(setup)
        assert _first_code_cell(tool.read_source(source)) == setup
        student = nbformat.read(assignments / "student" / source.stem / f"{source.stem}.ipynb", as_version=4)
        assert _first_code_cell(student) == setup


def _assert_ipython_parses(cell):
    """The cell is valid IPython: its `%pip` and `!git` lines turn into Python that parses."""
    import ast

    from IPython.core.inputtransformer2 import TransformerManager

    python = TransformerManager().transform_cell(cell)
    assert "%pip" not in python and "get_ipython()" in python
    ast.parse(python)


def _first_code_cell(nb):
    return next(c.source for c in nb.cells if c.cell_type == "code")


def test_every_setup_cell_is_the_template():
    """Notebooks and assignments (sources, executed copies, student versions) start with the template."""
    targets = tool.setup_cell_targets()
    assert len(targets) == 2 * (len(SOURCES) + 3)
    for path, kind, assignment in targets:
        nb = tool.read_source(path) if kind == "source" else nbformat.read(path, as_version=4)
        assert _first_code_cell(nb) == tool.setup_cell(assignment, notebook=path.stem), (
            f"{path.relative_to(ROOT)}: setup cell differs from scripts/setup_cell.py; "
            "run `python scripts/notebooks.py setup-cells`"
        )
    assert len(tool.setup_cell().splitlines()) <= 8


def test_prose_copies_markdown_and_refuses_code_changes(tmp_path, monkeypatch):
    import shutil

    notebooks = tmp_path / "notebooks"
    (notebooks / "src").mkdir(parents=True)
    stem = SOURCES[0].stem
    shutil.copy(SOURCES[0], notebooks / "src" / SOURCES[0].name)
    shutil.copy(NOTEBOOKS / f"{stem}.ipynb", notebooks / f"{stem}.ipynb")
    monkeypatch.setattr(tool, "NOTEBOOKS", notebooks)
    monkeypatch.setattr(tool, "SOURCES", notebooks / "src")
    source = notebooks / "src" / SOURCES[0].name
    text = source.read_text()
    assert "## Summary" in text
    source.write_text(text.replace("## Summary", "## Summary\n#\n# A sentence added.", 1))
    assert tool.copy_prose([stem]) == [stem]
    committed = nbformat.read(notebooks / f"{stem}.ipynb", as_version=4)
    assert tool.code_cells(committed) == tool.code_cells(tool.read_source(source))
    assert sum(len(c.outputs) for c in committed.cells if c.cell_type == "code") > 0
    assert tool.copy_prose([stem]) == []  # nothing left to copy
    source.write_text(source.read_text() + "\n# %%\nprint('a new code cell')\n")
    with pytest.raises(SystemExit, match="build"):
        tool.copy_prose([stem])


def test_concept_map_names_existing_sections_and_questions():
    rows = tool.read_concept_map()
    assert len(rows) >= 40, "the concept map lists every concept of the lecture notes"
    assert tool.concept_map_problems() == []
    stems = set(_ids(SOURCES))
    for row in rows:
        if row["notebook"]:
            assert row["notebook"] in stems
            assert row["section"] in tool.notebook_headings(row["notebook"])
    questions = {name: tool.assignment_questions(path) for name, path in tool.assignment_sources().items()}
    assert questions and all(questions.values()), "no otter questions found in the assignments"
    for row in rows:
        if row["assignment"]:
            name, question = row["assignment"].split(" ")
            assert question in questions[name], row["assignment"]


def test_readme_concept_map_is_current():
    readme = (ROOT / "README.md").read_text()
    table = tool.render_concept_map()
    assert table in readme, "README concept map is stale: run `make course-map`"
    assert table.count("\n| ") == len(tool.read_concept_map()) + 2  # header, separator, one line a row


def test_notebook_headings_lists_every_markdown_heading_in_order():
    headings = tool.notebook_headings("02_convolution")
    assert headings[:2] == ["02 · Convolution", "1. Correlation and convolution"]
    assert "3. Padding: valid, same, full" in headings
    assert headings[-2:] == ["Summary", "Exercises"]


def test_concept_map_fails_when_a_section_disappears(tmp_path, monkeypatch):
    import shutil

    rows = tool.read_concept_map()
    row = next(r for r in rows if r["notebook"] and r["assignment"])
    sources = tmp_path / "src"
    shutil.copytree(NOTEBOOKS / "src", sources)
    monkeypatch.setattr(tool, "SOURCES", sources)
    assert tool.concept_map_problems() == []
    path = sources / f"{row['notebook']}.py"
    text = path.read_text()
    heading = re.compile(r"^# #+ " + re.escape(row["section"]) + "$", re.MULTILINE)
    assert len(heading.findall(text)) == 1
    path.write_text(heading.sub(lambda m: m.group(0).replace(row["section"], "A renamed section"), text))
    problems = tool.concept_map_problems()
    named = [r for r in rows if (r["notebook"], r["section"]) == (row["notebook"], row["section"])]
    assert len(problems) == len(named) > 0
    assert all(row["notebook"] in p and repr(row["section"]) in p for p in problems)
    assert any(repr(row["concept"]) in p for p in problems)
    # The same heading moved into a comment of a code cell does not count.
    cell = f"# %% [markdown]\n{heading.search(text).group(0)}\n"
    assert cell in text
    path.write_text(text.replace(cell, f"# %%\n{heading.search(text).group(0)}\n# %% [markdown]\n", 1))
    assert len(tool.concept_map_problems()) == len(named)
    # A notebook that disappears, and an assignment question that does not exist.
    path.unlink()
    assert all("no notebook source" in p for p in tool.concept_map_problems())
    broken = [dict(r) for r in rows]
    broken[0]["assignment"] = "A1 q99"
    broken[1]["assignment"] = "A9 q1"
    broken[2]["assignment"] = "question 1"
    broken[3]["section"] = ""
    monkeypatch.setattr(tool, "SOURCES", NOTEBOOKS / "src")
    problems = tool.concept_map_problems(broken)
    assert len(problems) == 4
    assert "no question 'q99'" in problems[0] and "no assignment A9" in problems[1]
    assert "not like 'A1 q2'" in problems[2] and "both a notebook and a section" in problems[3]


def test_a_diagrams_alt_text_reaches_its_cells_metadata():
    nb = nbformat.v4.new_notebook()
    shown = nbformat.v4.new_code_cell("diagrams.show(fig)")
    shown.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"},
                                            metadata={"image/png": {"alt": "Three 3x3 convolutions"}})]
    plain = nbformat.v4.new_code_cell("plt.show()")
    plain.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"})]
    nb.cells = [shown, plain, nbformat.v4.new_markdown_cell("text")]
    tool.copy_alt_text(nb)
    assert shown.metadata["mystnb"] == {"image": {"alt": "Three 3x3 convolutions"}}
    assert "mystnb" not in plain.metadata


def test_every_executed_diagram_carries_its_alt_text():
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "diagrams.show(" in cell.source:
                assert cell.metadata.get("mystnb", {}).get("image", {}).get("alt"), (path.name, cell.source[:80])
