"""The HTML report (runtime/report/html.py), rendered from real training traces and opened in a real
headless browser: Debian's chromium (``make test`` installs it where it is missing).

One instrumented program trains two real fits in a subprocess, shared by the tests: a 10-layer ReLU MLP
with too high a learning rate (its units die), about 1000 iterations, and a healthy one. A third real fit
runs in-process with the ``Diagnose`` callback (no sample: loss, weights and updates only) and blows up
to NaN. The program's file name carries an HTML payload, and so does one layer's name.
"""

import base64
import html
import os
import re
import struct
import subprocess

import numpy as np
import pytest
from conftest import run_cli, run_python

from dnn_instrument.runtime import session
from dnn_instrument.runtime.report import document as report
from dnn_instrument.runtime.report import html as html_report

# one xdist worker runs this module's tests (`make test` uses --dist loadgroup), so that its module-scoped
# fixture (a real run) runs once
pytestmark = pytest.mark.xdist_group("html_report")

CHROMIUM = "/usr/bin/chromium"
XSS = "<script>alert(1)</script>"
SCRIPT_NAME = "<img src=x onerror=alert(1)>.py"  # a legal file name: it reaches the report as `source`
# Chromium logs every console message (console.error, uncaught exceptions) as `INFO:CONSOLE:<line>]`
# (older builds: `CONSOLE(<line>)`) on stderr with --enable-logging=stderr.
CONSOLE = re.compile(r"CONSOLE[:(]\d+|Uncaught")

PROGRAM = """\
import keras
from sklearn.datasets import load_digits

keras.utils.set_random_seed(1)
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype("float32")

model = keras.Sequential([keras.Input(shape=(64,))])
model.add(keras.layers.Dense(32, activation="relu", name="hidden"))
for units in (32, 32, 24, 24, 16, 16, 16):
    model.add(keras.layers.Dense(units, activation="relu"))
model.add(keras.layers.Dropout(0.1))
model.add(keras.layers.Dense(10, activation="softmax"))
model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(X[:1400], y[:1400], epochs=6, batch_size=8, validation_data=(X[1400:], y[1400:]), verbose=0)

keras.utils.set_random_seed(2)
healthy = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(32, activation="tanh"), keras.layers.Dense(10, activation="softmax")])
healthy.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
healthy.fit(X[:1400], y[:1400], epochs=3, batch_size=32, validation_data=(X[1400:], y[1400:]), verbose=0)
"""


def browse(page, tmp_path):
    """Open ``page`` in headless chromium: ``(the DOM it built, the console messages it logged)``."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} not found: the HTML report test needs Debian's chromium (`make test` installs it; or apt-get install chromium)"
        )
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "<html" in result.stdout, result.stderr[-3000:]
    return result.stdout, [line for line in result.stderr.splitlines() if CONSOLE.search(line)]


def figures(dom, fit):
    """``{figure id: its markup}`` of one fit in the DOM."""
    return dict(re.findall(rf'<figure class="figure[^"]*" id="fit-{fit}-([\w-]+)">(.*?)</figure>', dom, re.S))


def heatmap_width(svg):
    """The pixel width of a heatmap figure's image (its first raster image; the colour bar's comes later)."""
    data = re.search(r'href="data:image/png;base64,([^"]+)"', svg).group(1)
    return struct.unpack(">I", base64.b64decode(data)[16:20])[0]  # the IHDR chunk of the PNG


def rename_layer(store, index, name):
    """TensorFlow refuses `<` and `/` in layer names (scope names), so Keras cannot train a layer named
    like XSS: the test gives a recorded layer that name in the loaded trace, before the report is built."""
    store.facts["layers"][index]["name"] = name
    for site in store.sites:
        if site["layer_index"] == index:
            site["layer"] = name


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The two fits of PROGRAM, instrumented and run; the buggy fit's primary layer renamed to XSS."""
    folder = tmp_path_factory.mktemp("trained")
    script = folder / SCRIPT_NAME
    script.write_text(PROGRAM)
    instrumented = folder / "instrumented.py"
    assert run_cli(script, "-o", instrumented).returncode == 0
    runs = folder / "runs"
    env = {"DNN_INSTRUMENT_DIR": str(runs), "DNN_INSTRUMENT_STOP": "never", "DNN_INSTRUMENT_VIEWS": "none"}
    result = run_python(instrumented, cwd=folder, env=env)  # the pages are the tests' own (no writer after exit)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_folder,) = runs.iterdir()
    stores = session.load(run_folder)
    assert len(stores) == 2
    first = next(f for f in report.build(str(script), stores[:1])["findings"] if f["layer_index"] is not None)
    rename_layer(stores[0], first["layer_index"], XSS)
    return str(script), run_folder, stores


