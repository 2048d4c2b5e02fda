"""TensorBoard export: event files read back with TensorFlow's own reader, with the expected tags and steps."""

import collections
import json

import numpy as np
import pytest
import tensorflow as tf
from test_analysis import MLP, set_series, trace

from dnn_instrument.runtime.record.stats import COLUMN
from dnn_instrument.runtime.report import event_file, tensorboard


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
        present, histograms = tensorboard._histograms(values[None])
        histogram = histograms[0]
        assert present[0] and histogram.shape == (tensorboard.HISTOGRAM_BUCKETS, 3)
        assert histogram[:, 2].sum() == len(values) and np.all(histogram[:, 1] > histogram[:, 0])


def test_histograms_of_all_rows_at_once_are_numpys_row_by_row():
    """Each row's histogram is ``np.histogram``'s of its finite values over their range (the widened range of one
    repeated value included), to the last bit of every edge and count: values on the edges, NaN and Inf left out,
    a row with nothing finite (no histogram), rows of one value, float32 values."""
    rng = np.random.default_rng(0)
    edges = np.linspace(-0.37, 1.91, tensorboard.HISTOGRAM_BUCKETS + 1)
    size = 3 * len(edges)
    rows = [
        rng.normal(size=size),
        rng.integers(0, 7, size=size).astype(float),  # many values on the edges of 30 buckets over [0, 6]
        # every edge and the floats just below and above it, where the scaled bucket index rounds across the edge
        np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)]),
        np.full(size, 0.5),
        np.full(size, np.nan),
        np.where(rng.random(size) < 0.3, np.inf, rng.lognormal(size=size)),
        np.where(rng.random(size) < 0.3, np.nan, rng.normal(size=size) * 1e20),
        rng.normal(size=size).astype(np.float32).astype(float),
    ]
    block = np.stack(rows)
    present, histograms = tensorboard._histograms(block)
    for row, has_values, got in zip(block, present, histograms):
        kept = row[np.isfinite(row)]
        assert has_values == bool(kept.size)
        if kept.size:
            low, high = kept.min(), kept.max()
            if high - low <= max(abs(low), abs(high)) * 1e-9:
                high = low + max(1.0, abs(low) * 1e-6)
            counts, bins = np.histogram(kept, bins=tensorboard.HISTOGRAM_BUCKETS, range=(low, high))
            assert np.array_equal(got, np.stack([bins[:-1], bins[1:], counts], axis=1))


