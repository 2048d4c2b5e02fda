"""What instrumenting a file changes: ``--diff`` (a unified diff, coloured for terminals) and ``--diff-html``
(the two files side by side, each inserted or changed line with a note saying what it records or does)."""

import difflib
import functools
import os
import re

import jinja2

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


# --diff-html: each line the rewrite inserts or changes gets a note saying what it records or does. The notes
# come from the generated text itself, by pattern (first match wins), so they follow the templates.
INSERTED_NOTES = [
    (r"^import dnn_instrument\.runtime\.origins\b", "marks this file as dnn-instrument's copy of yours"),
    (
        r"origins\.watch\(__file__",
        "maps the instrumented file's lines back to yours (so findings name your lines); "
        "the fingerprint lets dnn-instrument --strip restore your file",
    ),
    (r"^def \w+\(site, model,", "the generated loop: takes model.fit's arguments, with the same defaults"),
    (
        r"^\s+from builtins import ",
        "the builtins the loop uses, taken here so that names your script rebinds (zip, range...) cannot reach it",
    ),
    (r"^\s+(import \w|from \S+ import )", "imported inside the loop, so that your script's own imports come first"),
    (r"check_versions\(", "checks that this TensorFlow and Keras are versions the loop reproduces exactly"),
    (r"loop_supports\(", "a model the loop cannot stand in for (its own train_step, ...) keeps model.fit"),
    (r"with_diagnose\(", "the Diagnose callback records loss, weights, updates, and layers on a sample of the data"),
    (r"return model\.fit\(", "model.fit itself, for such a model"),
    (r"FitData\(", "the batches model.fit would make: same split, shuffling, weights and steps"),
    (r"CallbackList\(", "your callbacks, the History and the progress bar, set up as model.fit does"),
    (r"LayerGraph\(", "the model's layers in call order, to run the forward pass one layer at a time"),
    (r"Probe\(", "the recorder of this fit call"),
    (r"def train_step\(", "one training step, as Keras's own train_step"),
    (r"unpack_x_y_sample_weight\(", "splits the batch into inputs, targets and sample weights"),
    (r"probe\.data\(", "records the batch: inputs and targets"),
    (r"GradientTape\(", "records the operations to differentiate, as Keras does"),
    (r"probe\.forward\(", "records each layer's output: mean, std, min/max, zero, NaN/Inf and saturated fractions"),
    (r"graph\.(calling|feed|nodes)\b", "the forward pass, one layer at a time"),
    (r"graph\.result\(", "the model's prediction"),
    (r"compute_loss\(", "the loss, computed as model.fit computes it"),
    (r"\.track_loss\(", "updates the loss that the progress bar and the History show"),
    (r"scale_loss\(", "loss scaling (mixed precision), as Keras does"),
    (r"trainable_weights\b", "the weights the optimizer updates"),
    (r"tape\.gradient\(", "the gradients of the loss: for the weights, and for each layer's output"),
    (r"probe\.backward\(", "records the gradient reaching each layer's output"),
    (r"probe\.snapshot\(", "keeps the weights before the update, to measure it"),
    (r"apply_gradients\(", "the optimizer step, exactly as model.fit takes it"),
    (
        r"^\s+if weights:|trainable weights\.\"\)",
        "no optimizer step when nothing is trainable, as in Keras's train_step",
    ),
    (r"probe\.update\(", "records each weight's gradient, value and update"),
    (r"probe\.loss\(", "records the loss"),
    (r"compute_metrics\(|probe\.statistics\(", "returns the metrics and this step's recorded statistics"),
    (r"def next_step\(|get_next\(\)", "reads the next batch inside the compiled function, as Keras does"),
    (r"tf\.function\(|run_eagerly\b", "compiled as Keras compiles its own step (same jit_compile, no AutoGraph)"),
    (r"probe\.record\(", "stores this step's statistics in the trace"),
    (r"probe\.epoch_end\(", "records the epoch's loss, metrics and validation results"),
    (r"probe\.close\(", "saves the trace and writes the report when fit ends"),
    (r"note_error_site\(", "an error raised in the loop names your model.fit line"),
    (r"callbacks\.on_\w+\(", "calls your callbacks where model.fit calls them"),
    (r"stop_training\b", "stops when a callback asks, as model.fit does"),
    (r"epoch_logs\(|\.validate\(", "the epoch's logs and validation, as model.fit computes them"),
    (r"for epoch in |\.steps\(\)|catch_stop_iteration\(|reset_metrics\(", "the epochs and batches of model.fit"),
    (r"return model\.history\b", "returns the same History object as model.fit"),
]
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
            note = _note(text, INSERTED_NOTES) or _LOOP_NOTE
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
