"""What instrumenting a file changes: ``--diff`` (a unified diff, coloured for terminals) and ``--diff-html``
(the two files side by side, each inserted or changed line with a note saying what it records or does)."""

import difflib
import functools
import os
import re

import jinja2

from . import templates

_COLOURS = {"+": "\033[32m", "-": "\033[31m", "@": "\033[36m"}
_RESET = "\033[0m"


def unified_diff(before, after, path, after_label="instrumented"):
    name = path if path not in ("-", None) else "<stdin>"
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=name,
            tofile=f"{name} ({after_label})",
        )
    )


def use_colour(choice, stream):
    """``--color=auto|always|never``; ``auto`` means a terminal and no ``NO_COLOR`` in the environment."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def colourise(diff_text):
    lines = []
    for line in diff_text.splitlines(keepends=True):
        colour = None if line.startswith(("+++", "---")) else _COLOURS.get(line[:1])
        if line.startswith(("+++", "---")):
            colour = "\033[1m"
        lines.append(f"{colour}{line.rstrip(chr(10))}{_RESET}\n" if colour else line)
    return "".join(lines)


# --diff-html: each line the rewrite inserts or changes gets a note saying what it records or does. The notes of
# inserted lines are written in the templates, next to the lines they explain, as Jinja comments that the
# rendered code does not contain: ``code  {#-: note #}``. A line that continues a bracket takes its opener's note.
TEMPLATES_WITH_NOTES = ("header.py.j2", "fit_loop.py.j2")
_ANNOTATION = re.compile(r"\s*\{#-:\s*(.*?)\s*#\}\s*$")


@functools.lru_cache(maxsize=1)
def template_notes():
    """``[(pattern, note)]``: each annotated template line as a pattern of the line it renders to (its ``{{ ... }}``
    match anything), with its note."""
    notes = []
    for name in TEMPLATES_WITH_NOTES:
        for line in templates.source(name).splitlines():
            annotation = _ANNOTATION.search(line)
            if annotation:
                code = line[: annotation.start()].strip()
                parts = re.split(r"(\{\{.*?\}\})", code)
                pattern = "".join(".*?" if part.startswith("{{") else re.escape(part) for part in parts)
                notes.append((re.compile(pattern), annotation.group(1)))
    return notes


def _template_note(text):
    stripped = text.strip()
    return next((note for pattern, note in template_notes() if pattern.fullmatch(stripped)), None)


CHANGED_NOTES = [
    (r"\binstrumented_fit(_\d+)?\s*\(", "model.fit replaced by the instrumented loop; same arguments, same order"),
    (
        r"runtime\.diagnosed\(",
        "model.fit kept, with the Diagnose callback added to your callbacks: it records loss, "
        "weights, updates, and layers on a sample of the data",
    ),
]
_LOOP_NOTE = "part of the generated training loop"
_DOCSTRING_NOTE = "the generated loop's docstring"
_BLANK_NOTE = "blank line (spacing)"
_CHANGED_NOTE = "changed by dnn-instrument"


def _note(text, table):
    for pattern, note in table:
        if re.search(pattern, text):
            return note
    return None


def _inserted_notes(lines):
    """The note of each inserted line; a line that continues a bracket or a docstring takes its opener's note."""
    notes, depth, in_docstring, previous = [], 0, False, None
    for text in lines:
        if in_docstring or text.strip().startswith('"""'):
            in_docstring = in_docstring != (text.count('"""') % 2 == 1)
            notes.append(_DOCSTRING_NOTE)
            previous = _DOCSTRING_NOTE
            continue
        code = re.sub(r"#.*", "", re.sub(r"'[^'\n]*'|\"[^\"\n]*\"", "''", text))
        if not text.strip():
            note = _BLANK_NOTE
        elif depth > 0:
            note = previous
        else:
            note = _template_note(text) or _LOOP_NOTE
        depth = max(0, depth + sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}"))
        notes.append(note)
        previous = note
    return notes


def _segments(old, new):
    """The two lines cut into ``(text, marked)`` pieces, marking what differs."""
    left, right = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if i2 > i1:
            left.append((old[i1:i2], tag != "equal"))
        if j2 > j1:
            right.append((new[j1:j2], tag != "equal"))
    return left, right


def side_by_side(before, after, inserted):
    """Rows ``{kind, left_no, left, right_no, right, note, first}`` pairing each line of ``after`` with ``before``.

    ``inserted`` (the instrument result's line ranges) says which lines are new; every other line of
    ``after`` is the next line of ``before``, unchanged or rewritten in place.
    """
    old, new = before.splitlines(), after.splitlines()
    new_lines = {n for first, last in inserted for n in range(first, last + 1)}
    numbers = [n for n in range(1, len(new) + 1) if n in new_lines]
    notes = dict(zip(numbers, _inserted_notes([new[n - 1] for n in numbers])))
    rows, k = [], 0
    for number, text in enumerate(new, start=1):
        row = {"right_no": number, "right": [(text, False)]}
        if number in new_lines:
            row.update(kind="inserted", left_no=None, left=[], note=notes[number])
        elif k < len(old) and old[k] == text:
            k += 1
            row.update(kind="same", left_no=k, left=[(text, False)], note=None)
        else:
            left, row["right"] = _segments(old[k] if k < len(old) else "", text)
            k += 1
            row.update(kind="changed", left_no=k, left=left, note=_note(text, CHANGED_NOTES) or _CHANGED_NOTE)
        rows.append(row)
    for row, previous in zip(rows, [None, *rows]):
        new_note = previous is None or (previous["note"], previous["kind"]) != (row["note"], row["kind"])
        row["first"] = row["note"] is not None and new_note
    return rows


@functools.lru_cache(maxsize=1)
def _html_environment():
    return jinja2.Environment(
        loader=jinja2.PackageLoader("dnn_instrument.transformer", "templates"),
        autoescape=True,  # everything from the user's file is text, never markup
        undefined=jinja2.StrictUndefined,
    )


def html_page(before, after, path, inserted):
    """A self-contained HTML page: ``before`` and ``after`` side by side, each inserted or changed line noted."""
    rows = side_by_side(before, after, inserted)
    counts = {kind: sum(row["kind"] == kind for row in rows) for kind in ("inserted", "changed", "same")}
    name = path if path not in ("-", None) else "<stdin>"
    return (
        _html_environment()
        .get_template("diff.html.j2")
        .render(name=name, rows=rows, counts=counts, changes=_changes(rows))
    )


def _changes(rows):
    """The page's summary: each block of inserted lines and each changed line, with its first note."""
    changes = []
    for row in rows:
        if row["kind"] == "same":
            continue
        last = changes[-1] if changes else None
        if row["kind"] == "inserted" and last and last["kind"] == "inserted" and last["last"] == row["right_no"] - 1:
            last["last"] = row["right_no"]
            if last["note"] == _BLANK_NOTE:
                last["note"] = row["note"]
            continue
        first = row["right_no"]
        changes.append(
            {"kind": row["kind"], "first": first, "last": first, "yours": row["left_no"], "note": row["note"]}
        )
    return changes
