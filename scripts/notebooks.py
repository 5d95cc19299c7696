"""Builds, benchmarks and publishes the course notebooks.

The source of truth of each notebook is a jupytext percent-format file,
`notebooks/src/NN_name.py`. This script turns it into the executed
`notebooks/NN_name.ipynb` that readers see on GitHub and Colab.

Usage (from the repository root, inside the course's environment):

    python scripts/notebooks.py build [NAME ...]   # execute sources -> .ipynb, record timings
    python scripts/notebooks.py prose [NAME ...]   # copy edited Markdown into the .ipynb, no run
    python scripts/notebooks.py course-map         # rewrite the README's course and concept maps
    python scripts/notebooks.py set-repo URL       # set the public repository, write Colab badges
    python scripts/notebooks.py setup-cells        # rewrite every first code cell from its template

`build` with no names builds every notebook; it records each notebook's
wall-clock time and peak memory in `benchmarks/notebooks.csv` and the table in
`benchmarks/notebooks.md` (this is `make bench`). `prose` is for a change of
Markdown only (a typo, a note, an exercise): it copies the Markdown cells of
each source into its executed notebook and keeps the outputs, and refuses when
any code cell differs, since that needs `build`.

`course-map` also rewrites the README's concept map from `notebooks/concepts.csv`
(each concept of the lecture notes, the notebook section that teaches it and the
assignment question that grades it), and fails, listing them, when a row names a
notebook, a section heading or a question that does not exist.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOURCES = NOTEBOOKS / "src"
COURSE_MAP = NOTEBOOKS / "course_map.csv"
CONCEPTS = NOTEBOOKS / "concepts.csv"
BENCH_CSV = ROOT / "benchmarks" / "notebooks.csv"
BENCH_MD = ROOT / "benchmarks" / "notebooks.md"
README = ROOT / "README.md"
PYPROJECT = ROOT / "pyproject.toml"

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CELL_TIMEOUT_S = 600
MAP_START, MAP_END = "<!-- course-map:start -->", "<!-- course-map:end -->"
CONCEPTS_START, CONCEPTS_END = "<!-- concept-map:start -->", "<!-- concept-map:end -->"
CONCEPT_FIELDS = ["concept", "lecture", "notebook", "section", "assignment"]
HEADING = re.compile(r"^#{1,6}\s+(.*\S)\s*$")
ASSIGNMENT_REF = re.compile(r"^(A\d+) (\S+)$")
QUESTION = re.compile(r"^# # BEGIN QUESTION\n(?:#.*\n)*?# name:\s*(\S+)", re.MULTILINE)
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
REPO_URL = re.compile(r"^https://github\.com/[\w.-]+/[\w.-]+$")


# ---------------------------------------------------------------------------
# Reading and writing notebooks


def source_paths(names=()):
    """The jupytext sources to build: all of them, or those named."""
    paths = sorted(SOURCES.glob("[0-9][0-9]_*.py"))
    if not names:
        return paths
    chosen = []
    for name in names:
        stem = Path(name).stem
        matches = [p for p in paths if p.stem == stem or p.stem.startswith(stem + "_")]
        if len(matches) != 1:
            raise SystemExit(f"no single notebook source matches {name!r} in {SOURCES}")
        chosen.append(matches[0])
    return chosen


def read_source(path):
    """Reads a jupytext source into a notebook with stable ids and metadata."""
    import jupytext

    nb = jupytext.read(path, fmt="py:percent")
    nb.metadata = {"kernelspec": dict(KERNELSPEC)}
    for index, cell in enumerate(nb.cells):
        # Stable ids keep diffs of re-executed notebooks small.
        cell.id = f"cell-{index:03d}"
        cell.metadata.pop("lines_to_next_cell", None)
    return nb


def code_cells(nb):
    """`(cell_type, source)` of every cell: what must match between source and .ipynb."""
    return [(cell.cell_type, cell.source) for cell in nb.cells]


# ---------------------------------------------------------------------------
# Executing


def copy_alt_text(nb):
    """Gives each cell that shows a diagram its alt text, for the website.

    `course_lib.diagrams.show` puts a diagram's alt text in its output's
    metadata (`{"image/png": {"alt": ...}}`); MyST-NB reads it from the
    cell's (`{"mystnb": {"image": {"alt": ...}}}`).
    """
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            alt = output.get("metadata", {}).get("image/png", {}).get("alt")
            if alt:
                cell.metadata["mystnb"] = {"image": {"alt": alt}}


def _execute(source, target):
    """Executes one source into `target` (runs in its own process, see build)."""
    import nbformat
    from jupyter_client import KernelManager
    from nbclient import NotebookClient

    nb = read_source(source)
    km = KernelManager(kernel_name="python3")
    # Always this environment's Python, whatever kernelspecs the user has, and
    # keep TensorFlow's C++ start-up lines (written to the process's stderr)
    # out of the notebook: nbval's kernel does not capture them either.
    km.kernel_spec.argv = [
        sys.executable,
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
        "--IPKernelApp.capture_fd_output=False",
    ]
    client = NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT_S,
        record_timing=False,
        # A widget's state only renders through JavaScript from a CDN: GitHub, nbviewer
        # and the course's offline site show the static figure beside it instead.
        store_widget_state=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    copy_alt_text(nb)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python", "version": platform.python_version()}
    tmp = target.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, target)
    return seconds


def copy_prose(names=()):
    """Copies the Markdown cells of sources into their executed notebooks, outputs kept.

    Args:
        names: notebooks (default: all).

    Returns:
        The stems of the notebooks that changed.

    Raises:
        SystemExit: a notebook's code cells differ from its source's (or the
            cells are not the same sequence of Markdown and code): run `build`.
    """
    import nbformat

    def layout(nb):
        return [(c.cell_type, c.source if c.cell_type == "code" else None) for c in nb.cells]

    changed = []
    for source in source_paths(names):
        target = NOTEBOOKS / f"{source.stem}.ipynb"
        nb = nbformat.read(target, as_version=4)
        expected = read_source(source)
        if layout(nb) != layout(expected):
            raise SystemExit(
                f"{source.stem}: the code cells changed, not only the prose; "
                f"run `python scripts/notebooks.py build {source.stem}`"
            )
        edits = 0
        for cell, new in zip(nb.cells, expected.cells):
            if cell.cell_type == "markdown" and cell.source != new.source:
                cell.source = new.source
                edits += 1
        if edits:
            tmp = target.with_suffix(".ipynb.tmp")
            nbformat.write(nb, tmp)
            os.replace(tmp, target)
            changed.append(source.stem)
        print(f"{source.stem}: {edits} Markdown cell(s) updated")
    return changed


class PeakMemory:
    """Samples the resident memory of this process's children (the kernel).

    `ru_maxrss` of children only counts processes that were waited for, which
    Jupyter's kernel is not always, so the kernel is sampled every 50 ms.
    """

    def __init__(self, interval=0.05):
        import threading

        self.interval, self.peak_bytes = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self):
        return self.peak_bytes / 2**20


def machine_description():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}"


def build(names):
    """Executes sources into committed notebooks and records their cost."""
    env = dict(os.environ)
    env.setdefault("KERAS_BACKEND", "tensorflow")
    if env["KERAS_BACKEND"] != "tensorflow":
        raise SystemExit("the notebooks are built on the TensorFlow backend; unset KERAS_BACKEND")
    rows = _read_bench()
    failed = []
    for source in source_paths(names):
        target = NOTEBOOKS / f"{source.stem}.ipynb"
        print(f"executing {source.relative_to(ROOT)} ...", flush=True)
        # One process per notebook, so that its peak memory is the kernel's own.
        result = subprocess.run(
            [sys.executable, __file__, "_execute", str(source), str(target)],
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            print(result.stdout + result.stderr, file=sys.stderr)
            failed.append(source.stem)
            continue
        measured = json.loads(result.stdout.strip().splitlines()[-1])
        rows[source.stem] = {
            "notebook": source.stem,
            "seconds": f"{measured['seconds']:.1f}",
            "peak_mib": f"{measured['peak_mib']:.0f}",
            "machine": machine_description(),
            "date": datetime.date.today().isoformat(),
        }
        print(f"  {measured['seconds']:.1f} s, peak {measured['peak_mib']:.0f} MiB", flush=True)
    _write_bench(rows)
    write_course_map()
    if failed:
        raise SystemExit(f"failed to execute: {', '.join(failed)}")


def _read_bench():
    if not BENCH_CSV.exists():
        return {}
    with open(BENCH_CSV, newline="") as f:
        return {row["notebook"]: row for row in csv.DictReader(f)}


def _write_bench(rows):
    BENCH_CSV.parent.mkdir(exist_ok=True)
    fields = ["notebook", "seconds", "peak_mib", "machine", "date"]
    ordered = [rows[k] for k in sorted(rows)]
    with open(BENCH_CSV, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(ordered)
    lines = [
        "# Notebook execution budget",
        "",
        "Written by `make bench` (`python scripts/notebooks.py build`): wall-clock time",
        "of executing each notebook from its source, and the kernel's peak resident",
        "memory. Budget: about 3 minutes per notebook on a 2-core CPU.",
        "",
        "| notebook | seconds | peak memory (MiB) | machine | date |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    lines += [
        f"| {r['notebook']} | {r['seconds']} | {r['peak_mib']} | {r['machine']} | {r['date']} |"
        for r in ordered
    ]
    BENCH_MD.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------
# README course map, repository URL and Colab badges


def repository_url():
    """The public repository URL from pyproject.toml's [tool.course], or ''."""
    import tomllib

    with open(PYPROJECT, "rb") as f:
        return tomllib.load(f)["tool"]["course"]["repository"]


