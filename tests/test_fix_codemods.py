"""Golden before/after files of ``dnn-instrument fix``'s codemods (``transformer/fixes``), one per kind of edit.

``golden_fixes/X/before.py`` with the finding of ``case.json`` must give, as its candidate number
``candidate``, exactly ``golden_fixes/X/after.py``: only the edited expressions change, every other byte
stays. After an intended change, regenerate with ``UPDATE_GOLDEN=1 pytest tests/test_fix_codemods.py`` and
review the diff.
"""

import difflib
import json
import os
from pathlib import Path

import pytest

from dnn_instrument.transformer import fixes

GOLDEN = Path(__file__).parent / "golden_fixes"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "before.py").exists())


def _candidate(case):
    spec = json.loads((GOLDEN / case / "case.json").read_text())
    before = (GOLDEN / case / "before.py").read_text()
    made = fixes.candidates(before, spec["finding"], [spec["finding"], *spec["others"]])
    assert len(made) > spec["candidate"], f"{case}: {len(made)} candidate(s): {[c.description for c in made]}"
    return before, made[spec["candidate"]]


@pytest.mark.parametrize("case", CASES)
def test_golden_fix(case):
    before, candidate = _candidate(case)
    expected = GOLDEN / case / "after.py"
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(candidate.code)
    assert candidate.code == expected.read_text()
    assert candidate.code != before


@pytest.mark.parametrize("case", CASES)
def test_only_edited_lines_change(case):
    """Lines outside the edit are kept byte for byte: the diff has one hunk of changed lines per edit site,
    and every removed line's text reappears in the added one except for the edited expression."""
    before, candidate = _candidate(case)
    compile(candidate.code, case, "exec", dont_inherit=True)
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=candidate.code.splitlines(), autojunk=False)
    kept = sum(block.size for block in matcher.get_matching_blocks())
    changed_before = len(before.splitlines()) - kept
    assert changed_before <= 3, f"{case}: {changed_before} original lines changed"


def test_no_candidate_for_a_cause_without_codemod():
    assert fixes.candidates("import keras\n", {"cause": "no_such_cause"}) == []
    assert not fixes.has_codemod("no_such_cause")


def test_learning_rates_to_try_follow_the_finding_else_the_rate():
    from dnn_instrument.transformer.fixes.learning_rate import rates

    assert rates(10.0, {"fix": "lower the learning rate from 10 to about 0.1"}) == [0.1, 0.01, 0.001]
    both = {"fix": "the loss does not fall: check the learning rate (try 10x lower and 10x higher)"}
    assert rates(1e-6, both, default=0.01) == [0.01, 0.1, 0.001]  # far too small: up, from the optimizer's default
    assert rates(5.0, both, default=0.01) == [0.5, 0.05, 0.005]  # far too large: down
    assert rates(0.01, both, default=0.01) == [0.001, 0.1, 0.0001]  # in between: both ways
    assert rates(1e-5, {"fix": "raise the learning rate"}) == [1e-4, 1e-3, 1e-2]  # no default known: powers of ten
