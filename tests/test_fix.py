"""``dnn-instrument fix`` end to end: corpus scripts diagnosed, patched and verified by training, one per kind
of fault; and its answers to bad input (no fault, a cause without codemod, a patch that would not compile).

The end-to-end cases run ``fix`` with a small budget (``--max-epochs``): each is a buggy run plus one or two
candidate runs of a few seconds of training.
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import FIXTURES

from dnn_instrument import fixing
from dnn_instrument.transformer import fixes


def run_fix(*args, cwd, timeout=300):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "DNN_INSTRUMENT_DIR": str(cwd / "runs")}
    return subprocess.run(
        [sys.executable, "-m", "dnn_instrument", "fix", "--color=never", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def corpus(case, variant="buggy"):
    return FIXTURES / "corpus" / case / f"{variant}.py"


# (case, budget in epochs, what the fixed line must contain, what the removed line held)
END_TO_END = [
    ("a01_softmax_one_unit_bce", 3, "activation='sigmoid'", "activation='softmax'"),  # output activation
    ("a07_cce_single_unit_zero_loss", 3, 'loss="binary_crossentropy"', 'loss="categorical_crossentropy"'),  # loss
    ("b01_sgd_lr_ten_nan", 2, "SGD(learning_rate=", "SGD(learning_rate=10.0)"),  # learning rate
    ("b12_wine_unscaled", 5, ".std(axis=0)", None),  # input scaling
    ("b13_lambda_log_zero", 2, "tf.math.log(t + ", "tf.math.log(t)"),  # epsilon in a Lambda
]


@pytest.mark.slow
@pytest.mark.parametrize("case, epochs, added, removed", END_TO_END, ids=[c[0] for c in END_TO_END])
def test_fix_end_to_end(case, epochs, added, removed, tmp_path):
    patched = tmp_path / "fixed.py"
    result = run_fix("--max-epochs", epochs, "-o", patched, corpus(case), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"at most {epochs} epochs" in result.stderr  # the budget is stated
    assert "VERIFIED" in result.stderr
    before, after = corpus(case).read_text(), patched.read_text()
    compile(after, str(patched), "exec")
    plus = [
        l[1:] for l in fixing._diff(before, after, "x").splitlines() if l.startswith("+") and not l.startswith("+++")
    ]
    minus = [
        l[1:] for l in fixing._diff(before, after, "x").splitlines() if l.startswith("-") and not l.startswith("---")
    ]
    assert any(added in line for line in plus), plus
    if removed:
        assert any(removed in line for line in minus), minus
    kept = set(before.splitlines()) - set(minus)
    assert kept <= set(after.splitlines())  # every other line is kept as it was
    folder = next((tmp_path / "runs").iterdir())
    record = json.loads((folder / "fix.json").read_text())
    assert record["outcome"] == "verified" and record["candidates"][record["verified"]]["verdict"] in ("ok", "warnings")
    assert (folder / "fix.diff").exists() and 'id="fix-diff"' in (folder / "report.html").read_text()


@pytest.mark.slow
def test_nothing_to_fix_on_a_fixed_twin(tmp_path):
    result = run_fix("--max-epochs", 3, corpus("a01_softmax_one_unit_bce", "fixed"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "nothing to fix" in result.stderr and result.stdout == ""


def _run_folder(tmp_path, findings, verdict="buggy"):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps({"verdict": verdict, "findings": findings, "fits": []}))
    return folder


def test_from_a_run_without_fault_says_nothing_to_fix(tmp_path):
    folder = _run_folder(tmp_path, [], verdict="ok")
    result = run_fix("--from", folder, corpus("a01_softmax_one_unit_bce", "fixed"), cwd=tmp_path)
    assert result.returncode == 0 and "nothing to fix" in result.stderr and result.stdout == ""


def test_a_cause_without_codemod_prints_the_text_fix(tmp_path):
    finding = {
        "cause": "something_new",
        "symptom": "odd",
        "layer": None,
        "source": None,
        "fix": "do the right thing",
        "evidence": "",
        "phase": "static",
        "iteration": 0,
    }
    folder = _run_folder(tmp_path, [finding])
    script = tmp_path / "train.py"
    script.write_text("import keras\n")
    result = run_fix("--from", folder, script, cwd=tmp_path)
    assert result.returncode == 1
    assert "no codemod for this cause yet" in result.stderr and "do the right thing" in result.stdout
    assert script.read_text() == "import keras\n"
    assert json.loads((folder / "fix.json").read_text())["outcome"] == "no codemod"


def test_warnings_are_not_root_causes():
    document = {"findings": [{"cause": "data", "severity": "warning"}, {"cause": "learning_rate", "severity": "fault"}]}
    assert fixing.root_cause(document)["cause"] == "learning_rate"
    assert fixing.root_cause({"findings": [{"cause": "data", "severity": "warning"}]}) is None
    assert fixing.root_cause({"findings": [{"cause": "data"}]})["cause"] == "data"  # findings without severity


def test_a_patch_that_would_not_compile_is_never_offered(monkeypatch):
    from dnn_instrument.transformer.fixes import learning_rate

    monkeypatch.setattr(
        learning_rate, "candidates", lambda source, finding, findings=(): [("broken", "model.compile(\n")]
    )
    assert fixes.candidates("import keras\n", {"cause": "learning_rate"}) == []


def test_verification_needs_a_healthy_verdict_and_a_better_loss_or_metric():
    buggy = {
        "verdict": "buggy",
        "findings": [{"cause": "learning_rate"}],
        "fits": [{"history": [{"epoch": 0, "loss": "nan"}, {"epoch": 1, "loss": "nan"}]}],
    }
    healthy = {"verdict": "ok", "findings": [], "fits": [{"history": [{"epoch": 0, "loss": 3.0, "accuracy": 0.5}]}]}
    assert fixing.judge(buggy, healthy)["verified"]
    still_buggy = {**healthy, "verdict": "buggy", "findings": [{"cause": "learning_rate"}]}
    assert not fixing.judge(buggy, still_buggy)["verified"]
    stuck = {
        "verdict": "buggy",
        "fits": [{"history": [{"loss": 1.0, "accuracy": 0.6}, {"loss": 0.9, "accuracy": 0.6}]}],
    }
    worse = {"verdict": "ok", "fits": [{"history": [{"loss": 1.2, "accuracy": 0.5}, {"loss": 1.1, "accuracy": 0.55}]}]}
    assert not fixing.judge(stuck, worse)["verified"]  # compared at epoch 2: loss 0.9 -> 1.1, accuracy 0.6 -> 0.55
    better_metric = {
        "verdict": "warnings",
        "fits": [{"history": [{"loss": 1.2, "accuracy": 0.5}, {"loss": 1.1, "accuracy": 0.9}]}],
    }
    assert fixing.judge(stuck, better_metric)["verified"]


def test_budget_caps_epochs_in_the_generated_loop(tmp_path):
    """DNN_INSTRUMENT_MAX_EPOCHS is honoured by FitData, so the generated loop needs no change."""
    script = tmp_path / "train.py"
    script.write_text(
        "import keras, numpy as np\n"
        "x = np.random.default_rng(0).normal(size=(64, 3)).astype('float32'); y = x.sum(axis=1)\n"
        "model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])\n"
        "model.compile(optimizer='sgd', loss='mse')\n"
        "history = model.fit(x, y, epochs=7, batch_size=16, verbose=0)\n"
        "print('EPOCHS', len(history.epoch), 'STEPS', int(model.optimizer.iterations))\n"
    )
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "DNN_INSTRUMENT_DIR": str(tmp_path / "runs"),
        "DNN_INSTRUMENT_MAX_EPOCHS": "2",
        "DNN_INSTRUMENT_MAX_STEPS": "3",
    }
    result = subprocess.run(
        [sys.executable, "-m", "dnn_instrument", "run", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "EPOCHS 2 STEPS 6" in result.stdout, result.stderr[-3000:]


def test_a_run_past_the_timeout_is_stopped_and_said(tmp_path):
    """--timeout stops a run that does not end (here one that never reaches fit) and says so; nothing is patched."""
    script = tmp_path / "train.py"
    script.write_text("import time\nwhile True:\n    time.sleep(0.1)\n")
    result = run_fix("--timeout", 2, script, cwd=tmp_path, timeout=120)
    assert result.returncode == fixing.EXIT_NO_FIX, result.stderr[-3000:]
    assert "at most 2 s per run" in result.stderr and "took longer than 2 s (--timeout)" in result.stderr
    assert result.stdout == "" and script.read_text().startswith("import time")


def test_a_candidate_that_timed_out_is_not_verified():
    buggy = {"verdict": "buggy", "findings": [{"cause": "learning_rate"}], "fits": [{"history": [{"loss": "nan"}]}]}
    timed_out = {"verdict": "timed out", "error": "stopped after 5 s (--timeout)", "findings": [], "fits": []}
    judged = fixing.judge(buggy, timed_out)
    assert not judged["verified"] and judged["verdict"] == "timed out"
    assert judged["shown"] == "timed out: stopped after 5 s (--timeout)"


def test_budget_caps_epochs_and_steps_on_the_callback_path(tmp_path):
    """A fit watched by the Diagnose callback (the fallback's path) stops at the budget too: model.stop_training
    at the epoch cap, and after (epochs it may run) x (step cap) steps, since a callback cannot end an epoch early."""
    script = tmp_path / "train.py"
    script.write_text(
        "import keras, numpy as np\n"
        "from dnn_instrument.runtime.callback import Diagnose\n"
        "x = np.random.default_rng(0).normal(size=(64, 3)).astype('float32'); y = x.sum(axis=1)\n"
        "model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])\n"
        "model.compile(optimizer='sgd', loss='mse')\n"
        "history = model.fit(x, y, epochs=7, batch_size=16, verbose=0, callbacks=[Diagnose()])\n"
        "print('EPOCHS', len(history.epoch), 'STEPS', int(model.optimizer.iterations))\n"
        "history = model.fit(x, y, epochs=7, batch_size=32, verbose=0, callbacks=[Diagnose()])\n"
        "print('EPOCHS', len(history.epoch), 'STEPS', int(model.optimizer.iterations))\n"
    )
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "DNN_INSTRUMENT_DIR": str(tmp_path / "runs"),
        "DNN_INSTRUMENT_MAX_EPOCHS": "2",
        "DNN_INSTRUMENT_MAX_STEPS": "3",
    }
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    # 4 steps an epoch: stopped after 6 steps, in the second epoch; then 2 steps an epoch: the epoch cap, 4 steps more
    assert "EPOCHS 2 STEPS 6\nEPOCHS 2 STEPS 10" in result.stdout, result.stderr[-3000:]
    assert "budget reached: training stopped after 6 steps" in result.stderr
    assert "budget reached: training stopped after 2 epoch(s) (DNN_INSTRUMENT_MAX_EPOCHS=2)" in result.stderr


def test_a_learning_rate_search_keeps_the_verified_rate_with_the_lowest_loss(monkeypatch):
    """Other edits stop at the first verified candidate; rates go on within --tries and the best loss wins."""
    losses = {"0.01": 0.6, "0.1": 0.2, "0.001": 0.9}
    ran = []

    def fake_run(script, code, arguments, budget, keep=False):
        rate = code.split("=")[-1]
        ran.append(rate)
        return {"verdict": "ok", "findings": [], "fits": [{"history": [{"loss": losses[rate]}]}]}, None

    candidates = [fixes.Candidate("learning_rate", f"learning_rate={r}", f"lr={r}") for r in ("0.01", "0.1", "0.001")]
    candidates.append(fixes.Candidate("clipping", "clipnorm=1.0", "lr=0.001"))
    monkeypatch.setattr(fixing, "run_instrumented", fake_run)
    monkeypatch.setattr(fixes, "candidates", lambda *a: candidates)
    buggy = {
        "verdict": "buggy",
        "findings": [{"cause": "learning_rate", "fix": "", "source": None}],
        "fits": [{"history": [{"loss": 1.0}]}],
    }
    plan = fixing.repair("x = 1\n", "train.py", [], buggy, fixing.Budget(2), tries=4)
    assert ran == ["0.01", "0.1", "0.001"]  # the clipping candidate after the rates is not run
    assert plan["outcome"] == "verified" and plan["candidates"][plan["verified"]]["description"] == "learning_rate=0.1"
    candidates[:] = [fixes.Candidate("output", "activation='sigmoid'", "lr=0.01"), *candidates[:2]]
    ran.clear()
    plan = fixing.repair("x = 1\n", "train.py", [], buggy, fixing.Budget(2), tries=4)
    assert ran == ["0.01"] and plan["verified"] == 0  # any other edit: the first verified one
