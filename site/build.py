"""Builds the course as a static website (`make site`): Sphinx, myst-nb, sphinx-book-theme.

    python site/build.py                       stage the sources and build build/site/
    python site/build.py --stage-only          only stage them (build/site-src/)

The committed notebooks are rendered with their stored outputs, never executed.
The sources are staged into build/site-src/, laid out as in the repository
(notebooks/NN_name.ipynb, notebooks/solutions/, notebooks/assignments/student/), so
relative links keep working; only the pages the site needs are generated or copied:

- index.md: the course map, generated from notebooks/course_map.csv, and one page
  per part (parts/<part>.md), each with the toctree of its notebooks;
- setup.md, colab-and-gpu.md, concept-map.md: sections of README.md (cut at their
  headings and at the concept map's markers, nothing re-written by hand);
- every notebooks/NN_name.ipynb, with its Colab badge removed (an image from
  colab.research.google.com: the site has its own Colab button, and loads nothing
  from elsewhere) and widget outputs replaced by a note (their JavaScript comes
  from a CDN, which a static, offline page cannot load);
- the assignments' public pages: notebooks/assignments/README.md and the student
  notebooks. Never notebooks/assignments/source/ (solutions, hidden tests) nor an
  autograder (tests/site/test_site.py checks that none of it reaches the site);
- the exercise solutions (notebooks/solutions/*.md): students' material, public in
  the repository and linked from the notebooks' exercises.

A staged file is rewritten only when its content changes, so Sphinx's incremental
build (environment in build/site-doctrees/) re-reads only what changed; the output
folder is new each time, so no page of an earlier build lingers. Links to
repository files that are not on the site point to the repository on GitHub when
its URL is set (pyproject.toml's [tool.course] repository), else become plain text.

The build is offline: MathJax 3 comes from the sphinx-mathjax-offline wheel (the
files of npm's mathjax 3.2.2) and the theme's fonts and icons ship with it. An
audit hook makes any network connection during the build an error.
"""

import argparse
import csv
import html
import importlib.util
import json
import os
import re
import shutil
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "site"
STAGE = ROOT / "build" / "site-src"
OUT = ROOT / "build" / "site"
DOCTREES = ROOT / "build" / "site-doctrees"
NOTEBOOKS = ROOT / "notebooks"
ASSIGNMENTS = NOTEBOOKS / "assignments"
BRANCH = "main"  # the branch that scripts/notebooks.py's Colab badges point to
REPOSITORY_VARIABLE = "COURSE_SITE_REPOSITORY"  # overrides pyproject.toml's URL (tests)
STATIC = "_static_site"  # staged static files (MathJax), copied into the site's _static/

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# What a widget output becomes: its text (ipywidgets' fallback repr, or the widget's own) in a note
# that sends the reader where the widget works: the notebook run in Jupyter or in Colab.
WIDGET_NOTE = (
    '<div class="admonition note widget-note"><p class="admonition-title">Interactive explorer</p>'
    "<p>{text}</p><p>Run this notebook in Jupyter or Colab to use this explorer.</p></div>"
)
# The end of course_lib's widget text, which the note says in its own words.
WIDGET_KERNEL_REMARK = re.compile(r"\s*\((needs|requires) a (live|running) (Jupyter )?kernel\)\s*$", re.I)
COLAB_BADGE = re.compile(
    r"\s*\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\([^)]*\)"
)
# A Markdown link [text](target) or [text](target "title"), not an image; or a code span, to skip.
LINK = re.compile(r"(`[^`\n]*`)|(?<!!)\[([^\[\]\n]*)\]\(([^)\s]+)(\s+\"[^\"]*\")?\)")
# The parts of MathJax 3 the pages use: the combined TeX/MathML-to-HTML bundle, what it loads
# on demand (TeX extensions, MathML entities, its fonts) and what its menu can switch on
# (a11y/, ui/). Not the other bundles, nor the speech rule engine's maps.
MATHJAX_PARTS = ("tex-mml-chtml.js", "input/tex/extensions", "input/mml", "output/chtml", "ui", "a11y")


