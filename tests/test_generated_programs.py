"""Property: any small Keras training program, instrumented, trains bit for bit as the original.

``generated_programs.programs()`` writes random programs (import spellings, model forms, layer
stacks for dense / image / sequence inputs, heads and losses, optimizers, ``fit`` arguments, numpy or
``tf.data`` input). For each one: the CLI instruments it (exit 0, one call rewritten as the loop, the
output compiles); the original and the instrumented program train (``DNN_INSTRUMENT_STOP=never``);
the final weights and optimizer variables must be bit-identical and the History equal, and the
instrumented run must have recorded every optimizer step.

Programs run in two long-lived workers (originals, instrumented copies), one ``exec`` per program,
so that TensorFlow starts twice per session instead of twice per program;
``test_a_worker_trains_as_a_fresh_process`` checks that this changes nothing.
``DNN_INSTRUMENT_FUZZ_EXAMPLES=N`` (``make fuzz``) draws N random programs and shrinks a failure;
the default is a short deterministic run. Shrunk failures are kept as standalone programs in
``tests/regressions/`` and run here too; one whose first line is ``# known difference, within TOL: WHY``
is a rounding difference that is understood and is compared within TOL.
"""

import json
import os
import re
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, run_cli, run_python
from generated_programs import Worker, expected_steps, programs
from hypothesis import HealthCheck, Phase, given, note, settings
from program_pairs import _load

# one xdist worker runs this module's tests (`make test` uses --dist loadgroup), so that its module-scoped
# fixture (a real run) runs once
pytestmark = pytest.mark.xdist_group("generated_programs")

FUZZ = os.environ.get("DNN_INSTRUMENT_FUZZ_EXAMPLES")
SHRINK = bool(FUZZ) or bool(os.environ.get("DNN_INSTRUMENT_FUZZ_SHRINK"))
REGRESSIONS = ROOT / "tests" / "regressions"
_HEALTH = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.large_base_example,
]

# The default run is deterministic and writes no example database; `make fuzz` is random, keeps its
# failures in .hypothesis/ (git-ignored) and shrinks them.
SETTINGS = settings(
    max_examples=int(FUZZ or 6),
    deadline=None,
    derandomize=not FUZZ,
    database=settings.default.database if FUZZ else None,
    phases=tuple(Phase) if SHRINK else (Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=_HEALTH,
    print_blob=bool(FUZZ),
)


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers")
    env = {
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONUNBUFFERED": "1",
        "DNN_INSTRUMENT_DIR": str(folder / "runs"),
        "DNN_INSTRUMENT_STOP": "never",  # train on through a NaN, as the original does
    }
    pair = Worker("original", str(folder), env), Worker("instrumented", str(folder), env)
    yield pair
    for worker in pair:
        worker.stop()
    print(f"\n{pair[0].programs} generated programs trained, each as written and instrumented")  # shown with -s


def instrument(source_path, folder):
    """The CLI's instrumented copy of ``source_path`` (asserting it rewrote the one fit as a loop)."""
    target = folder / f"{source_path.stem}_instrumented.py"
    result = run_cli(source_path, "-o", target)
    assert result.returncode == 0, f"CLI exit {result.returncode}:\n{result.stderr[-3000:]}"
    assert "1 fit call(s) rewritten as an explicit loop, 0 given the Diagnose callback" in result.stderr, result.stderr
    code = target.read_text()
    compile(code, str(target), "exec")
    return target


def train_both(source, folder, workers, name="program"):
    """Instrument ``source``, train both versions in the workers; the output prefixes and the report path."""
    original = folder / f"{name}.py"
    original.write_text(source)
    instrumented = instrument(original, folder)
    report = folder / f"{name}.report.json"
    workers[0].submit(original, folder / f"{name}.a")
    workers[1].submit(instrumented, folder / f"{name}.b", report)
    ran_original, ran_instrumented = workers[0].collect(), workers[1].collect()
    assert ran_original["ok"], f"the original program failed (a generator bug):\n{ran_original['error']}"
    assert ran_instrumented["ok"], f"the instrumented program failed:\n{ran_instrumented['error']}"
    return folder / f"{name}.a", folder / f"{name}.b", report


def assert_same_training(prefix_a, prefix_b, tolerance=0.0):
    """Bit-identical arrays (weights, then optimizer variables) and an equal History; or, for a known
    difference of rounding, within ``tolerance`` (the bar of ``test_equivalence.py`` is 1e-5)."""
    weights_a, history_a = _load(prefix_a, "model")
    weights_b, history_b = _load(prefix_b, "model")
    assert len(weights_a) == len(weights_b), (
        f"{len(weights_a)} arrays saved by the original, {len(weights_b)} instrumented"
    )
    differ = [
        f"array {i} {a.shape}: max |diff| {float(np.max(np.abs(a.astype('float64') - b.astype('float64')))):.3g}"
        for i, (a, b) in enumerate(zip(weights_a, weights_b))
        if a.shape != b.shape
        or a.dtype != b.dtype
        or not np.allclose(a, b, rtol=0, atol=tolerance, equal_nan=a.dtype.kind == "f")
    ]
    assert not differ, f"{len(differ)} of {len(weights_a)} arrays differ:\n" + "\n".join(differ)
    assert sorted(history_a) == sorted(history_b), f"History keys {sorted(history_a)} != {sorted(history_b)}"
    for key in history_a:
        np.testing.assert_allclose(history_b[key], history_a[key], rtol=0, atol=tolerance, err_msg=f"History {key!r}")


def assert_recorded(report, steps):
    document = json.loads(report.read_text())
    recorded = sum(fit["iterations"] for fit in document["fits"])
    assert document["iterations"] == recorded > 0
    if steps is not None:
        assert recorded == steps, f"{recorded} iterations recorded, the fit takes {steps} optimizer steps"
    for fit in document["fits"]:
        assert fit["epochs"] == len(fit["history"])


def check_program(source, folder, workers, steps, tolerance=0.0):
    prefix_a, prefix_b, report = train_both(source, folder, workers)
    assert_same_training(prefix_a, prefix_b, tolerance)
    assert_recorded(report, steps)


@pytest.mark.slow
@SETTINGS
@given(program=programs())
def test_generated_program_trains_like_fit(program, workers, tmp_path_factory):
    note(program.source)
    check_program(program.source, tmp_path_factory.mktemp("generated"), workers, program.steps)


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(REGRESSIONS.glob("*.py")), ids=lambda path: path.stem)
def test_regression_program_trains_like_fit(path, workers, tmp_path):
    """Shrunk failures, kept. A first line ``# known difference, within TOLERANCE: WHY`` documents a rounding
    difference that is understood (and compares within it); any other program must train bit for bit."""
    source = path.read_text()
    known = re.match(r"# known difference, within ([0-9.e-]+): ", source)
    check_program(source, tmp_path, workers, expected_steps(source), float(known.group(1)) if known else 0.0)


