"""The diagnosis survives faults, and dnn-instrument never takes the user's training down.

Real runs are interrupted (SIGINT, SIGTERM), killed (SIGKILL) or fail; the report must be on disk
afterwards, or be rebuilt from the journal. A probe or a rule that fails is switched off with a warning
(``DNN_INSTRUMENT_STRICT=1``, which the rest of the suite uses, raises instead). The trace of a long run
stays bounded in memory.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import PROGRAMS, run_cli, run_python

from dnn_instrument.runtime import analysis, session
from dnn_instrument.runtime.record import trace
from dnn_instrument.runtime.record.stats import COLUMN, STATS
from dnn_instrument.runtime.report import document as report
from dnn_instrument.transformer import instrument

LONG = PROGRAMS / "long_training.py"


def _default_signals():
    """In the child: Ctrl-C as a user's shell delivers it (a pytest-xdist worker ignores SIGINT, and an ignored
    signal stays ignored across exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(script, folder, *args):
    """Start an instrumented copy of ``script`` and wait until it has journalled some rows."""
    instrumented = folder / script.name
    instrumented.write_text(instrument(script.read_text(), str(script)).code)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "DNN_INSTRUMENT_DIR": str(folder / "runs")}
    process = subprocess.Popen(
        [sys.executable, str(instrumented), *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = list((folder / "runs").glob("*/trace-0.rows"))
        if rows and rows[0].stat().st_size > 0:
            return process, rows[0].parent
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.kill()
    raise AssertionError("the run journalled nothing in 120 s")


@pytest.mark.slow
@pytest.mark.parametrize("how, code", [(signal.SIGINT, -signal.SIGINT), (signal.SIGTERM, 143)])
def test_interrupted_run_writes_its_report(tmp_path, how, code):
    process, folder = start(LONG, tmp_path, "fit")
    process.send_signal(how)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr[-2000:]
    document = json.loads((folder / "report.json").read_text())
    assert document["iterations"] > 0 and document["fits"][0]["epochs"] < 400
    assert "run folder" in stderr
    assert not (folder / "trace-0.rows").exists() and (folder / "trace-0.npz").exists()


@pytest.mark.slow
@pytest.mark.parametrize("mechanism", ["loop", "callback"])
def test_interrupt_lost_in_a_destructor_still_stops_training(tmp_path, mechanism):
    """Python drops a KeyboardInterrupt raised inside ``__del__``; the next training step raises it again."""
    script = tmp_path / "long_training.py"
    source = instrument(LONG.read_text(), str(LONG), callback_only=mechanism == "callback").code
    script.write_text(source)
    result = run_python(
        script,
        "lost-interrupt",
        cwd=tmp_path,
        env={"DNN_INSTRUMENT_DIR": str(tmp_path / "runs")},
        preexec_fn=_default_signals,
    )
    assert "Exception ignored" in result.stderr  # the interrupt was lost where Python loses it
    assert result.returncode == -signal.SIGINT, result.stderr[-2000:]
    document = json.loads(next((tmp_path / "runs").glob("*/report.json")).read_text())
    assert document["fits"][0]["epochs"] == 2  # stopped in the third epoch, at its first step


@pytest.mark.slow
def test_killed_run_is_rebuilt_from_its_journal(tmp_path):
    process, folder = start(LONG, tmp_path, "fit")
    time.sleep(1.0)
    process.kill()
    process.communicate(timeout=60)
    assert not (folder / "report.json").exists()  # nothing ran on the way out
    stores = session.load(folder)
    assert len(stores) == 1 and stores[0].iterations > 0 and "rebuilt from its journal" in stores[0].stopped
    document = report.build("long_training.py", stores)
    assert document["iterations"] == stores[0].iterations
    assert [layer["name"] for layer in document["fits"][0]["layers"]] == ["dense", "dense_1"]
    printed = run_cli("report", folder, "--html")  # what a user does after a kill
    assert printed.returncode == 0, printed.stderr
    assert f"{stores[0].iterations} iterations recorded" in printed.stdout and "killed?" in printed.stdout
    assert (folder / "report.html").exists()


@pytest.mark.slow
def test_killed_while_checkpointing_then_reloaded_and_trained_on(tmp_path):
    """Saving during instrumented training (ModelCheckpoint to .keras), a SIGKILL, then the checkpoint reloaded
    and trained on, instrumented: the same weights as plain fit continuing from the same checkpoint."""
    script = PROGRAMS / "checkpointed_training.py"
    process, _ = start(script, tmp_path, "train")
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ckpt-*.keras"))) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.2)
    process.kill()
    process.communicate(timeout=60)
    checkpoints = sorted(tmp_path.glob("ckpt-*.keras"))
    assert len(checkpoints) >= 2, "no checkpoint written in 120 s"
    checkpoint = checkpoints[-2]  # complete: the next one was begun after it was written
    plain = run_python(script, "resume", checkpoint, tmp_path / "plain.npz", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr[-3000:]
    resumed = tmp_path / "resume" / script.name
    resumed.parent.mkdir()
    resumed.write_text(instrument(script.read_text(), str(script)).code)
    runs = tmp_path / "resume" / "runs"
    result = run_python(
        resumed,
        "resume",
        checkpoint,
        tmp_path / "probed.npz",
        cwd=resumed.parent,
        env={"DNN_INSTRUMENT_DIR": str(runs)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    a, b = np.load(tmp_path / "plain.npz"), np.load(tmp_path / "probed.npz")
    assert len(a.files) == len(b.files) == 4 and all(np.array_equal(a[k], b[k]) for k in a.files)
    document = json.loads(next(runs.glob("*/report.json")).read_text())
    assert document["iterations"] == 2 * 32  # the two epochs trained on, each of 32 steps, in the loop


@pytest.mark.slow
def test_a_script_that_raises_during_fit_keeps_its_report(tmp_path):
    instrumented = tmp_path / LONG.name
    instrumented.write_text(instrument(LONG.read_text(), str(LONG)).code)
    result = run_python(instrumented, "raise", cwd=tmp_path, env={"DNN_INSTRUMENT_DIR": str(tmp_path / "runs")})
    assert result.returncode == 1 and "the user's callback fails" in result.stderr
    assert "model.fit call at long_training.py:" in result.stderr  # the error names the user's line
    document = json.loads(next((tmp_path / "runs").glob("*/report.json")).read_text())
    assert document["iterations"] == 2 * 32  # two whole epochs of 32 steps


def plain_program(tmp_path, callback=False):
    """A tiny training in this process: its final weights, with the probes of the generated loop or Diagnose."""
    source = (PROGRAMS / "long_training.py").read_text().replace("epochs=400", "epochs=2")
    if callback:
        source = source.replace("callbacks=callbacks", "callbacks=callbacks + [dnn_instrument.runtime.Diagnose()]")
        source = "import dnn_instrument.runtime\n" + source
    script = tmp_path / "tiny.py"
    script.write_text(source)
    return script


@pytest.mark.slow
@pytest.mark.parametrize("mechanism", ["loop", "callback"])
def test_a_failing_probe_never_stops_training(tmp_path, mechanism):
    """With the reduction of statistics broken, training goes on exactly as plain fit, with one warning;
    in strict mode the failure is raised."""
    script = plain_program(tmp_path, callback=mechanism == "callback")
    code = script.read_text() if mechanism == "callback" else instrument(script.read_text(), str(script)).code
    code += "\nnp.savez(sys.argv[2], *model.get_weights())\n"
    broken = tmp_path / "broken.py"
    broken.write_text(
        "import sys, runpy\n"
        "from dnn_instrument.runtime.record import stats\n"
        "def fails(*args, **kwargs):\n    raise ValueError('a probe bug')\n"
        "stats.statistics = fails\n"
        f"runpy.run_path({str(tmp_path / 'instrumented.py')!r}, run_name='__main__')\n"
    )
    (tmp_path / "instrumented.py").write_text(code)
    plain = tmp_path / "plain.py"
    plain.write_text(script.read_text() + "\nnp.savez(sys.argv[2], *model.get_weights())\n")
    env = {"DNN_INSTRUMENT_DIR": str(tmp_path / "runs"), "DNN_INSTRUMENT_STRICT": "0"}
    expected = run_python(plain, "fit", tmp_path / "plain.npz", cwd=tmp_path)
    assert expected.returncode == 0, expected.stderr[-2000:]
    result = run_python(broken, "fit", tmp_path / "probed.npz", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count("failed (ValueError: a probe bug)") == 1 and "Training goes on" in result.stderr
    a, b = np.load(tmp_path / "plain.npz"), np.load(tmp_path / "probed.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a.files)
    strict = run_python(broken, "fit", tmp_path / "strict.npz", cwd=tmp_path, env={**env, "DNN_INSTRUMENT_STRICT": "1"})
    assert strict.returncode != 0 and "a probe bug" in strict.stderr


def test_a_failing_rule_costs_only_its_own_symptom(monkeypatch, capsys):
    from test_analysis import MLP, set_series
    from test_analysis import trace as synthetic

    store = synthetic(MLP)
    set_series(store, "input", None, "abs_max", 500.0)  # unnormalized input: found by input_scale

    def broken(view):
        raise KeyError("a rule bug")

    monkeypatch.setenv("DNN_INSTRUMENT_STRICT", "0")
    monkeypatch.setattr(analysis, "RULES", (broken, *analysis.RULES))
    findings = analysis.analyse(store)
    assert [f["symptom"] for f in findings] == ["unnormalized_input"]
    assert "the analysis rule broken failed" in capsys.readouterr().err
    monkeypatch.setenv("DNN_INSTRUMENT_STRICT", "1")
    with pytest.raises(KeyError):
        analysis.analyse(store)


def rows(n, sites=3, fault_at=None):
    values = np.zeros((n, sites, len(STATS)), np.float32)
    values[:, :, COLUMN["mean"]] = np.arange(n)[:, None]
    values[:, :, COLUMN["max"]] = np.arange(n)[:, None]
    if fault_at is not None:
        values[fault_at, 1, COLUMN["frac_nan"]] = 0.25
    return values


def test_merged_rows_keep_extremes_and_faults():
    values = rows(6, fault_at=3)
    keep = np.array([True, False, False, False, False, True])
    merged = trace.merge_rows(values, np.ones(6, np.int64), keep)
    assert merged.first == [0, 1, 3, 5] and merged.spans.tolist() == [1, 2, 2, 1]
    assert merged.values[1, 0, COLUMN["mean"]] == 1.5 and merged.values[2, 0, COLUMN["max"]] == 4
    assert merged.values[2, 1, COLUMN["frac_nan"]] == 0.25  # never averaged away


def test_a_long_run_stays_bounded_and_keeps_the_first_fault(tmp_path):
    store = trace.TraceStore(site="t")
    store.set_sites([{"phase": "loss", "layer_index": None, "layer": "", "tensor": str(i)} for i in range(3)])
    store.journal = trace.Journal(str(tmp_path / "trace-0"))
    steps = 100_000
    for start in range(0, steps, 500):
        block = rows(500, fault_at=60_123 - start if start <= 60_123 < start + 500 else None)
        block[:, :, COLUMN["mean"]] += start
        store.append([0] * 500, list(range(start, start + 500)), block)
    limit = trace.HEAD + trace.MIDDLE + trace.TAIL + 2 * trace.AROUND_FAULT + 500
    assert store.iterations == steps and len(store.values) <= limit
    assert store.spans.sum() == steps and store.first_fault == 60_123
    at = store.row_iterations
    around = (at >= 60_123 - trace.AROUND_FAULT) & (at <= 60_123 + trace.AROUND_FAULT)
    assert around.sum() == 2 * trace.AROUND_FAULT + 1 and np.all(store.spans[around] == 1)
    view = analysis.TraceView(store)
    assert view.iteration_of(int(np.flatnonzero(at == 60_123)[0])) == 60_123
    # the disk holds the same bounded trace: a checkpoint plus the rows journalled since
    loaded = trace.load(str(tmp_path / "trace-0"))
    assert loaded.iterations == steps and np.array_equal(loaded.values, store.values)
    assert (tmp_path / "trace-0.rows").stat().st_size < 600 * 3 * len(STATS) * 4 * 2
