"""Figures of report.html that must stay readable: a loss with a spike (log or clipped axis, said in the
caption), the first fault enlarged, a chance line on accuracy, and the fix's code as code."""

import numpy as np
from test_analysis import MLP, trace

from dnn_instrument.runtime.record.stats import COLUMN
from dnn_instrument.runtime.report import document as report
from dnn_instrument.runtime.report import html as html_report


def _loss_rows(store):
    return [i for i, s in enumerate(store.sites) if s["phase"] == "loss"]


def _render(store, history=None):
    store.closed = True
    document = report.build("train.py", [store])
    if history is not None:
        document["fits"][0]["history"] = history
    return document, html_report.render(document, [store])


def _figure(page, name):
    start = page.index(f'-{name}"')
    return page[start : page.index("</figure>", start)]


def test_positive_loss_with_a_spike_gets_a_log_axis_said_in_the_caption():
    store = trace(MLP, iterations=200)
    rows = _loss_rows(store)
    store.values[:, rows, COLUMN["mean"]] = np.linspace(1.0, 0.5, 200)[:, None]
    store.values[100, rows, COLUMN["mean"]] = 5e4  # one spike
    _, page = _render(store)
    curves = _figure(page, "curves")
    assert "The loss axis is logarithmic: the loss spans" in curves
    assert "loss (log scale)" in curves


def test_a_loss_that_is_not_positive_gets_a_clipped_axis_with_the_spike_on_its_edge():
    store = trace(MLP, iterations=200)
    rows = _loss_rows(store)
    store.values[:, rows, COLUMN["mean"]] = np.linspace(0.0, 1.0, 200)[:, None]  # a loss that reaches 0
    store.values[50, rows, COLUMN["mean"]] = 900.0
    _, page = _render(store)
    curves = _figure(page, "curves")
    assert "The loss axis is clipped at" in curves and "1 iteration(s) above it, up to 900" in curves
    assert "loss (clipped axis)" in curves


def test_the_first_fault_is_enlarged_and_accuracy_has_a_chance_line():
    store = trace(MLP, iterations=200)
    store.values[120:, :, COLUMN["frac_nan"]] = 1.0  # NaN everywhere from iteration 120
    history = [{"epoch": 0, "loss": 1.0, "accuracy": 0.4}, {"epoch": 1, "loss": 0.9, "accuracy": 0.5}]
    document, page = _render(store, history)
    fault = document["findings"][0]["iteration"]
    zoom = _figure(page, "fault-zoom")
    assert f"around the first fault (iteration {fault}:" in zoom and "<svg" in zoom
    curves = _figure(page, "curves")
    assert "chance (1/3 classes)" in curves  # the softmax of MLP has 3 units
    assert "Dotted grey: the accuracy of guessing (1/3 classes)." in curves


def test_a_short_healthy_run_needs_no_enlargement():
    _, page = _render(trace(MLP, iterations=40))
    assert '-fault-zoom"' not in page


def test_the_fix_renders_its_code_as_code():
    store = trace(MLP, iterations=40)
    store.values[:, [i for i, s in enumerate(store.sites) if s["phase"] == "input"], COLUMN["abs_max"]] = 300.0
    document, page = _render(store)
    assert "`" in document["findings"][0]["fix"]
    fix = page[page.index('id="fix"') : page.index("</p>", page.index('id="fix"'))]
    assert "<code>" in fix and "`" not in fix