@pytest.fixture(scope="module")
def callback_trace(tmp_path_factory):
    """A real fit recorded by the Diagnose callback alone, that reaches NaN (raw inputs of ~100, plain SGD)."""
    import keras

    from dnn_instrument.runtime import Diagnose

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DNN_INSTRUMENT_DIR", str(tmp_path_factory.mktemp("callback")))
        patch.setenv("DNN_INSTRUMENT_STOP", "never")  # train on through the NaN: the report must mask it
        patch.setattr(session, "_current", None)
        keras.utils.set_random_seed(0)
        x = np.random.default_rng(0).uniform(0, 200, (256, 10)).astype("float32")
        y = x.sum(axis=1, keepdims=True) * 3
        model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        callback = Diagnose("callback.py:9")
        model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[callback])
    return model, callback.store


def test_console_error_detector_catches_errors(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><body><p>x</p><script>console.error("boom"); not_defined();</script></body></html>'
    )
    dom, errors = browse(page, tmp_path)
    assert any("boom" in line for line in errors) and any("not_defined" in line for line in errors), errors


def test_buggy_run_report_in_a_browser(trained, tmp_path):
    script, run_folder, stores = trained
    document = report.build(script, stores)
    path = html_report.write(str(run_folder), document, stores)
    assert path == os.path.join(str(run_folder), "report.html")
    assert [n for n in os.listdir(run_folder) if ".tmp" in n] == []
    page = open(path, encoding="utf-8").read()
    dom, errors = browse(run_folder / "report.html", tmp_path)
    assert errors == []

    # The verdict and the primary finding's fix, at the top.
    assert document["verdict"] == "buggy"
    primary = document["findings"][0]
    verdict = dom.index('id="verdict"')
    assert verdict < dom.index('id="fit-0"')
    assert f"BUGGY: {primary['symptom'].replace('_', ' ')} in " in dom[verdict:]
    fix = html.escape(primary["fix"], quote=False).split("`")  # its `code` as <code>
    assert (
        "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(fix))
        in dom[verdict : dom.index('id="fit-0"')]
    )

    # Every faulty layer is marked, and only those; the XSS-named one among them.
    fit = document["fits"][0]
    assert fit["iterations"] >= 1000 and len(fit["layers"]) == 10
    faulty = {
        f["layer_index"] for f in document["findings"] if f["fit"] == fit["site"] and f["layer_index"] is not None
    }
    assert faulty
    for layer in fit["layers"]:
        row = re.search(rf'<tr class="([^"]*)" id="fit-0-layer-{layer["index"]}">(.*?)</tr>', dom, re.S)
        assert ("faulty" in row.group(1).split()) == (layer["index"] in faulty), row.group(0)
        assert ('class="fault-marker"' in row.group(2)) == (layer["index"] in faulty)
    xss_row = next(l for l in fit["layers"] if l["name"] == XSS)["index"]
    assert xss_row in faulty

    # The layer named <script>alert(1)</script> and the file named <img ...> are text, never elements.
    escaped = html.escape(XSS, quote=False)
    assert XSS not in dom and XSS not in page and "<script" not in dom
    assert SCRIPT_NAME not in dom and "<img" not in dom
    assert escaped in dom and html.escape(SCRIPT_NAME, quote=False) in dom

    # Self-contained: nothing to fetch (only data: URIs and in-document references).
    assert re.findall(r'(?:src|href)\s*=\s*["\'](?!data:|#)', page) == []
    assert "<link" not in page and "@import" not in page and os.path.getsize(path) < 2_000_000

    # The figures: seven for the buggy fit (its first fault enlarged), five for the healthy one (no ReLU layer).
    shown = figures(dom, 0)
    assert set(shown) == {
        "curves",
        "fault-zoom",
        "gradient-norm",
        "update-ratio",
        "dead-units",
        "saturation",
        "nan-inf",
    }
    assert all(markup.count("<svg") == 1 for markup in shown.values())
    assert "Not available: the model has no ReLU layer." in figures(dom, 1)["dead-units"]
    assert dom.count("<svg") == 12
    assert f"fault: {primary['symptom'].replace('_', ' ')} (iteration {primary['iteration']})" in shown["curves"]
    assert escaped in shown["gradient-norm"] and escaped in shown["dead-units"]  # row labels, as SVG text
    for name in ("gradient-norm", "update-ratio", "dead-units", "nan-inf"):  # ~1050 iterations, binned
        assert heatmap_width(shown[name]) == html_report.MAX_COLUMNS
    assert heatmap_width(figures(dom, 1)["gradient-norm"]) == document["fits"][1]["iterations"]  # 132: not binned


