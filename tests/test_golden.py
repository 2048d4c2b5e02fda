"""Golden before/after files: the rewrite of each supported construct, byte for byte.

``golden/before/X.py`` instrumented must equal ``golden/after/X.py``. After an intended change of the
generated code, regenerate with ``UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and review the diff.
"""

import os
from pathlib import Path

import pytest

from dnn_instrument.transformer import diff, instrument

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in (GOLDEN / "before").glob("*.py"))


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    before = (GOLDEN / "before" / case).read_text()
    produced = instrument(before, case).code
    expected_path = GOLDEN / "after" / case
    if os.environ.get("UPDATE_GOLDEN"):
        expected_path.write_text(produced)
    assert produced == expected_path.read_text()


@pytest.mark.parametrize("case", CASES)
def test_user_lines_survive_byte_for_byte(case):
    """Every original line is still there, in order; the only lines that change are those of handled fit calls."""
    before = (GOLDEN / "before" / case).read_text().splitlines()
    result = instrument("\n".join(before) + "\n", case)
    after = result.code.splitlines()
    inserted = {line for first, last in result.inserted for line in range(first, last + 1)}
    kept = [text for number, text in enumerate(after, start=1) if number not in inserted]
    assert len(kept) == len(before)
    changed = [(old, new) for old, new in zip(before, kept) if old != new]
    markers = ("instrumented_fit(", f"'{case}:", "Diagnose(", "with_diagnose(")
    for old, new in changed:
        assert any(marker in new for marker in markers), (old, new)


def test_each_rewritten_call_keeps_its_arguments_text():
    before = (GOLDEN / "before" / "sequential_list.py").read_text()
    after = instrument(before, "sequential_list.py").code
    assert (
        "history = instrumented_fit(\n    'sequential_list.py:21', model, X, y,\n    epochs=5,      # a few epochs\n"
        in after
    )


def test_every_note_of_the_templates_reaches_the_diff_page():
    """``--diff-html``'s notes are written in the templates beside the lines they explain: each one annotates its
    line of a rewritten program, so that an edit of a template line cannot orphan its note."""
    notes = diff.template_notes()
    assert len(notes) > 40
    before = (GOLDEN / "before" / "several_fits.py").read_text()
    result = instrument(before, "several_fits.py")
    rows = diff.side_by_side(before, result.code, result.inserted)
    shown = {row["note"] for row in rows if row["kind"] == "inserted"}
    assert {note for _, note in notes} <= shown
    assert not any(token in result.code for token in ("{#", "#}"))  # the notes are not in the generated code