def colab_url(repo, notebook_stem):
    path = repo.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{path}/blob/main/notebooks/{notebook_stem}.ipynb"


def read_course_map():
    with open(COURSE_MAP, newline="") as f:
        return list(csv.DictReader(f))


def render_course_map():
    repo = repository_url()
    bench = _read_bench()
    lines = [
        MAP_START,
        "| # | notebook | part | concept | CPU runtime (2 cores) |",
        "| --- | --- | --- | --- | ---: |",
    ]
    for row in read_course_map():
        stem = row["notebook"]
        link = f"[{stem}](notebooks/{stem}.ipynb)"
        if repo:
            link += f" {BADGE}({colab_url(repo, stem)})"
        seconds = bench.get(stem, {}).get("seconds")
        runtime = f"{float(seconds):.0f} s" if seconds else "not measured"
        lines.append(f"| {stem[:2]} | {link} | {row['part']} | {row['concept']} | {runtime} |")
    lines.append(MAP_END)
    return "\n".join(lines)


def write_course_map():
    """Rewrites the README's course map and concept map, between their markers."""
    text = README.read_text()
    for first, last, render in (
        (MAP_START, MAP_END, render_course_map),
        (CONCEPTS_START, CONCEPTS_END, render_concept_map),
    ):
        start, end = text.index(first), text.index(last) + len(last)
        text = text[:start] + render() + text[end:]
    README.write_text(text)


