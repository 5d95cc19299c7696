"""Builds and grades the course's otter-grader assignments (`make assignments`, `make grade`).

Each assignment has one instructor source, `notebooks/assignments/source/<name>.py`
(a jupytext notebook in otter's assign format: solutions, public and hidden
tests). From it, `otter assign` generates

- the student version, committed at `notebooks/assignments/student/<name>/`
  (the notebook and its public tests in `tests/`), and
- the autograder (hidden tests and solutions, and otter's zip, which `make grade`
  does not use), written to `build/assignments/<name>/autograder/`, which git
  ignores: it is regenerated, never committed, so a public repository does not
  publish it.

Commands:

    python scripts/assignments.py build [NAME ...]   regenerate student versions and autograders
    python scripts/assignments.py check [NAME ...]   fail if a committed student version is stale
    python scripts/assignments.py grade NAME SUBMISSION_OR_FOLDER ... [-o scores.csv]

`grade` judges each submission (a notebook or the zip that `grader.export()`
writes) with `course_lib.judge`: the submission's code runs in a child process
with time and memory limits, the tests run in this process on data only, so a
submission cannot change how it is judged. It writes one table: a row per
submission, a column per question, the total, the seconds and any notes (a
cell or a question that ran out of time).
"""

import argparse
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ROOT / "notebooks" / "assignments"
SOURCES = ASSIGNMENTS / "source"
STUDENT = ASSIGNMENTS / "student"
BUILD = ROOT / "build" / "assignments"


def names():
    return sorted(path.stem for path in SOURCES.glob("A[0-9]*_*.py"))


def _bin(tool):
    return str(Path(sys.executable).with_name(tool))


def generate(name, out_dir):
    """Runs `otter assign` on the source of `name`; returns the output folder.

    otter assign executes the solution notebook and fails unless it passes
    every test, public and hidden: a broken solution never reaches students.
    """
    out_dir = Path(out_dir)
    work = out_dir / "master"
    work.mkdir(parents=True)
    master = work / f"{name}.ipynb"
    subprocess.run(
        [_bin("jupytext"), "--quiet", "--to", "ipynb", "--set-kernel", "python3", "-o", str(master), str(SOURCES / f"{name}.py")],
        check=True,
    )
    dist = out_dir / "dist"
    result = subprocess.run(
        [_bin("otter"), "assign", "--no-pdfs", str(master), str(dist)],
        cwd=work,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"otter assign failed for {name}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return dist


def normalise(notebook):
    """The student notebook as committed: stable cell ids, no execution traces.

    otter assign writes random cell ids and execution metadata each time; these
    carry no content, so they are replaced to make regeneration byte-stable.
    """
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index:02d}"
        cell.metadata.pop("execution", None)
        cell.metadata.pop("lines_to_next_cell", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nbformat.writes(notebook) + "\n"


def student_files(name, dist):
    """{relative path: text} of the student version generated in `dist`."""
    student = Path(dist) / "student"
    files = {}
    for path in sorted(student.rglob("*")):
        if path.is_file():
            relative = path.relative_to(student).as_posix()
            text = path.read_text()
            files[relative] = normalise(nbformat.reads(text, as_version=4)) if path.suffix == ".ipynb" else text
    return files


def committed_files(name):
    folder = STUDENT / name
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def _replace_folder(target, files):
    """Writes `files` into `target`, replacing it whole only once everything is written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    for relative, text in files.items():
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        (staging / relative).write_text(text)
    if target.exists():
        old = target.with_name(f".{target.name}-old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old)
    else:
        staging.rename(target)


def build(name):
    """Regenerates the student version (committed) and the autograder (in build/)."""
    with tempfile.TemporaryDirectory() as tmp:
        dist = generate(name, tmp)
        _replace_folder(STUDENT / name, student_files(name, dist))
        autograder = BUILD / name / "autograder"
        shutil.rmtree(autograder, ignore_errors=True)
        autograder.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(dist / "autograder", autograder)
    print(f"{name}: wrote {(STUDENT / name).relative_to(ROOT)}/ and {autograder.relative_to(ROOT)}/")
    return autograder


def differences(name, dist):
    """Lines of a diff between the committed student version and the one generated in `dist`."""
    generated, committed = student_files(name, dist), committed_files(name)
    lines = []
    for relative in sorted(set(generated) | set(committed)):
        if relative not in committed:
            lines.append(f"missing from the repository: {name}/{relative}")
        elif relative not in generated:
            lines.append(f"not generated by the source any more: {name}/{relative}")
        elif generated[relative] != committed[relative]:
            lines += difflib.unified_diff(
                committed[relative].splitlines(), generated[relative].splitlines(),
                f"committed/{name}/{relative}", f"generated/{name}/{relative}", lineterm="", n=1,
            )
    return lines


def make_judge(autograder, time_limit=60.0):
    """A `course_lib.judge.Judge` on the autograder's test files (public and hidden)."""
    from course_lib.judge import Judge

    return Judge(Path(autograder) / "tests", time_limit=time_limit)


def grade_one(submission, judge):
    """Grades one submission; returns {question: (score, possible)} and the judge's `GradingResult`.

    The submission's code runs in a child process; the tests run here on data
    (see `course_lib.judge`). A file that is not a readable notebook (or an
    otter export zip holding one) raises ValueError.
    """
    try:
        result = judge.grade(submission)
    except (ValueError, OSError, KeyError, zipfile.BadZipFile, nbformat.reader.NotJSONError) as error:
        raise ValueError(f"{Path(submission).name} is not a readable notebook: {error}") from None
    return result.scores, result


def _submissions(paths):
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in {".ipynb", ".zip"})
        elif path.suffix in {".ipynb", ".zip"}:
            found.append(path)
        else:
            raise SystemExit(f"not a notebook, a zip or a folder: {path}")
    if not found:
        raise SystemExit("no submissions (.ipynb or .zip) found")
    return found


