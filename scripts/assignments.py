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
    python scripts/assignments.py grade NAME SUBMISSION_OR_FOLDER ... [-o scores.csv] [--no-isolation]

`grade` judges each submission (a notebook or the zip that `grader.export()`
writes) with `course_lib.grading.judge`: the submission's code runs in a child
process in bubblewrap's OS sandbox, within time, memory, disk and process
limits; the tests run in this process (Python isolated, `-I`) on data only, so a
submission cannot change how it is judged. It writes one table (a row per
submission: a column per question, the total, the seconds, the notes saying
which limit ended what, the honour-code flags and the file's SHA-256) and one
feedback file per submission for its student. Without bubblewrap it refuses,
unless `--no-isolation` (development machines only) is given.
"""

import argparse
import difflib
import hashlib
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


def make_judge(autograder, time_limit=60.0, isolation=True, hide=(), **limits):
    """A `course_lib.grading.judge.Judge` on the autograder's test files (public and hidden).

    `isolation=False` grades without the OS sandbox (development machines
    only); `limits` are the judge's other budgets (`submission_time_limit`,
    `max_cells`, ...).
    """
    from course_lib.grading.judge import Judge

    return Judge(Path(autograder) / "tests", time_limit=time_limit, isolation=isolation,
                 hide=(str(autograder), *map(str, hide)), **limits)


def grade_one(submission, judge):
    """Grades one submission; returns {question: (score, possible)} and the judge's `GradingResult`.

    The submission's code runs in a sandboxed child process; the tests run
    here on data (see `course_lib.grading.judge`). A file that is not a
    readable notebook (or an otter export zip holding one) raises ValueError.
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


def _private_copies(submissions, folder):
    """Copies each submission into `folder` (the judge's own) and hashes the copy: {original: (copy, sha256)}."""
    copies = {}
    for index, submission in enumerate(submissions):
        copy = Path(folder) / f"{index:04d}{submission.suffix}"
        data = submission.read_bytes()
        copy.write_bytes(data)
        copies[submission] = (copy, hashlib.sha256(data).hexdigest())
    return copies


def _write_atomically(path, text):
    """Writes `text` to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}-", delete=False) as file:
        file.write(text)
        staging = Path(file.name)
    staging.replace(path)


def _forbidden(name):
    """The names assignment `name` forbids (its checks module's `FORBIDDEN_IMPORTS`)."""
    import importlib

    module = importlib.import_module(f"course_lib.grading.checks.{name[:2].lower()}")
    return tuple(getattr(module, "FORBIDDEN_IMPORTS", ()))


def grade(name, paths, output, time_limit=60.0, isolation=True, feedback_dir=None, **limits):
    """Grades every submission into one table and one feedback file each.

    The table has a row per submission: a column per question, the total, the
    seconds, the notes (which limit ended what), the honour-code flags (the
    forbidden modules its code uses) and the SHA-256 of the file graded. The
    submissions are copied and hashed before the first one runs, and graded
    from those copies; the table and the feedback files (in `feedback_dir`,
    default `<output>-feedback/`, one Markdown file per submission) are
    written atomically, in folders no submission can see.
    """
    import pandas as pd

    from course_lib.grading.judge import notebook_cells, read_submission
    from course_lib.grading.report import feedback, honour_code_flags

    if not isolation:
        print(NO_ISOLATION_WARNING, file=sys.stderr, flush=True)
    autograder = BUILD / name / "autograder"
    if not autograder.exists():
        build(name)
    submissions = _submissions(paths)
    if output and feedback_dir is None:
        feedback_dir = Path(output).with_name(f"{Path(output).stem}-feedback")
    hidden = [*map(str, paths), *(str(Path(p).parent) for p in (output, feedback_dir) if p)]
    forbidden = _forbidden(name)
    # Made before any submission runs: the judge holds the tests and every module it uses from here on.
    judge = make_judge(autograder, time_limit, isolation=isolation, hide=hidden, **limits)
    warm_up = pd.DataFrame([{"submission": "-", "total": 1.0, "notes": None}])
    warm_up.to_string(index=False), warm_up.to_csv(index=False)  # pandas imports its writers when first used
    rows = []
    with tempfile.TemporaryDirectory(prefix="grading-") as private:
        copies = _private_copies(submissions, private)
        for submission in submissions:
            copy, digest = copies[submission]
            print(f"grading {submission} ...", flush=True)
            try:
                scores, result = grade_one(copy, judge)
                flags = honour_code_flags(notebook_cells(read_submission(copy)), forbidden)
            except Exception as error:  # one submission that cannot be graded never stops the batch
                message = str(error).replace(copy.name, submission.name)
                print(f"  could not grade it: {type(error).__name__}: {message}", file=sys.stderr)
                rows.append({"submission": str(submission), "error": f"could not grade it: {message}", "sha256": digest})
                continue
            row = {"submission": str(submission)}
            row.update({question: score for question, (score, _) in scores.items()})
            row["total"] = sum(score for score, _ in scores.values())
            row["possible"] = sum(possible for _, possible in scores.values())
            row["seconds"] = round(result.seconds, 1)
            row["notes"] = "; ".join(result.notes)
            row["honour_code"] = "; ".join(flags)
            row["sha256"] = digest
            rows.append(row)
            if feedback_dir:
                text = feedback(f"{name}: {submission.name}", result, result.notes, flags)
                _write_atomically(Path(feedback_dir) / f"{submission.stem}.md", text)
    table = pd.DataFrame(rows)
    print(table.drop(columns=["sha256"], errors="ignore").to_string(index=False))
    if output:
        _write_atomically(output, table.to_csv(index=False))
        print(f"wrote {output}" + (f" and the feedback in {feedback_dir}/" if feedback_dir else ""))
    return table


NO_ISOLATION_WARNING = """
**********************************************************************************************
WARNING: --no-isolation: submissions run WITHOUT the OS sandbox, as your own user, with your
files, your network and the grader's processes in reach. A hostile submission can read the
hidden tests and solutions, other submissions and your files, and change or kill the grading.
Use this on a development machine with trusted notebooks only; grade real submissions with
bubblewrap installed (Debian/Ubuntu: sudo apt-get install bubblewrap).
**********************************************************************************************
"""


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
    grade_parser.add_argument("--submission-time-limit", type=float, default=None,
                              help="seconds one submission may take in all: cells, restarts, questions "
                                   "(default 10 x --time-limit)")
    grade_parser.add_argument("--feedback", help="folder for the feedback files (default: <output>-feedback/)")
    grade_parser.add_argument("--no-isolation", action="store_true",
                              help="run submissions WITHOUT the bubblewrap sandbox (development machines only: "
                                   "a hostile submission can then read and change everything you can)")
    args = parser.parse_args(argv)

    if args.command == "grade":
        from course_lib.grading.sandbox import SandboxUnavailable

        if args.name not in names():
            raise SystemExit(f"unknown assignment {args.name!r}; choose from {names()}")
        try:
            grade(args.name, args.submissions, args.output, args.time_limit, isolation=not args.no_isolation,
                  feedback_dir=args.feedback, submission_time_limit=args.submission_time_limit)
        except SandboxUnavailable as error:
            raise SystemExit(f"make grade refuses to grade without its sandbox: {error}") from None
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
    if not sys.flags.isolated:
        # The judge runs Python isolated: no working folder, `scripts/` or user site on its path,
        # no PYTHON* variables, so that no file a submission could leave there is ever imported.
        os.execv(sys.executable, [sys.executable, "-I", *sys.argv])
    main()
