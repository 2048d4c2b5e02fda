"""The rewritten program trains exactly as the original: same final weights, same History.

Each program in ``tests/programs/eq_*.py`` is an ordinary Keras script. The test runs it as written
and instrumented (same seed, CPU; ``program_pairs``) and compares every weight
(max |diff| <= 1e-5) and every History value (<= 1e-4), and checks that the instrumented run recorded
every iteration. A program's ``# says: TEXT`` lines are messages the rewrite or the instrumented run must
give (a fallback names its reason); ``# mechanism: loop|callback`` says what must have recorded every fit,
``# replicas: N`` that the loop trained it under a tf.distribute strategy over N replicas, ``# bit-identical``
that the weights must be equal to the last bit.
"""

import json
import re

import pytest
from conftest import PROGRAMS, halves
from program_pairs import as_written, assert_said, assert_same_training, in_halves, run_both, shares_a_process

CASES = sorted(p.stem for p in PROGRAMS.glob("eq_*.py"))
# The programs as written run in turn in two processes, but for those that set process-wide state
# (``program_pairs.shares_a_process``); the instrumented programs each in a process of their own, as a user runs them.
SHARED = [case for case in CASES if shares_a_process(PROGRAMS / f"{case}.py")]
HALVES = halves(SHARED, "equivalence")


@pytest.mark.slow
@pytest.mark.parametrize("case", in_halves(CASES, HALVES))
def test_instrumented_program_trains_like_fit(case, tmp_path, tmp_path_factory):
    source_path = PROGRAMS / f"{case}.py"
    source = source_path.read_text()
    original, folder = as_written(case, HALVES, tmp_path_factory, tmp_path)
    pair = run_both(source_path, folder, original=original)
    assert pair.result.changed, pair.result.messages
    assert pair.original.returncode == 0, pair.original.stderr[-3000:]
    assert pair.rewritten.returncode == 0, pair.rewritten.stderr[-3000:]
    assert_said(pair, source)
    comparisons = assert_same_training(folder)
    if re.search(r"^# bit-identical$", source, re.MULTILINE):  # not within a tolerance: every bit
        assert all(c.max_weight_diff == 0 for c in comparisons), [(c.name, c.max_weight_diff) for c in comparisons]

    document = json.loads(pair.report.read_text())
    assert document["schema"] == 2
    recorded = sum(fit["iterations"] for fit in document["fits"])
    assert document["iterations"] == recorded > 0
    for fit in document["fits"]:
        assert fit["epochs"] == len(fit["history"])  # one History row per epoch trained
        for mechanism in re.findall(r"^# mechanism: (\w+)$", source, re.MULTILINE):
            assert fit["mechanism"] == mechanism
        for replicas in re.findall(r"^# replicas: (\d+)$", source, re.MULTILINE):
            assert fit["distribution"]["replicas"] == int(replicas)