def repository():
    """The repository URL: $COURSE_SITE_REPOSITORY if set, else pyproject.toml's (maybe '')."""
    if REPOSITORY_VARIABLE in os.environ:
        return os.environ[REPOSITORY_VARIABLE].rstrip("/")
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["course"]["repository"].rstrip("/")


def slug(text):
    """A file name for a part: "II. Learning with little data" -> "ii-learning-with-little-data"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def course_map():
    """The rows of notebooks/course_map.csv (notebook, part, concept), in order."""
    with open(NOTEBOOKS / "course_map.csv", newline="") as f:
        return list(csv.DictReader(f))


def parts(rows):
    """`{part: [row, ...]}` in the course's order."""
    grouped = {}
    for row in rows:
        grouped.setdefault(row["part"], []).append(row)
    return grouped


def notebook_title(path):
    """The text of a notebook's first heading ("15 · VGG"), or its stem."""
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            match = re.search(r"^#\s+(.+)$", "".join(cell["source"]), flags=re.M)
            if match:
                return match[1].strip()
    return path.stem


# Staging -------------------------------------------------------------------------------------


class Stage:
    """Writes staged files, each only if its content changed; remembers what it wrote."""

    def __init__(self, folder):
        self.folder = folder
        self.written = set()

    def write(self, relative, data):
        path = self.folder / relative
        data = data.encode() if isinstance(data, str) else data
        if not path.exists() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        self.written.add(Path(relative))

    def prune(self):
        """Removes staged files that this build did not write (a notebook renamed or removed)."""
        for path in sorted(self.folder.rglob("*"), reverse=True):
            relative = path.relative_to(self.folder)
            if path.is_file() and relative not in self.written:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


def rewrite_links(markdown, location, pages, repo):
    """Points the links of `markdown` (a file at repository path `location`) at the site.

    A relative link to a page of the site is kept; a link to any other repository file
    becomes a link to it on GitHub when `repo` is set, else plain text (the site cannot
    serve it). URLs, in-page anchors, images and code spans are kept.
    """
    def replace(match):
        code, text, target, title = match.groups()
        if code or re.match(r"[a-z][a-z0-9+.-]*:|#", target):
            return match[0]
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(location), path))
        if resolved in pages or resolved.startswith(".."):
            return match[0]
        if not repo:
            return text
        kind = "tree" if (ROOT / resolved).is_dir() else "blob"
        url = f"{repo}/{kind}/{BRANCH}/{resolved}" + (f"#{anchor}" if anchor else "")
        return f"[{text}]({url}{title or ''})"

    return LINK.sub(replace, markdown)


def clean_notebook(notebook, location, pages, repo):
    """The notebook (parsed JSON) as the site shows it: no Colab badge, no widget outputs."""
    notebook["metadata"].pop("widgets", None)  # the widget state: no manager can render it
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            source = COLAB_BADGE.sub("", "".join(cell["source"]))
            cell["source"] = rewrite_links(source, location, pages, repo)
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                text = WIDGET_KERNEL_REMARK.sub("", "".join(output["data"].get("text/plain", "")).strip())
                output["data"] = {"text/html": WIDGET_NOTE.format(text=html.escape(text))}
                output.get("metadata", {}).pop(WIDGET_VIEW, None)
    return notebook


def _headings(lines):
    """`(index, level)` of the Markdown headings among `lines`, outside code fences."""
    fenced = False
    for i, line in enumerate(lines):
        fenced ^= line.startswith("```")
        match = None if fenced else re.match(r"(#+) ", line)
        if match:
            yield i, len(match[1])


def readme_section(readme, heading, top=1):
    """A section of README.md, from `heading` to the next heading of its level or above,
    its headings shifted so that `heading` gets level `top` (1: the page's title)."""
    lines = readme.splitlines()
    if heading not in lines:
        raise SystemExit(f"README.md has no heading {heading!r}, which site/build.py makes a page of")
    start = lines.index(heading)
    level = len(heading) - len(heading.lstrip("#"))
    inner = [(i, n) for i, n in _headings(lines) if i >= start]
    end = next((i for i, n in inner if i > start and n <= level), len(lines))
    for i, n in inner:
        if i < end:
            lines[i] = "#" * (n - level + top) + lines[i][n:]
    return "\n".join(lines[start:end]).strip() + "\n"