def test_healthy_run_says_ok(trained, tmp_path):
    script, run_folder, stores = trained
    document = report.build(script, stores[1:])
    assert document["verdict"] == "ok", document["findings"]
    text = html_report.render(document, stores[1:])
    assert text == html_report.render(document, stores[1:])  # deterministic
    page = tmp_path / "report.html"
    page.write_text(text, encoding="utf-8")
    dom, errors = browse(page, tmp_path)
    assert errors == []
    assert "OK: no fault found" in dom and "BUGGY" not in dom
    assert 'class="fault-marker"' not in dom and 'class="layer faulty"' not in dom
    assert dom.count("<svg") == 5


def test_callback_trace_with_nan(callback_trace, tmp_path):
    model, store = callback_trace
    document = report.build("callback.py", [store])
    assert document["verdict"] == "buggy" and store.iterations == 16
    path = html_report.write(str(tmp_path), document, [store])
    dom, errors = browse(tmp_path / "report.html", tmp_path)
    assert errors == []
    shown = figures(dom, 0)
    for name in ("gradient-norm", "dead-units", "saturation"):
        assert "<svg" not in shown[name] and "Not available: the Diagnose callback does not see" in shown[name]
    assert "the Diagnose callback does not see layer outputs" in shown["dead-units"]
    assert "the Diagnose callback does not see gradients" in shown["gradient-norm"]
    for name in ("curves", "update-ratio", "nan-inf"):
        assert shown[name].count("<svg") == 1
    assert "None in this run" not in shown["nan-inf"]  # the NaN is shown...
    for markup in shown.values():  # ...and never drawn as a coordinate
        for data in re.findall(r' d="([^"]*)"', markup):
            assert "nan" not in data.lower() and "inf" not in data.lower()
    assert os.path.getsize(path) < 500_000


def test_fit_without_iterations(callback_trace, tmp_path):
    from dnn_instrument.runtime.record.trace import TraceStore

    model, _ = callback_trace
    store = TraceStore(model, "empty.py:3")
    store.close()
    document = report.build("empty.py", [store])
    page = tmp_path / "report.html"
    page.write_text(html_report.render(document, [store]), encoding="utf-8")
    dom, errors = browse(page, tmp_path)
    assert errors == []
    assert "<svg" not in dom and dom.count("Not available: no iterations were recorded.") == 6
    assert 'id="fit-0-layer-1"' in dom  # the model is still shown
    with pytest.raises(ValueError):
        html_report.render(document, [])
