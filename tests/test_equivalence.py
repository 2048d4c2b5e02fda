"""The rewritten program trains exactly as the original: same final weights, same History.

Each program in ``tests/programs/eq_*.py`` is an ordinary Keras script. The test runs it as written
and instrumented (two processes, same seed, CPU; ``program_pairs``) and compares every weight
(max |diff| <= 1e-5) and every History value (<= 1e-4), and checks that the instrumented run recorded
every iteration. A program's ``# says: TEXT`` lines are messages the rewrite or the instrumented run must
give (a fallback names its reason); ``# mechanism: loop|callback`` says what must have recorded every fit,
``# replicas: N`` that the loop trained it under a tf.distribute strategy over N replicas, ``# bit-identical``
that the weights must be equal to the last bit.
"""

import json
import re

import pytest
from conftest import PROGRAMS
from program_pairs import assert_said, assert_same_training, run_both

CASES = sorted(p.stem for p in PROGRAMS.glob("eq_*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_instrumented_program_trains_like_fit(case, tmp_path):
    source_path = PROGRAMS / f"{case}.py"
    source = source_path.read_text()
    pair = run_both(source_path, tmp_path)
    assert pair.result.changed, pair.result.messages
    assert pair.original.returncode == 0, pair.original.stderr[-3000:]
    assert pair.rewritten.returncode == 0, pair.rewritten.stderr[-3000:]
    assert_said(pair, source)
    comparisons = assert_same_training(tmp_path)
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
