"""What `make grade` tells the instructor and the students beyond the scores.

- `honour_code_flags`: the forbidden modules and functions a submission's code
  uses (each assignment declares its own in `FORBIDDEN_IMPORTS`, beside its
  checks). Found by reading the code, never by running it; the score is not
  changed: the instructor reads the submission and decides.
- `feedback`: one text per submission, ready to return to its student: each
  question's points, each public test case's message, and each hidden test
  case's name with pass or fail, never its code or its message (which would
  show the hidden inputs).

Example:

>>> honour_code_flags(["import numpy as np", "from scipy import signal\\nsignal.correlate2d"], ("scipy.signal",))
['scipy.signal (cell 2)']
"""

import ast

__all__ = ["honour_code_flags", "feedback"]


def _names_used(source):
    """Every dotted name a cell imports or reads (aliases resolved), and its string constants."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    aliases, used = {}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                used.add(alias.name)
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            used.add(node.module)
            for alias in node.names:
                used.add(f"{node.module}.{alias.name}")
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200:
            used.add(node.value)  # importlib.import_module("course_lib.ops"), __import__(...)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)):
            parts = []
            while isinstance(node, ast.Attribute):
                parts.append(node.attr)
                node = node.value
            if isinstance(node, ast.Name):
                parts.append(aliases.get(node.id, node.id))
                used.add(".".join(reversed(parts)))
    return used


def _matches(name, forbidden):
    if "." not in forbidden:  # a bare name (`GradientTape`, `torch`): any part of the dotted name
        return forbidden in name.split(".")
    return name == forbidden or name.startswith(forbidden + ".")


def honour_code_flags(cells, forbidden):
    """The forbidden names a submission's code cells use, each with the cells that use it.

    Args:
        cells: the code cells' sources (`course_lib.grading.judge.notebook_cells`).
        forbidden: dotted module or function names (`"scipy.signal"`,
            `"keras.ops.conv"`); a name without a dot (`"GradientTape"`)
            matches wherever it appears as a part of a name.

    Returns:
        A sorted list of `"name (cell 3, 7)"` strings, empty when none is used.
    """
    found = {}
    for index, source in enumerate(cells, start=1):
        used = _names_used(source)
        for entry in forbidden:
            if any(_matches(name, entry) for name in used):
                found.setdefault(entry, []).append(index)
    return [f"{entry} (cell{'s' if len(where) > 1 else ''} {', '.join(map(str, where))})"
            for entry, where in sorted(found.items())]


def feedback(title, result, notes=(), flags=()):
    """The feedback for one submission, as Markdown text.

    Args:
        title: what the feedback is about (the assignment and the submission).
        result: the judge's `GradingResult`.
        notes: lines about the submission as a whole (limits it reached).
        flags: the honour-code flags (`honour_code_flags`), shown as a reminder
            of the rules; they do not change the score.

    Returns:
        The text: the total, then per question its points, each public case
        with its message when it failed, each hidden case with its name and
        whether it passed.
    """
    total = sum(score for score, _ in result.scores.values())
    possible = sum(possible for _, possible in result.scores.values())
    lines = [f"# {title}", "", f"**Total: {total:g} / {possible:g}**", ""]
    for line in notes:
        lines.append(f"- Note: {line}")
    for line in flags:
        lines.append(f"- Uses what the assignment's rules forbid: {line}")
    if notes or flags:
        lines.append("")
    for question, (score, points) in result.scores.items():
        lines += [f"## {question}: {score:g} / {points:g}", ""]
        for case in result.cases.get(question, []):
            status = "passed" if case.passed else "failed"
            if case.hidden:
                lines.append(f"- hidden test `{case.name}`: {status}")
            else:
                lines.append(f"- public test `{case.name}`: {status}")
                if not case.passed:
                    message = case.message.replace("❌ Test case failed\n", "").strip()
                    lines += ["", "  ```", *(f"  {line}" for line in message.splitlines()[:40]), "  ```", ""]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
