"""End to end: instrument corpus scripts, run them, and check the report's verdict, primary layer and cause.

A sample of the corpus covering each family of rules (the whole corpus is scored by ``make bench``): the
buggy script must come out ``buggy`` with the labelled layer and cause first, its fixed twin ``ok``. The same
sample goes through the second mechanism, the ``Diagnose`` callback (``--callback``), which shares the
analyser but sees only the loss, the weights, their updates and the model's configuration: ``CALLBACK_SEES``
states what it catches (the README's table of mechanisms). The buggy scripts run each in a process of its own,
as a user runs them, views included; the fixed twins and the callback's runs in turn in two processes.
"""

import json

import jsonschema
import pytest
from conftest import FIXTURES, ROOT, VIEWS_ON, halves, once_per_group, run_python
from generated_programs import run_in_turn

from dnn_instrument.runtime.report import wait_for_views
from dnn_instrument.transformer import instrument

LABELS = {case["id"]: case for case in json.loads((FIXTURES / "labels.json").read_text())["cases"]}
SCHEMA = json.loads((ROOT / "runtime" / "report" / "report.schema.json").read_text())
SAMPLE = [
    "a01_softmax_one_unit_bce",  # static: output activation
    "a10_labels_minus_one_plus_one",  # targets
    "b12_wine_unscaled",  # inputs
    "b09_constant_kernel_symmetry",  # initialisation
    "b13_lambda_log_zero",  # NaN born in a custom layer
    "b10_conv_negative_bias_dead_relu",  # activations, a convnet
    "b16_deep_sigmoid_vanishing",  # gradients
    "b18_rnn_large_recurrent_init",  # an RNN exploding
]


# For the callback (given a sample of the fit call's x/y by the transformer): the cause it names first, or None
# when it does not see the fault.
CALLBACK_SEES = {
    "a01_softmax_one_unit_bce": "last_layer_activation",  # configuration
    "a10_labels_minus_one_plus_one": "label_format",  # the sample's labels
    "b12_wine_unscaled": "input_normalization",  # the sample's inputs
    "b09_constant_kernel_symmetry": "weight_initialization",  # initial weights
    "b13_lambda_log_zero": "numerical_operation",  # the layer outputs on the sample
    "b10_conv_negative_bias_dead_relu": "dead_relu",  # likewise
    # gradients on the sample in inference mode stay above the threshold; the epoch losses show a loss that does
    # not fall, which the callback names with the generic cause
    "b16_deep_sigmoid_vanishing": "learning_rate",
    "b18_rnn_large_recurrent_init": "exploding_gradient",
}


def diagnose(script, tmp_path):
    """The report of ``script`` instrumented and run in a process of its own, as a user runs it; report.html and the
    TensorBoard events are checked too (written after the script ended)."""
    instrumented = tmp_path / script.name
    instrumented.write_text(instrument(script.read_text(), str(script)).code)
    report = tmp_path / "report.json"
    env = {"DNN_INSTRUMENT_REPORT": str(report), "DNN_INSTRUMENT_DIR": str(tmp_path / "runs")}
    result = run_python(instrumented, cwd=tmp_path, env={**env, **VIEWS_ON})
    assert report.exists(), result.stderr[-3000:]
    document = json.loads(report.read_text())
    jsonschema.validate(document, SCHEMA)
    folder = next((tmp_path / "runs").iterdir())  # the run folder holds every view of the run
    assert wait_for_views(folder) is None  # written after the script ended
    assert (folder / "report.html").exists() and list((folder / "tensorboard" / "fit-0").glob("events.out.*"))
    return document, result


@pytest.mark.slow
@pytest.mark.parametrize("case_id", SAMPLE)
def test_buggy_script_is_diagnosed(case_id, tmp_path):
    case = LABELS[case_id]
    document, result = diagnose(FIXTURES / "corpus" / case_id / "buggy.py", tmp_path)
    assert document["verdict"] == "buggy"
    first = document["findings"][0]
    assert first["cause"] == case["cause"], first
    if case["faulty_layers"]:
        assert first["layer"] in case["faulty_layers"], first
        assert first["source"].startswith("buggy.py:")  # the line in the user's original file
    assert "verdict: BUGGY" in result.stderr and first["fix"] in result.stderr


# The fixed twins and the callback's runs: instrumented programs run in turn in two processes (not 24), each
# cleared of the one before as a worker of the generated-programs test is (``generated_programs.run_in_turn``).
IN_TURN = [(case_id, "fixed", False) for case_id in SAMPLE] + [
    (case_id, variant, True) for case_id in SAMPLE for variant in ("buggy", "fixed")
]
HALVES = halves(IN_TURN, "diagnosis")


def _run_half(half, folder):
    """``{run: (its report's path, its reply, the process's stderr)}`` for the runs of ``half``."""
    env = {"DNN_INSTRUMENT_DIR": str(folder / "runs")}
    runs, requests = [r for r in IN_TURN if HALVES[r] == half], []
    for case_id, variant, callback_only in runs:
        script = FIXTURES / "corpus" / case_id / f"{variant}.py"
        place = folder / f"{case_id}-{variant}-{'callback' if callback_only else 'loop'}"
        place.mkdir()
        instrumented = place / script.name
        instrumented.write_text(instrument(script.read_text(), str(script), callback_only=callback_only).code)
        requests.append({"path": instrumented, "report": place / "report.json", "env": env, "cwd": place})
    replies, stderr = run_in_turn(requests)
    return {r: (request["report"], reply, stderr) for r, request, reply in zip(runs, requests, replies)}


def diagnosed_in_turn(run, tmp_path_factory):
    """The report of ``run`` (case, variant, callback only), from the process that ran its half of ``IN_TURN``."""
    half = HALVES[run]
    report, reply, stderr = once_per_group(half, lambda: _run_half(half, tmp_path_factory.mktemp(half)))[run]
    assert reply["ok"] and report.exists(), reply.get("error") or stderr[-3000:]
    document = json.loads(report.read_text())
    jsonschema.validate(document, SCHEMA)
    return document


def in_turn(runs, fields):
    """The ``pytest.param`` of each run (its first ``fields`` values), in its half's xdist group."""
    return [pytest.param(*run[:fields], marks=pytest.mark.xdist_group(HALVES[run])) for run in runs]


@pytest.mark.slow
@pytest.mark.parametrize("case_id", in_turn([(c, "fixed", False) for c in SAMPLE], 1))
def test_fixed_twin_is_ok(case_id, tmp_path_factory):
    document = diagnosed_in_turn((case_id, "fixed", False), tmp_path_factory)
    assert document["verdict"] == "ok", document["findings"]


@pytest.mark.slow
@pytest.mark.parametrize("case_id, variant", in_turn([(c, v, True) for c in SAMPLE for v in ("buggy", "fixed")], 2))
def test_callback_mechanism_shares_the_analyser(case_id, variant, tmp_path_factory):
    document = diagnosed_in_turn((case_id, variant, True), tmp_path_factory)
    expected = CALLBACK_SEES[case_id] if variant == "buggy" else None
    assert document["verdict"] == ("ok" if expected is None else "buggy"), document["findings"]
    if expected is not None:
        assert document["findings"][0]["cause"] == expected