@pytest.mark.slow
@settings(
    max_examples=1,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.generate,),
    suppress_health_check=_HEALTH,
)
@given(first=programs(), second=programs())
def test_a_worker_trains_as_a_fresh_process(first, second, workers, tmp_path_factory):
    """A program exec'd by a worker after another one trains exactly as in a process of its own."""
    folder = tmp_path_factory.mktemp("fresh")
    train_both(first.source, folder, workers, "first")
    prefix_a, prefix_b, _ = train_both(second.source, folder, workers, "second")
    env = {"DNN_INSTRUMENT_DIR": str(folder / "runs"), "DNN_INSTRUMENT_STOP": "never"}
    for script, worker_prefix in ((folder / "second.py", prefix_a), (folder / "second_instrumented.py", prefix_b)):
        fresh = run_python(script, folder / f"fresh_{script.stem}", env=env, cwd=folder)
        assert fresh.returncode == 0, fresh.stderr[-3000:]
        assert_same_training(worker_prefix, folder / f"fresh_{script.stem}")


def test_a_reply_that_arrives_with_ready_is_read(tmp_path):
    """A quick program's reply can reach the pipe together with the worker's "ready" (a fresh worker, a busy
    machine): ``collect`` must return it, not wait on the pipe for a line it has already read."""
    both_sent = tmp_path / "both-sent"
    fake = (
        'import sys, pathlib; sys.stdout.write(\'{"ready": true}\\n{"ok": true, "seconds": 0}\\n\'); '
        f"sys.stdout.flush(); pathlib.Path({str(both_sent)!r}).touch(); sys.stdin.read()"
    )
    worker = Worker("fake", str(tmp_path), {}, command=[sys.executable, "-c", fake])
    try:
        worker.submit("program.py", "out")
        while not both_sent.exists():  # both lines are in the pipe before the first is read
            assert worker.process.poll() is None, worker.log_tail()
            time.sleep(0.05)
        assert worker.collect(timeout=60) == {"ok": True, "seconds": 0}
    finally:
        worker.stop()
