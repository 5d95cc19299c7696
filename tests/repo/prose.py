"""Measures the student-facing prose of the notebooks (notebooks/STYLE.md's rules).

    python tests/repo/prose.py            # one row per notebook: words, paragraphs, sentences
    python tests/repo/prose.py --banned   # and every banned term found, with its line

The Markdown cells of the jupytext sources (notebooks/src/*.py) and of the
assignments' sources (notebooks/assignments/source/*.py, student text only:
not the solutions or tests) are read as a student reads them. A section
headed "Under the hood" is left out: it is where machinery belongs.

- A paragraph is a run of non-blank lines that is not a heading, a table,
  display math or a fenced block; each list item is a paragraph of its own,
  and so is a block quote (a "Lecture vs course" box).
- A sentence ends at ".", "!" or "?" followed by a space and a capital
  letter, a digit, a quote or an opening bracket, or at the paragraph's end.
- Words are runs of letters and digits; inline code and inline math count
  as one word each.
"""

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))
ASSIGNMENTS = sorted((ROOT / "notebooks" / "assignments" / "source").glob("A*.py"))

MAX_PARAGRAPH_WORDS = 100
MAX_MEAN_SENTENCE_WORDS = 20

# Words about how the course is tested, built or run, which belong in code comments,
# course_lib's docstrings or an "Under the hood" note (notebooks/STYLE.md).
BANNED = {
    "nbval": r"\bnbval\b",
    "NBVAL marker": r"NBVAL_",
    "processor": r"\bprocessors?\b",
    "rounding between machines": r"\brounding\b[^.]*\b(processors?|machines?)\b|\b(processors?|machines?)\b[^.]*\brounding\b",
    "asserted": r"\basserted\b",
    "the course's test": r"\bthe course's test\b",
    "tracing": r"\btrac(e|es|ed|ing)\b",
    "optimizer.build": r"optimizer\.build",
    "SHA-256": r"SHA-?256",
    "harness internals": r"\b(PyDataset|EpochTimer|_copy_state|set_random_seed_keeping_traces)\b",
}


@dataclass
class Prose:
    """The measured prose of one notebook."""

    name: str
    paragraphs: list = field(default_factory=list)  # (first line number, text)

    @property
    def words(self):
        return sum(len(words(text)) for _, text in self.paragraphs)

    @property
    def longest_paragraph(self):
        return max((len(words(text)) for _, text in self.paragraphs), default=0)

    @property
    def sentences(self):
        return [s for _, text in self.paragraphs for s in sentences(text)]

    @property
    def mean_sentence(self):
        lengths = [len(words(s)) for s in self.sentences]
        return sum(lengths) / len(lengths) if lengths else 0.0

    def banned(self):
        """(term, line number, excerpt) for every banned term in the prose."""
        found = []
        for line, text in self.paragraphs:
            for term, pattern in BANNED.items():
                for match in re.finditer(pattern, text, flags=re.IGNORECASE if term != "NBVAL marker" else 0):
                    start = max(0, match.start() - 40)
                    found.append((term, line, text[start:match.end() + 40].replace("\n", " ")))
        return found

    def long_paragraphs(self):
        return [(line, len(words(text))) for line, text in self.paragraphs if len(words(text)) > MAX_PARAGRAPH_WORDS]


def words(text):
    text = re.sub(r"`[^`]*`", " CODE ", text)
    text = re.sub(r"\$[^$]+\$", " MATH ", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link counts by its text
    return re.findall(r"[A-Za-z0-9]+(?:['’.-][A-Za-z0-9]+)*", text)


def sentences(text):
    text = re.sub(r"`[^`]*`", "CODE", text)
    text = re.sub(r"\$[^$]+\$", "MATH", text)
    # Abbreviations that end in a period do not end a sentence.
    text = re.sub(r"\b(e\.g|i\.e|et al|cf|vs|Fig|Eq|Sec|Ch|approx)\.", lambda m: m.group(0).replace(".", "·"), text)
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[*])", text.strip())
    return [p for p in parts if words(p)]


def _markdown_cells(path):
    """(first line number, markdown lines without the '# ' prefix) for each Markdown cell."""
    cells, current, start = [], None, 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("# %%"):
            if current is not None:
                cells.append((start, current))
            current = [] if "[markdown]" in line else None
            start = number + 1
        elif current is not None:
            current.append(line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else line)
    if current is not None:
        cells.append((start, current))
    return cells


def measure(path):
    """The `Prose` of a jupytext source."""
    prose = Prose(path.stem)
    hidden = False  # inside an "Under the hood" section
    for start, lines in _markdown_cells(path):
        block, block_start, fenced, math = [], None, False, False

        def flush():
            if block:
                prose.paragraphs.append((block_start, "\n".join(block)))
            block.clear()

        for offset, line in enumerate(lines):
            stripped = line.strip()
            if stripped.startswith("#"):
                flush()
                hidden = "under the hood" in stripped.lower()
                continue
            if hidden:
                continue
            if stripped.startswith("```"):
                flush()
                fenced = not fenced
                continue
            if stripped.startswith("$$"):
                flush()
                math = not (math or stripped.count("$$") == 2)
                continue
            if fenced or math or stripped.startswith("|") or not stripped:
                flush()
                continue
            is_item = re.match(r"^(\s*)([-*+]|\d+\.)\s", line) and not line.startswith("  " * 3)
            quote = stripped.startswith(">")
            text = stripped.lstrip("> ").strip() if quote else stripped
            if quote and not text:  # a blank line inside a block quote ends a paragraph
                flush()
                continue
            if is_item and not line.startswith("   "):
                flush()
            if not block:
                block_start = start + offset
            if text:
                block.append(text)
        flush()
    return prose


def table(paths):
    rows = []
    for path in paths:
        prose = measure(path)
        rows.append((prose.name, prose.words, prose.longest_paragraph, round(prose.mean_sentence, 1),
                     len(prose.long_paragraphs()), len(prose.banned())))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--banned", action="store_true", help="list every banned term found")
    args = parser.parse_args(argv)
    print("| notebook | words | longest paragraph | mean sentence | paragraphs > 100 words | banned terms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in table(NOTEBOOKS + ASSIGNMENTS):
        print("| " + " | ".join(str(v) for v in row) + " |")
    if args.banned:
        for path in NOTEBOOKS + ASSIGNMENTS:
            for term, line, excerpt in measure(path).banned():
                print(f"{path.name}:{line}: {term}: ...{excerpt}...")


if __name__ == "__main__":
    sys.exit(main())
