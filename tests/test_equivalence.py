"""The rewritten program trains exactly as the original: same final weights, same History.

Each program in ``tests/programs/eq_*.py`` is an ordinary Keras script. The test runs it as written
and instrumented (two processes, same seed, CPU) and compares every weight (max |diff| <= 1e-5) and
every History value (<= 1e-4), and checks that the instrumented run recorded every iteration. A program's
``# says: TEXT`` lines are messages the rewrite or the instrumented run must give (a fallback names its reason);
``# mechanism: loop|callback`` says what must have recorded every fit, ``# replicas: N`` that the loop trained
it under a tf.distribute strategy over N replicas.
"""

import json
import re

import numpy as np
import pytest

from dnn_instrument.transformer import instrument

from conftest import PROGRAMS, run_python

CASES = sorted(p.stem for p in PROGRAMS.glob("eq_*.py"))


def _load(prefix, name):
    weights = np.load(f"{prefix}.{name}.npz")
    with open(f"{prefix}.{name}.json") as f:
        history = json.load(f)
    return [weights[k] for k in weights.files], history


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_instrumented_program_trains_like_fit(case, tmp_path):
    source_path = PROGRAMS / f"{case}.py"
    source = source_path.read_text()
    result = instrument(source, str(source_path))
    assert result.changed, result.messages
    instrumented = tmp_path / f"{case}.py"
    instrumented.write_text(result.code)
    report = tmp_path / "report.json"
    env = {"PYTHONPATH": str(PROGRAMS)}

    original = run_python(source_path, env={**env, "EQ_OUT": str(tmp_path / "a")}, cwd=tmp_path)
    assert original.returncode == 0, original.stderr[-3000:]
    rewritten = run_python(
        instrumented,
        env={**env, "EQ_OUT": str(tmp_path / "b"), "DNN_INSTRUMENT_REPORT": str(report), "DNN_INSTRUMENT_DIR": str(tmp_path / "runs")},
        cwd=tmp_path,
    )
    assert rewritten.returncode == 0, rewritten.stderr[-3000:]
    said = "\n".join(message.text for message in result.messages) + "\n" + rewritten.stderr
    for expected in re.findall(r"^# says: (.+)$", source, re.MULTILINE):  # a fallback names its reason
        assert expected in said, (expected, said[-3000:])

    names = sorted({p.name.split(".")[1] for p in tmp_path.glob("a.*.npz")})
    assert names, "the program saved nothing"
    for name in names:
        weights_a, history_a = _load(tmp_path / "a", name)
        weights_b, history_b = _load(tmp_path / "b", name)
        assert len(weights_a) == len(weights_b)
        worst = max(float(np.max(np.abs(a - b))) for a, b in zip(weights_a, weights_b))
        assert worst <= 1e-5, f"{name}: weights differ by {worst}"
        assert sorted(history_a) == sorted(history_b)
        for key in history_a:
            np.testing.assert_allclose(history_b[key], history_a[key], atol=1e-4, rtol=0, err_msg=f"{name}: {key}")

    document = json.loads(report.read_text())
    assert document["schema"] == 1
    recorded = sum(fit["iterations"] for fit in document["fits"])
    assert document["iterations"] == recorded > 0
    for fit in document["fits"]:
        assert fit["epochs"] == len(fit["history"])  # one History row per epoch trained
        for mechanism in re.findall(r"^# mechanism: (\w+)$", source, re.MULTILINE):
            assert fit["mechanism"] == mechanism
        for replicas in re.findall(r"^# replicas: (\d+)$", source, re.MULTILINE):
            assert fit["distribution"]["replicas"] == int(replicas)
