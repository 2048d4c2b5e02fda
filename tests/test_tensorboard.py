"""TensorBoard export: event files read back with TensorFlow's own reader, with the expected tags and steps."""

import collections
import json

import numpy as np
import tensorflow as tf
from test_analysis import MLP, set_series, trace

from dnn_instrument.runtime.record.stats import COLUMN
from dnn_instrument.runtime.report import tensorboard


def read(folder):
    """``{tag: [(step, value or histogram array)]}`` and ``{tag: plugin}`` of every event file in ``folder``."""
    values, plugins = collections.defaultdict(list), {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                values[value.tag].append((event.step, tf.make_ndarray(value.tensor)))
                plugins[value.tag] = value.metadata.plugin_data.plugin_name
    return values, plugins


def test_events_have_one_tag_per_layer_and_statistic(tmp_path):
    store = trace(MLP)  # 40 iterations of a 3-layer MLP
    store.facts["optimizer"]["iterations"] = 100  # a second fit: its steps are still the report's iterations
    set_series(store, "loss", None, "frac_nan", 1.0, start=30)  # NaN from iteration 30
    set_series(store, "forward", 1, "frac_zero", 0.75)
    root = tensorboard.write(str(tmp_path), [store])
    values, plugins = read(tmp_path / "tensorboard" / "fit-0")
    for layer in ("dense", "dense_1", "dense_2"):
        for stat in (
            "output_mean",
            "output_std",
            "dead_fraction",
            "saturated_fraction",
            "gradient_norm",
            "weight_norm",
            "update_ratio",
            "nan_inf_fraction",
        ):
            assert f"diagnosis/{layer}/{stat}" in values, (layer, stat)
    assert plugins["diagnosis/dense/gradient_norm"] == "scalars"
    assert plugins["diagnosis/by_layer/update_ratio"] == "histograms"
    assert root == str(tmp_path / "tensorboard")
    gradient = values["diagnosis/dense_1/gradient_norm"]
    assert [step for step, _ in gradient] == list(range(0, 30))  # up to the first NaN, at the report's iterations
    assert np.isclose(gradient[0][1], 0.5)
    assert [float(v) for _, v in values["diagnosis/dense_1/dead_fraction"]][:3] == [0.75] * 3
    assert [step for step, _ in values["diagnosis/dense/nan_inf_fraction"]] == list(range(0, 40))
    histogram = values["diagnosis/by_layer/update_ratio"][0][1]
    assert histogram.shape == (tensorboard.HISTOGRAM_BUCKETS, 3) and histogram[:, 2].sum() == 3  # one per layer
    assert float(values["diagnosis/loss"][0][1]) == float(store.values[0, -1, COLUMN["mean"]])


def test_layer_names_become_single_tag_levels():
    assert tensorboard._tag("conv/1 <x>") == "conv_1__x_"


TWO_FITS = """import keras, numpy as np
keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
model.compile("adam", "mse")
model.fit(x, x.sum(1), epochs=1, verbose=0)
model.fit(x, x.sum(1), epochs=1, verbose=0)
"""


def test_histograms_of_huge_close_values_have_distinct_edges():
    """Values of 1e20 (a run on its way to overflow) that differ by less than a bucket's worth of float precision."""
    close = (np.array([1e20, 1e20]), np.array([1e20, 1e20 + 1e5, 1e20 + 2e5]), np.array([-3.0, -3.0]))
    for values in (*close, np.array([1e20, 1e20], np.float32), np.array([1e20, 1.00001e20], np.float32)):
        histogram = tensorboard._histogram(values)
        assert histogram.shape == (tensorboard.HISTOGRAM_BUCKETS, 3) and histogram[:, 2].sum() == len(values)
        assert np.all(histogram[:, 1] > histogram[:, 0])


def test_a_script_with_two_fits_writes_each_step_once(tmp_path):
    """Each fit's events are written once, at the report's iteration numbers, with its verdict as text (by the writer
    the script leaves when it ends: waited for, it has removed its marker and left no temporary file)."""
    from conftest import run_python

    from dnn_instrument.runtime.report import views, wait_for_views
    from dnn_instrument.transformer import instrument

    script = tmp_path / "two_fits.py"
    script.write_text(instrument(TWO_FITS, "two_fits.py").code)
    result = run_python(script, cwd=tmp_path, env={"DNN_INSTRUMENT_DIR": str(tmp_path / "runs")})
    assert result.returncode == 0, result.stderr[-3000:]
    root = next((tmp_path / "runs").iterdir()) / "tensorboard"
    assert "tensorboard/ written in the background when the script ends" in result.stderr
    assert wait_for_views(root.parent) is None and views.state(root.parent) is None
    assert not (root.parent / views.MARKER).exists() and not (root.parent / views.LOG).exists()
    assert not list(root.parent.rglob("*.tmp"))
    report = json.loads((root.parent / "report.json").read_text())
    for fit, steps in (("fit-0", [0, 1]), ("fit-1", [0, 1])):
        assert len(list((root / fit).glob("events.out.*"))) == 1
        values, plugins = read(root / fit)
        assert [step for step, _ in values["diagnosis/loss"]] == steps
        assert plugins["diagnosis/verdict"] == "text"
        (verdict,) = values["diagnosis/verdict"]
        assert verdict[0] == 0 and verdict[1].item().decode().startswith(f"**{report['verdict'].upper()}**")
    findings = [f for f in report["findings"] if f["fit"] == report["fits"][0]["site"]]
    assert findings  # two steps per fit: too few updates, found at iteration 0
    values, _ = read(root / "fit-0")
    assert sorted(step for step, _ in values["diagnosis/findings"]) == sorted(f["iteration"] for f in findings)