# ---------------------------------------------------------------------------
# The concept map: lecture concept -> notebook section -> assignment question


def read_concept_map():
    """The rows of `notebooks/concepts.csv`, in the lecture notes' order, values stripped."""
    with open(CONCEPTS, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != CONCEPT_FIELDS:
            raise SystemExit(f"{CONCEPTS.name}: columns must be {CONCEPT_FIELDS}, got {reader.fieldnames}")
        return [{key: (value or "").strip() for key, value in row.items()} for row in reader]


def notebook_headings(stem):
    """The Markdown headings of a notebook source, without their leading `#`s, in order.

    Only Markdown cells count (not comments in code cells), and not lines inside
    fenced code blocks.
    """
    headings = []
    for cell in read_source(SOURCES / f"{stem}.py").cells:
        if cell.cell_type != "markdown":
            continue
        fenced = False
        for line in cell.source.splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            elif not fenced and (match := HEADING.match(line)):
                headings.append(match.group(1))
    return headings


def assignment_sources():
    """`{"A1": path, ...}`: the instructor source of each assignment."""
    sources = NOTEBOOKS / "assignments" / "source"
    return {path.stem.split("_", 1)[0]: path for path in sorted(sources.glob("A[0-9]*_*.py"))}


def assignment_questions(path):
    """The names of the otter questions (`# name: q1` after `# BEGIN QUESTION`) of a source."""
    return QUESTION.findall(path.read_text())


def concept_map_problems(rows=None):
    """What is wrong with the concept map: one message per problem, empty if none.

    A row must name an existing notebook source and, in `section`, the exact text
    of one of its Markdown headings (or leave both empty: a concept that no
    notebook teaches yet); its `assignment`, if any, must be `A<n> <question>`
    with a question of that assignment.

    Args:
        rows: the rows to check (default: `read_concept_map()`).
    """
    rows = read_concept_map() if rows is None else rows
    assignments = assignment_sources()
    headings, questions, problems = {}, {}, []
    for number, row in enumerate(rows, start=1):
        where = f"{CONCEPTS.name} row {number} ({row['concept']!r})"
        stem, section = row["notebook"], row["section"]
        if not row["concept"] or not row["lecture"]:
            problems.append(f"{where}: concept and lecture must not be empty")
        if bool(stem) != bool(section):
            problems.append(f"{where}: give both a notebook and a section, or neither")
        elif stem:
            if not (SOURCES / f"{stem}.py").exists():
                problems.append(f"{where}: no notebook source {stem}.py")
            else:
                if stem not in headings:
                    headings[stem] = notebook_headings(stem)
                if section not in headings[stem]:
                    problems.append(f"{where}: {stem} has no heading {section!r}")
        if row["assignment"]:
            match = ASSIGNMENT_REF.match(row["assignment"])
            if not match:
                problems.append(f"{where}: assignment {row['assignment']!r} is not like 'A1 q2'")
            elif match.group(1) not in assignments:
                problems.append(f"{where}: no assignment {match.group(1)}")
            else:
                name, question = match.groups()
                if name not in questions:
                    questions[name] = assignment_questions(assignments[name])
                if question not in questions[name]:
                    problems.append(f"{where}: {assignments[name].stem} has no question {question!r}")
    return problems


def _table_cell(text):
    return text.replace("|", "\\|")


def render_concept_map():
    """The concept map as a Markdown table between its README markers."""
    assignments = assignment_sources()
    lines = [
        CONCEPTS_START,
        "| # | lecture concept | in the notes | notebook section | assignment |",
        "| ---: | --- | --- | --- | --- |",
    ]
    for number, row in enumerate(read_concept_map(), start=1):
        stem = row["notebook"]
        taught = "not taught yet"
        if stem:
            taught = f"[{stem}](notebooks/{stem}.ipynb): {_table_cell(row['section'])}"
        graded = row["assignment"]
        match = ASSIGNMENT_REF.match(graded)
        if match and match.group(1) in assignments:
            name = assignments[match.group(1)].stem
            graded = f"[{graded}](notebooks/assignments/student/{name}/{name}.ipynb)"
        cells = [str(number), _table_cell(row["concept"]), _table_cell(row["lecture"]), taught, graded]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(CONCEPTS_END)
    return "\n".join(lines)


def _with_badge(lines, badge, prefix=""):
    """`lines` of a first markdown cell with the Colab badge set after the title."""
    lines = [line for line in lines if not line.startswith(prefix + BADGE)]
    title = next(i for i, line in enumerate(lines) if line.startswith(prefix + "# "))
    return lines[: title + 1] + [prefix + badge] + lines[title + 1 :]


def _replace_first_code_cell(nb, source):
    """Sets the source of `nb`'s first code cell; returns whether it changed."""
    first = next(c for c in nb.cells if c.cell_type == "code")
    changed = first.source != source
    first.source = source
    return changed


def setup_cell(assignment=None, notebook=None):
    """The setup cell of the notebook named `notebook`, or of `assignment`, rendered by scripts/setup_cell.py.

    Most notebooks share one cell; a notebook listed in the template's
    `NOTEBOOK_ENVIRONMENT` sets its environment variables first.
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location("setup_cell", Path(__file__).with_name("setup_cell.py"))
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    return template.render(assignment, pyproject_path=PYPROJECT, notebook=notebook)


def setup_cell_targets():
    """`(path, kind, assignment)` of every file that holds a setup cell.

    `kind` is "source" (jupytext percent) or "ipynb"; `assignment` is the
    assignment's name, or None for a course notebook.
    """
    targets = []
    for source in source_paths():
        targets.append((source, "source", None))
        targets.append((NOTEBOOKS / f"{source.stem}.ipynb", "ipynb", None))
    assignments = NOTEBOOKS / "assignments"
    for source in sorted(assignments.glob("source/A*.py")):
        targets.append((source, "source", source.stem))
        targets.append((assignments / "student" / source.stem / f"{source.stem}.ipynb", "ipynb", source.stem))
    return [target for target in targets if target[0].exists()]


def write_setup_cells():
    """Writes the setup cell of `scripts/setup_cell.py` into every notebook and assignment.

    The executed notebooks keep their outputs: the cell's output (the line
    `setup_notebook` prints) does not depend on how the course was installed.
    """
    import jupytext
    import nbformat

    for path, kind, assignment in setup_cell_targets():
        cell = setup_cell(assignment, notebook=path.stem)
        if kind == "source":
            nb = jupytext.read(path, fmt="py:percent")
            if _replace_first_code_cell(nb, cell):
                path.write_text(jupytext.writes(nb, fmt="py:percent"))
        else:
            nb = nbformat.read(path, as_version=4)
            if _replace_first_code_cell(nb, cell):
                nbformat.write(nb, path)


def set_repo(url):
    """Writes the repository URL into pyproject.toml, every notebook and the README.

    Sources and executed notebooks get the same edits (the Colab badge under
    the title, the setup cell rendered with the repository), so they stay in
    sync without re-executing anything.
    """
    import nbformat

    url = url.rstrip("/").removesuffix(".git")
    if not REPO_URL.match(url):
        raise SystemExit(f"URL must look like https://github.com/OWNER/REPO; got {url!r}")
    text = PYPROJECT.read_text()
    PYPROJECT.write_text(re.sub(r'^repository = ".*"$', f'repository = "{url}"', text, flags=re.M))
    for source in source_paths():
        badge = f"{BADGE}({colab_url(url, source.stem)})"
        # The .py source: the first markdown cell is the first "# %% [markdown]" block.
        lines = source.read_text().split("\n")
        start = lines.index("# %% [markdown]") + 1
        end = next(i for i in range(start, len(lines)) if lines[i].startswith("# %%"))
        lines[start:end] = _with_badge(lines[start:end], badge, prefix="# ")
        source.write_text("\n".join(lines))
        target = NOTEBOOKS / f"{source.stem}.ipynb"
        if target.exists():
            nb = nbformat.read(target, as_version=4)
            first = next(c for c in nb.cells if c.cell_type == "markdown")
            first.source = "\n".join(_with_badge(first.source.split("\n"), badge))
            nbformat.write(nb, target)
    write_setup_cells()
    write_course_map()
    print(f"repository set to {url}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="execute sources into .ipynb files")
    build_parser.add_argument("names", nargs="*", help="notebooks to build (default: all)")
    prose_parser = commands.add_parser("prose", help="copy edited Markdown into the .ipynb (no execution)")
    prose_parser.add_argument("names", nargs="*", help="notebooks (default: all)")
    commands.add_parser("course-map", help="rewrite the README's course and concept maps, check the latter")
    repo_parser = commands.add_parser("set-repo", help="set the public repository URL")
    repo_parser.add_argument("url")
    commands.add_parser("setup-cells", help="rewrite every first code cell from scripts/setup_cell.py")
    execute_parser = commands.add_parser("_execute")
    execute_parser.add_argument("source", type=Path)
    execute_parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.names)
    elif args.command == "prose":
        copy_prose(args.names)
    elif args.command == "course-map":
        write_course_map()
        problems = concept_map_problems()
        if problems:
            raise SystemExit("the concept map names what does not exist:\n" + "\n".join(problems))
    elif args.command == "set-repo":
        set_repo(args.url)
    elif args.command == "setup-cells":
        write_setup_cells()
    elif args.command == "_execute":
        with PeakMemory() as memory:
            seconds = _execute(args.source, args.target)
        print(json.dumps({"seconds": seconds, "peak_mib": memory.peak_mib}))


if __name__ == "__main__":
    main()