def readme_intro(readme):
    """README.md's opening paragraphs, between its title and its first section."""
    lines = readme.splitlines()
    first = next(i for i, n in _headings(lines) if n == 2)
    return "\n".join(lines[1:first]).strip() + "\n"


def _table(rows, titles, prefix):
    lines = ["| # | notebook | what it teaches |", "| ---: | --- | --- |"]
    for row in rows:
        stem = row["notebook"]
        lines.append(f"| {stem[:2]} | [{titles[stem]}]({prefix}notebooks/{stem}.ipynb) | {row['concept']} |")
    return "\n".join(lines)


def index_page(readme, grouped, titles):
    """The landing page: the README's introduction, the course map and the site's toctrees."""
    lines = ["# Convolutional neural networks with Keras 3", "", readme_intro(readme), "## Course map", ""]
    lines.append("Every notebook is shown as it was executed and committed, outputs included. "
                 "Each part has its own page.")
    for part, rows in grouped.items():
        lines += ["", f"### [{part}](parts/{slug(part)}.md)", "", _table(rows, titles, "")]
    toctrees = {
        "Start here": ["setup", "colab-and-gpu"],
        "The course": [f"parts/{slug(part)}" for part in grouped],
        "Practice": ["notebooks/assignments/README", "notebooks/solutions/index"],
        "Reference": ["concept-map"],
    }
    for caption, entries in toctrees.items():
        lines += ["", "```{toctree}", f":caption: {caption}", ":hidden:", ":maxdepth: 2", ""] + entries + ["```"]
    return "\n".join(lines) + "\n"


def part_page(part, rows, titles):
    """One part: its notebooks as a table, and their toctree (the sidebar's entries)."""
    lines = [f"# {part}", "", _table(rows, titles, "../"), "", "```{toctree}", ":hidden:", ""]
    lines += [f"../notebooks/{row['notebook']}" for row in rows] + ["```"]
    return "\n".join(lines) + "\n"


def solutions_page(names):
    lines = [
        "# Exercise solutions", "",
        "Worked solutions to the exercises at the end of the notebooks. "
        "**Try each exercise before you read its solution.**", "",
        "```{toctree}", ":maxdepth: 1", "",
    ]
    return "\n".join(lines + names + ["```"]) + "\n"


def student_notebooks():
    """The student notebooks of the graded assignments (never their sources)."""
    return sorted((ASSIGNMENTS / "student").glob("*/*.ipynb"))