def test_a_script_with_two_fits_writes_each_step_once(tmp_path):
    """Each fit's events are written once, at the report's iteration numbers, with its verdict as text (by the writer
    the script leaves when it ends: waited for, it has removed its marker and left no temporary file, and it never
    imported TensorFlow: a ``sitecustomize`` says, as each process ends, whether it had)."""
    from conftest import VIEWS_ON, run_python

    from dnn_instrument.runtime.report import views, wait_for_views
    from dnn_instrument.transformer import instrument

    hook, said = tmp_path / "hook", tmp_path / "imported.txt"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import atexit, sys\n"
        "atexit.register(lambda: open(%r, 'a').write(f'{sys.argv[0]} {\"tensorflow\" in sys.modules}\\n'))\n"
        % str(said)
    )
    script = tmp_path / "two_fits.py"
    script.write_text(instrument(TWO_FITS, "two_fits.py").code)
    env = {**VIEWS_ON, "DNN_INSTRUMENT_DIR": str(tmp_path / "runs"), "PYTHONPATH": str(hook)}
    result = run_python(script, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    root = next((tmp_path / "runs").iterdir()) / "tensorboard"
    assert "tensorboard/ written in the background when the script ends" in result.stderr
    assert wait_for_views(root.parent) is None and views.state(root.parent) is None
    assert not (root.parent / views.MARKER).exists() and not (root.parent / views.LOG).exists()
    assert not list(root.parent.rglob("*.tmp"))
    assert sorted(said.read_text().splitlines()) == ["-c False", f"{script} True"]  # the writer; the script
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


def test_events_are_the_bytes_tensorflow_writes():
    """The messages ``tensorboard.py`` builds without TensorFlow (a scalar, a histogram, a text) serialize to the
    bytes of TensorFlow's own classes."""
    from tensorflow.core.framework import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorflow.core.util import event_pb2

    def plugin(name):
        return summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=name))

    dim = [tensor_shape_pb2.TensorShapeProto.Dim(size=30), tensor_shape_pb2.TensorShapeProto.Dim(size=3)]
    theirs = event_pb2.Event(wall_time=1.5, step=7)
    theirs.summary.value.extend(
        [
            summary_pb2.Summary.Value(
                tag="diagnosis/dense/gradient_norm",
                metadata=plugin("scalars"),
                tensor=tensor_pb2.TensorProto(
                    dtype=types_pb2.DT_FLOAT, tensor_shape=tensor_shape_pb2.TensorShapeProto(), float_val=[0.25]
                ),
            ),
            summary_pb2.Summary.Value(
                tag="h",
                metadata=plugin("histograms"),
                tensor=tensor_pb2.TensorProto(
                    dtype=types_pb2.DT_FLOAT,
                    tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dim),
                    tensor_content=np.arange(90, dtype=np.float32).tobytes(),
                ),
            ),
            summary_pb2.Summary.Value(
                tag="t",
                metadata=plugin("text"),
                tensor=tensor_pb2.TensorProto(
                    dtype=types_pb2.DT_STRING,
                    tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                    string_val=["**OK**".encode()],
                ),
            ),
        ]
    )
    ours = event_file.messages()
    Value, Tensor, Shape, Dim = (
        ours[n] for n in ("Summary.Value", "TensorProto", "TensorShapeProto", "TensorShapeProto.Dim")
    )
    mine = ours["Event"](wall_time=1.5, step=7)
    mine.summary.value.extend(
        [
            Value(
                tag="diagnosis/dense/gradient_norm",
                metadata=tensorboard._metadata("scalars"),
                tensor=Tensor(dtype=event_file.DT_FLOAT, tensor_shape=Shape(), float_val=[0.25]),
            ),
            Value(
                tag="h",
                metadata=tensorboard._metadata("histograms"),
                tensor=Tensor(
                    dtype=event_file.DT_FLOAT,
                    tensor_shape=Shape(dim=[Dim(size=30), Dim(size=3)]),
                    tensor_content=np.arange(90, dtype=np.float32).tobytes(),
                ),
            ),
            tensorboard._text_value("t", "**OK**"),
        ]
    )
    assert mine.SerializeToString() == theirs.SerializeToString()
    assert ours["Event"](file_version="brain.Event:2").SerializeToString() == (
        event_pb2.Event(file_version="brain.Event:2").SerializeToString()
    )


def test_crc32c_of_records_of_any_length(monkeypatch):
    """The standard check value, and records of mixed lengths checksummed together as one at a time, bit by bit
    (in one block, and in blocks of 256 bytes, where some records are longer than a block)."""

    def bitwise(data):
        crc = 0xFFFFFFFF
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        return crc ^ 0xFFFFFFFF

    assert event_file.crc32c([b"123456789"]).tolist() == [0xE3069283]
    rng = np.random.default_rng(0)
    records = [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in rng.integers(4, 400, 60)]
    records += [bytes(8), b"\xff" * 4]
    expected = [bitwise(r) for r in records]
    assert event_file.crc32c(records).tolist() == expected
    monkeypatch.setattr(event_file, "_CRC_BATCH_BYTES", 256)
    assert event_file.crc32c(records).tolist() == expected


def test_a_damaged_event_file_is_refused_by_tensorflows_reader(tmp_path):
    """TensorFlow's reader checks every record's checksums, so the files it reads back in the tests above have
    right ones."""
    store = trace(MLP)
    tensorboard.write(str(tmp_path), [store])
    (path,) = (tmp_path / "tensorboard" / "fit-0").glob("events.out.tfevents.*")
    assert sum(1 for _ in tf.compat.v1.train.summary_iterator(str(path))) == 1 + 40
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(tf.errors.DataLossError):
        for _ in tf.compat.v1.train.summary_iterator(str(path)):
            pass
