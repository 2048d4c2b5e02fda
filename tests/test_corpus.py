"""Corpus labels are real: with plain Keras ``fit``, the buggy script shows the fault it is labelled with,
and its fixed twin trains to the stated accuracy or loss.

Checks are those of ``fixtures/labels.json`` in the language of ``corpus_checks.py``. The suite checks
one case per cause (CI's time is bounded); ``make bench`` checks every case the same way and prints how
many labels hold.
"""

import json
import sys

import pytest

from conftest import FIXTURES, ROOT, run_python
from corpus_checks import failed_checks

LABELS = json.loads((FIXTURES / "labels.json").read_text())
CASES = {case["id"]: case for case in LABELS["cases"]}
CAUSES = {
    "learning_rate", "last_layer_activation", "loss_function", "weight_initialization", "input_normalization",
    "vanishing_gradient", "exploding_gradient", "dead_relu", "saturated_activation", "numerical_operation",
    "output_range", "label_format", "optimizer", "batch_size", "regularization", "architecture", "data",
}


def test_labels_are_complete():
    assert len(CASES) >= 40
    folders = {p.name for p in (FIXTURES / "corpus").iterdir() if p.is_dir()}
    assert folders == set(CASES)
    for case in CASES.values():
        assert case["cause"] in CAUSES, case["id"]
        assert case["description"] and case["source"] and case["symptom"]
        assert case["expect_buggy"] and case["expect_fixed"]


ONE_PER_CAUSE = sorted({case["cause"]: case_id for case_id, case in sorted(CASES.items(), reverse=True)}.values())


@pytest.mark.slow
@pytest.mark.parametrize("case_id", ONE_PER_CAUSE)
def test_label_is_real(case_id, tmp_path):
    """The buggy script and its fixed twin, one after the other in one process (``corpus_harness.py``)."""
    case = CASES[case_id]
    scripts = {variant: FIXTURES / "corpus" / case_id / f"{variant}.py" for variant in ("buggy", "fixed")}
    records = {variant: tmp_path / f"{variant}.json" for variant in scripts}
    result = run_python(ROOT / "tests" / "corpus_harness.py", *[a for v in scripts for a in (scripts[v], records[v])])
    for variant, record_path in records.items():
        assert record_path.exists(), result.stderr[-3000:]
        record = json.loads(record_path.read_text())
        failures = failed_checks(record, case[f"expect_{variant}"])
        assert not failures, f"{case_id}/{variant}: {failures}"
        if variant == "buggy" and case["faulty_layers"]:
            layers = record["fits"][-1]["layers"]
            assert set(case["faulty_layers"]) <= set(layers), (case["faulty_layers"], layers)
