"""End to end, issue 13's patterns: one lean script, one small model per fit (tests/programs/verdict_patterns.py),
instrumented and run once; each fit's findings are checked apart (``fit_index``)."""

import json

import jsonschema
import pytest
from conftest import PROGRAMS, ROOT, run_python

from dnn_instrument.transformer import instrument

# one xdist worker runs this module's tests (`make test` uses --dist loadgroup), so that its module-scoped
# fixture (a real run) runs once
pytestmark = pytest.mark.xdist_group("verdicts")

SCHEMA = json.loads((ROOT / "runtime" / "report" / "report.schema.json").read_text())


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verdicts")
    script = PROGRAMS / "verdict_patterns.py"
    instrumented = folder / script.name
    instrumented.write_text(instrument(script.read_text(), str(script)).code)
    path = folder / "report.json"
    result = run_python(
        instrumented,
        cwd=folder,
        env={
            "DNN_INSTRUMENT_REPORT": str(path),
            "DNN_INSTRUMENT_DIR": str(folder / "runs"),
            "DNN_INSTRUMENT_STOP": "never",
        },
    )
    assert path.exists(), result.stderr[-3000:]
    document = json.loads(path.read_text())
    jsonschema.validate(document, SCHEMA)
    assert len(document["fits"]) == 5, result.stderr[-3000:]
    return document, result.stderr


def of_fit(document, index):
    return [f for f in document["findings"] if f["fit_index"] == index]


def faults(document, index):
    return [(f["symptom"], f["cause"]) for f in of_fit(document, index) if f["severity"] == "fault"]


@pytest.mark.slow
def test_standalone_activation_layers_and_rmsprop_defaults_are_healthy(report):
    assert of_fit(report[0], 0) == []


@pytest.mark.slow
def test_loss_list_pairs_with_outputs_in_order_and_parallel_heads_are_not_a_chain(report):
    findings = of_fit(report[0], 1)
    assert faults(report[0], 1) == [], findings
    # the linear Dense before each head is a smell (a warning), never a ReLU to put on a regression output
    assert {f["symptom"] for f in findings} <= {"missing_activation"}, findings
    assert all(f["layer"] not in ("priority", "department") for f in findings), findings


@pytest.mark.slow
def test_custom_layer_head_ending_in_sigmoid_is_not_linear(report):
    assert faults(report[0], 2) == [], of_fit(report[0], 2)


@pytest.mark.slow
def test_accuracy_on_a_regression_is_a_warning(report):
    assert [(f["symptom"], f["severity"]) for f in of_fit(report[0], 3)] == [("meaningless_metric", "warning")]


@pytest.mark.slow
def test_adam_learning_rate_one_is_named_with_a_value(report):
    document, stderr = report
    findings = of_fit(document, 4)
    assert findings and findings[0]["severity"] == "fault" and findings[0]["cause"] == "learning_rate", findings
    assert "lower the learning rate from 1 to about" in findings[0]["fix"]
    assert all(f["fix"] == "" for f in findings if f.get("consequence_of") is not None)
    assert document["verdict"] == "buggy" and "cause: " in stderr