def grade(name, paths, output, time_limit=60.0):
    """Grades every submission into one table: a row each, a column per question, the total, notes."""
    import pandas as pd

    autograder = BUILD / name / "autograder"
    if not autograder.exists():
        build(name)
    # Made before any submission runs: the judge holds the tests in memory from here on.
    judge = make_judge(autograder, time_limit)
    rows = []
    for submission in _submissions(paths):
        print(f"grading {submission} ...", flush=True)
        try:
            scores, result = grade_one(submission, judge)
        except Exception as error:  # one submission that cannot be graded never stops the batch
            print(f"  could not grade it: {type(error).__name__}: {error}", file=sys.stderr)
            rows.append({"submission": str(submission), "error": f"could not grade it: {error}"})
            continue
        row = {"submission": str(submission)}
        row.update({question: score for question, (score, _) in scores.items()})
        row["total"] = sum(score for score, _ in scores.values())
        row["possible"] = sum(possible for _, possible in scores.values())
        row["seconds"] = round(result.seconds, 1)
        row["notes"] = "; ".join(result.notes)
        rows.append(row)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if output:
        staging = Path(output).with_name(f".{Path(output).name}.tmp")
        table.to_csv(staging, index=False)
        staging.replace(output)  # atomic: a submission cannot leave a half-written or forged table
        print(f"wrote {output}")
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in ("build", "check"):
        sub = commands.add_parser(command)
        sub.add_argument("names", nargs="*", help="assignments (default: all)")
    grade_parser = commands.add_parser("grade", help="grade submissions into one table")
    grade_parser.add_argument("name", help="the assignment, e.g. A1_convolution_and_pooling")
    grade_parser.add_argument("submissions", nargs="+", help="notebooks, zips or folders of them")
    grade_parser.add_argument("-o", "--output", help="CSV file for the table of scores")
    grade_parser.add_argument("--time-limit", type=float, default=60.0,
                              help="seconds each code cell, and each question's calls, may take (default 60)")
    args = parser.parse_args(argv)

    if args.command == "grade":
        if args.name not in names():
            raise SystemExit(f"unknown assignment {args.name!r}; choose from {names()}")
        grade(args.name, args.submissions, args.output, args.time_limit)
        return
    selected = args.names or names()
    unknown = sorted(set(selected) - set(names()))
    if unknown:
        raise SystemExit(f"unknown assignments {unknown}; choose from {names()}")
    if args.command == "build":
        for name in selected:
            build(name)
        return
    stale = []
    for name in selected:
        with tempfile.TemporaryDirectory() as tmp:
            diff = differences(name, generate(name, tmp))
        if diff:
            stale.append(name)
            print("\n".join(diff[:200]))
    if stale:
        raise SystemExit(f"stale student versions: {stale}; run `make assignments` and commit the result")
    print(f"student versions are current: {selected}")


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    main()