def stage(folder=STAGE, repo=None, only=None):
    """Stages the site's sources into `folder`; returns the names of the staged notebooks.

    `only` (notebook stems) limits the course notebooks, for quick builds of a few pages.
    """
    repo = repository() if repo is None else repo
    rows = [row for row in course_map() if only is None or row["notebook"] in only]
    missing = [row["notebook"] for row in rows if not (NOTEBOOKS / f"{row['notebook']}.ipynb").exists()]
    if missing:
        raise SystemExit(f"notebooks/course_map.csv lists notebooks that do not exist: {missing}")
    grouped = parts(rows)
    notebooks = [NOTEBOOKS / f"{row['notebook']}.ipynb" for row in rows]
    unmapped = [p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if only is None
                and p.stem not in {row["notebook"] for row in rows}]
    if unmapped:
        raise SystemExit(f"add these notebooks to notebooks/course_map.csv: {sorted(unmapped)}")
    solutions = sorted((NOTEBOOKS / "solutions").glob("*.md"))
    students = student_notebooks()
    assignments_readme = ASSIGNMENTS / "README.md"

    # Repository paths (relative to ROOT) that are pages of the site, for rewrite_links().
    pages = {str(p.relative_to(ROOT)) for p in notebooks + solutions + students + [assignments_readme]}

    out = Stage(folder)
    readme = (ROOT / "README.md").read_text()
    titles = {p.stem: notebook_title(p) for p in notebooks}

    def from_repository(relative, text, location):
        """Stages Markdown taken from the repository file `location`, its links rewritten."""
        out.write(relative, rewrite_links(text, str(location), pages, repo))

    # Generated pages (their links point at staged pages only) and README's sections.
    out.write("index.md", index_page(readme, grouped, titles))
    for part, part_rows in grouped.items():
        out.write(f"parts/{slug(part)}.md", part_page(part, part_rows, titles))
    from_repository("setup.md", readme_section(readme, "## Two commands"), "README.md")
    from_repository("colab-and-gpu.md", "# Running on Colab or on a GPU\n\n"
                    + readme_section(readme, "## Running on Colab", top=2) + "\n"
                    + readme_section(readme, "## Running on a GPU", top=2), "README.md")
    concepts = readme_section(readme, "### Lecture concepts")
    from_repository("concept-map.md", concepts.replace("# Lecture concepts", "# Concept map", 1), "README.md")

    for path in notebooks + students:
        relative = path.relative_to(ROOT)
        notebook = clean_notebook(json.loads(path.read_text()), str(relative), pages, repo)
        out.write(relative, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    for path in solutions:
        relative = path.relative_to(ROOT)
        from_repository(relative, path.read_text(), relative)
    out.write("notebooks/solutions/index.md", solutions_page([p.stem for p in solutions]))
    student_toctree = ["", "```{toctree}", ":caption: The assignments", ":maxdepth: 1", ""]
    student_toctree += [str(p.relative_to(ASSIGNMENTS).with_suffix("")) for p in students] + ["```", ""]
    relative = assignments_readme.relative_to(ROOT)
    from_repository(relative, assignments_readme.read_text() + "\n".join(student_toctree), relative)

    stage_mathjax(out)
    out.prune()
    return [p.stem for p in notebooks]


def stage_mathjax(out):
    """Copies the parts of MathJax 3 the site uses into _static_site/mathjax/ (MATHJAX_PARTS)."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")  # its module name has dashes
    if spec is None:
        raise SystemExit("sphinx-mathjax-offline is missing: `make site` installs it (requirements/test.lock)")
    source = Path(spec.origin).parent / "static" / "mathjax"
    for part in MATHJAX_PARTS:
        paths = [source / part] if (source / part).is_file() else sorted((source / part).rglob("*"))
        for path in paths:
            if path.is_file():
                out.write(Path(STATIC, "mathjax", path.relative_to(source)), path.read_bytes())


# Building ------------------------------------------------------------------------------------


def forbid_network():
    """Makes every socket connection or name lookup of this process raise (an audit hook).

    The site must build from the repository and the installed packages alone: a theme,
    template or asset fetched at build time fails the build instead of passing unseen.
    """
    def hook(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
            raise RuntimeError(f"the site's build tried to use the network: {event}{args!r}")
    sys.addaudithook(hook)


def build(out=OUT, doctrees=DOCTREES, folder=STAGE, repo=None, only=None, jobs="1"):
    """Stages the sources and runs Sphinx's HTML builder; returns its exit status.

    Warnings are errors (a broken cross-reference, a notebook Sphinx cannot read).
    """
    from sphinx.cmd.build import build_main

    repo = repository() if repo is None else repo
    stage(folder, repo, only)
    os.environ[REPOSITORY_VARIABLE] = repo  # read by site/conf.py
    # A fresh output folder, so that no page of an earlier build lingers (a renamed notebook);
    # the doctrees stay, so Sphinx re-reads only the sources that changed.
    shutil.rmtree(out, ignore_errors=True)
    args = ["-b", "html", "-c", str(SITE), "-d", str(doctrees), "-W", "--keep-going", "-q", "-j", jobs,
            str(folder), str(out)]
    return build_main(args)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage-only", action="store_true", help="stage the sources, do not build")
    parser.add_argument("--jobs", default="1", help="Sphinx's -j (default 1: on 2 cores, -j 2 saved under a second, "
                        "and `make test` runs the notebooks on the other core)")
    args = parser.parse_args(argv)
    forbid_network()
    start = time.perf_counter()
    if args.stage_only:
        stage()
        print(f"staged {STAGE.relative_to(ROOT)}")
        return 0
    status = build(jobs=args.jobs)
    if status == 0:
        print(f"built {OUT.relative_to(ROOT)}/index.html in {time.perf_counter() - start:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
