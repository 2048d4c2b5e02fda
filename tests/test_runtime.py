"""Runtime pieces on their own: in-graph statistics, the layer graph, the source map, the callback, the report."""

import inspect
import json
from pathlib import Path

import jsonschema
import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import ops_that_ran

from dnn_instrument.runtime.origins import SourceMap
from dnn_instrument.runtime.record import stats
from dnn_instrument.runtime.record.graph import LayerGraph
from dnn_instrument.runtime.record.trace import TraceStore
from dnn_instrument.runtime.report import document as report
from dnn_instrument.runtime.vocabulary import PHASE, measures_of

SCHEMA = json.loads((Path(__file__).parent.parent / "runtime" / "report" / "report.schema.json").read_text())


def reference(x, bounds=None):
    """The statistics row computed with numpy, as documented in stats.STATS."""
    x = np.asarray(x, np.float64).ravel()
    finite = x[np.isfinite(x)]
    sat = 0.0 if bounds is None else float(np.mean((x <= bounds[0]) | (x >= bounds[1])))
    row = {
        "count": x.size,
        "mean": finite.mean(),
        "std": finite.std(),
        "min": finite.min(),
        "max": finite.max(),
        "abs_max": np.abs(finite).max(),
        "norm": np.sqrt(np.sum(finite**2)),
        "frac_zero": np.mean(x == 0),
        "frac_nan": np.mean(np.isnan(x)),
        "frac_inf": np.mean(np.isinf(x)),
        "frac_saturated": sat,
    }
    return np.array([row[name] for name in stats.STATS])


@pytest.mark.parametrize("careful", [False, True])
def test_statistics_match_numpy(careful):
    rng = np.random.default_rng(0)
    tensors = [
        rng.normal(size=(8, 5)),
        rng.normal(size=(8, 5)) * 3,
        rng.uniform(size=(7,)),
        np.array(2.5),
        np.zeros((3, 3)),
    ]
    tensors[2][:3] = 0.0
    if careful:  # one NaN and one Inf switch the whole step to the careful path
        tensors[0][0, 0] = np.nan
        tensors[1][1, 1] = -np.inf
    bounds = [None, None, (0.01, 0.99), None, None]
    got = stats.statistics([tf.constant(t, tf.float32) for t in tensors], bounds).numpy()
    for row, tensor, b in zip(got, tensors, bounds):
        np.testing.assert_allclose(row, reference(tensor, b), rtol=2e-4, atol=2e-5)


def test_statistics_inside_a_compiled_function_with_unknown_batch():
    f = tf.function(
        lambda a, b: stats.statistics([a, b]),
        input_signature=[tf.TensorSpec([None, 4]), tf.TensorSpec([None, 4])],
        autograph=False,
    )
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    got = f(a, -a).numpy()
    np.testing.assert_allclose(got[0], reference(a), rtol=1e-5)
    np.testing.assert_allclose(got[1], reference(-a), rtol=1e-5)


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("bad", [None, 2, 9])
def test_large_tensors_in_several_conds_match_numpy(bad, static, monkeypatch):
    """Large tensors share a tf.cond by runs of ``LARGE_PER_COND``: a NaN switches its own run to the careful path.
    Their sizes are known at run time only, or static (too large to stack: then counted without an op)."""
    monkeypatch.setattr(stats, "GROUPED_AT_MOST", 8)
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(3, 5 + i)).astype(np.float32) for i in range(stats.LARGE_PER_COND + 3)]
    if bad is not None:
        arrays[bad][1, 2], arrays[bad][0, 0] = np.nan, np.inf
    bounds = [(0.01, 0.99) if i % 3 == 1 else None for i in range(len(arrays))]  # in each run, beside the NaN
    f = tf.function(
        lambda *ts: stats.statistics(list(ts), bounds),
        input_signature=[tf.TensorSpec([3 if static else None, a.shape[1]]) for a in arrays],
        autograph=False,
    )
    packs = [op for op in f.get_concrete_function().graph.get_operations() if op.type == "Pack"]
    assert not any(t.op.type == "Placeholder" for op in packs for t in op.inputs)  # none stacked
    for row, array, bound in zip(f(*arrays).numpy(), arrays, bounds):
        np.testing.assert_allclose(row, reference(array, bound), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("bad", [None, 3])
def test_narrow_activations_are_reduced_together_and_match_numpy(bad):
    """Activations of a few values per example (Dense outputs, their gradients) are reduced together by row width,
    whatever the number of rows each has at run time; a NaN switches its own group to the careful path."""
    rng = np.random.default_rng(4)
    shapes = [(5, 3), (7, 3), (5, 2, 2), (5, 3), (5, 300), (0, 3), (5,)]  # (5, 300): too wide, reduced on its own
    arrays = [np.where(rng.uniform(size=s) < 0.3, 0.0, rng.normal(size=s)).astype(np.float32) for s in shapes]
    if bad is not None:
        arrays[bad][1, 2], arrays[bad][0, 0] = np.nan, np.inf
    bounds = [None, (0.01, 0.99), (-0.99, 0.99), None, None, None, (0.01, 0.99)]
    f = tf.function(
        lambda *ts: stats.statistics(list(ts), bounds, [True] * len(ts)),
        input_signature=[tf.TensorSpec((None,) + a.shape[1:]) for a in arrays],
        autograph=False,
    )
    graph = f.get_concrete_function().graph
    assert sum(op.type == "UnsortedSegmentSum" for op in graph.get_operations()) > 0
    few = tf.function(  # fewer than NARROW_AT_LEAST of one width: reduced apart, no segments
        lambda *ts: stats.statistics(list(ts), None, [True] * len(ts)),
        input_signature=[tf.TensorSpec((None, 3))] * (stats.NARROW_AT_LEAST - 1),
        autograph=False,
    ).get_concrete_function()
    assert not any(op.type == "UnsortedSegmentSum" for op in few.graph.get_operations())
    for row, array, bound in zip(f(*arrays).numpy(), arrays, bounds):
        if array.size:
            np.testing.assert_allclose(row, reference(array, bound), rtol=2e-4, atol=2e-5)
        else:
            assert row[stats.COLUMN["count"]] == 0 and row[stats.COLUMN["frac_nan"]] == 0


def test_outputs_measured_only_on_full_steps_are_still_checked_for_nan():
    """With ``full`` false, the ``sampled`` large tensors get an UNMEASURED row (their last full row replaces it on
    the host), unless their run of ``LARGE_PER_COND`` holds a NaN/Inf: then their careful rows, as in a full step;
    the others are always full."""
    rng = np.random.default_rng(2)
    arrays = [rng.normal(size=(4, 6 + i)).astype(np.float32) for i in range(2 * stats.LARGE_PER_COND + 2)]
    arrays[3][0, 1] = np.nan  # in the first run of sampled tensors, in a step that does not measure them
    sampled = [i not in (0, stats.LARGE_PER_COND + 1) for i in range(len(arrays))]
    faulty_run = [i for i in range(len(arrays)) if sampled[i]][: stats.LARGE_PER_COND]
    f = tf.function(  # the last sampled one has a small static shape: stacked alone, apart from the full ones
        lambda full, *ts: stats.statistics(list(ts), None, sampled, full),
        input_signature=[tf.TensorSpec([], tf.bool)]
        + [tf.TensorSpec([None if i < len(arrays) - 1 else 4, a.shape[1]]) for i, a in enumerate(arrays)],
        autograph=False,
    )
    full, checked = f(True, *arrays).numpy(), f(False, *arrays).numpy()
    for i, array in enumerate(arrays):
        np.testing.assert_allclose(full[i], reference(array, None), rtol=2e-4, atol=2e-5)
        if sampled[i] and i not in faulty_run:
            assert checked[i][stats.COLUMN["count"]] == stats.UNMEASURED
        else:
            np.testing.assert_allclose(checked[i], full[i], rtol=2e-4, atol=2e-5)
    block = np.stack([checked, checked])
    last = stats.fill_unmeasured(block, full.copy())
    np.testing.assert_allclose(block[1], full, rtol=2e-4, atol=2e-5)  # every unmeasured row is its last full one
    np.testing.assert_allclose(last, full, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("bad", [False, True])
def test_small_outputs_measured_only_on_full_steps_are_stacked_by_shape_and_checked(bad):
    """Sampled tensors of a small static shape (a batch of 8 images) are stacked by shape, as in full recording, in a
    ``tf.cond`` of their own: one sum per tensor in a step that does not measure them, careful rows for them all when
    one holds a NaN/Inf; a weight of the same shape, measured in every step, is not stacked with them."""
    rng = np.random.default_rng(3)
    shapes = [(4, 5), (4, 5), (4, 5), (4, 3, 2)]
    arrays = [rng.normal(size=s).astype(np.float32) for s in shapes]
    if bad:
        arrays[1][2, 2] = np.inf
    sampled = [True, True, False, True]
    f = tf.function(
        lambda full, *ts: stats.statistics(list(ts), None, sampled, full),
        input_signature=[tf.TensorSpec([], tf.bool)] + [tf.TensorSpec(s) for s in shapes],
        autograph=False,
    )
    packs = [op for op in f.get_concrete_function().graph.get_operations() if op.type == "Pack"]
    assert any(len(op.inputs) == 2 and op.inputs[0].shape == (4, 5) for op in packs)  # the two sampled (4, 5)
    full, checked = f(True, *arrays).numpy(), f(False, *arrays).numpy()
    for i, array in enumerate(arrays):
        np.testing.assert_allclose(full[i], reference(array, None), rtol=2e-4, atol=2e-5)
        if sampled[i] and not bad:
            assert checked[i][stats.COLUMN["count"]] == stats.UNMEASURED
        else:
            np.testing.assert_allclose(checked[i], full[i], rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("value", ["0", "-2", "every 4", "2.5"])
def test_a_period_that_is_not_one_is_said_and_replaced_by_the_default(value, monkeypatch, capsys):
    from dnn_instrument.runtime.record.probe import period

    monkeypatch.setenv("DNN_INSTRUMENT_OUTPUTS_EVERY", value)
    assert period("DNN_INSTRUMENT_OUTPUTS_EVERY", 1) == 1
    assert f"DNN_INSTRUMENT_OUTPUTS_EVERY={value!r} is not a whole number" in capsys.readouterr().err
    monkeypatch.setenv("DNN_INSTRUMENT_OUTPUTS_EVERY", " 8 ")
    assert period("DNN_INSTRUMENT_OUTPUTS_EVERY", 1) == 8 and not capsys.readouterr().err


OUTPUTS_PROGRAM = """
import json, os, sys
import keras, numpy as np, tensorflow as tf

class Root(keras.layers.Layer):  # a NaN born here, in the forward pass, at batch 21 only
    def call(self, x):
        return tf.sqrt(x)

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).uniform(0.5, 1.0, size=(4 * 40, 20000)).astype("float32")  # large outputs (stats.py)
x[4 * 21 : 4 * 22, 0] = -1.0
y = x.mean(axis=1, keepdims=True)
model = keras.Sequential([keras.Input((20000,)), Root(), keras.layers.Dense(4), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(1e-5), loss="mse")
model.fit(x[: 4 * 21], y[: 4 * 21], batch_size=4, epochs=1, verbose=0, shuffle=False)
np.save(sys.argv[1], np.concatenate([w.ravel() for w in model.get_weights()]))
model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
"""


@pytest.mark.slow
def test_outputs_every_kth_step_trains_the_same_and_finds_the_same_nan(tmp_path):
    """``DNN_INSTRUMENT_OUTPUTS_EVERY=4``: the same weights as a full recording, and a NaN born in a layer's output at a
    step that is not measured in full (batch 21 of the second fit) is found at the same layer, phase and iteration."""
    from conftest import run_python

    from dnn_instrument.transformer import instrument

    program = tmp_path / "outputs.py"
    program.write_text(instrument(OUTPUTS_PROGRAM, "outputs.py").code)
    found, traces = {}, {}
    for every in ("1", "4"):
        report = tmp_path / f"report-{every}.json"
        run = run_python(
            program,
            tmp_path / f"weights-{every}.npy",
            env={
                "DNN_INSTRUMENT_OUTPUTS_EVERY": every,
                "DNN_INSTRUMENT_REPORT": str(report),
                "DNN_INSTRUMENT_VIEWS": "none",
                "DNN_INSTRUMENT_DIR": str(tmp_path / f"runs-{every}"),
            },
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        (traces[every],) = (tmp_path / f"runs-{every}").glob("*/trace-0.npz")  # the first fit's
        (second,) = (tmp_path / f"runs-{every}").glob("*/trace-1.npz")  # it reuses the first fit's compiled step
        with np.load(second) as data:
            assert (data["values"][:, :, stats.COLUMN["count"]] >= 0).all()  # every row unmeasured was filled in
        document = json.loads(report.read_text())
        found[every] = [
            (f["symptom"], f["phase"], f["layer"], f["iteration"]) for f in document["findings"] if f["fit_index"] == 1
        ]
    assert found["1"] and found["4"] == found["1"]
    assert any(phase == "forward" and iteration == 21 for _, phase, _, iteration in found["4"]), found["4"]
    np.testing.assert_array_equal(np.load(tmp_path / "weights-1.npy"), np.load(tmp_path / "weights-4.npy"))
    forward = {}  # the first fit's rows of root's output (the large one): after step 16, measured in full only at 20
    for every, path in traces.items():
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            rows = [i for i, site in enumerate(meta["sites"]) if site["phase"] == "forward" and site["layer"] == "root"]
            forward[every] = data["values"][:, rows]
    changed = [step for step in range(1, 21) if not np.array_equal(forward["4"][step], forward["4"][step - 1])]
    assert changed == list(range(1, 17)) + [20]
    assert all(not np.array_equal(forward["1"][step], forward["1"][step - 1]) for step in range(1, 21))
    np.testing.assert_allclose(forward["4"][[16, 20]], forward["1"][[16, 20]], rtol=1e-6)


def test_careful_path_computes_nothing_tensor_sized_from_shapes_alone():
    """With static shapes, Grappler folds what depends on shapes alone into constants kept in the compiled step:
    the careful path must compute nothing of a tensor's size that does not depend on its values (a segment-id
    vector did, and a MobileNetV2 at 96x96 took 4 GB more than fit)."""
    f = tf.function(lambda a, b: stats.statistics([a, b], [None, (0.01, 0.99)]), autograph=False)
    graph = f.get_concrete_function(tf.TensorSpec([4, 50_000]), tf.TensorSpec([3, 3])).graph
    conds = [op for op in graph.get_operations() if op.type in ("If", "StatelessIf")]
    assert conds
    careful = [graph._get_function(cond.get_attr("else_branch").name).graph for cond in conds]
    checked = 0
    while careful:  # each branch, and the functions it calls (the careful path is one compiled function)
        branch = careful.pop()
        from_values = {}
        for op in branch.get_operations():  # in creation order: inputs first
            from_values[op.name] = op.type == "Placeholder" or (
                op.type not in ("Shape", "ShapeN", "Size", "Rank") and any(from_values[t.op.name] for t in op.inputs)
            )
            if not from_values[op.name]:
                for output in op.outputs:
                    assert output.shape.is_fully_defined() and output.shape.num_elements() < 1000, (op.type, output)
            if op.type in ("PartitionedCall", "StatefulPartitionedCall"):
                careful.append(graph._get_function(op.get_attr("f").name).graph)
            checked += op.type == "IsNan"
    assert checked == len(conds)  # every careful path was looked into


def test_conds_stay_functional_so_the_step_runs_without_switch_and_merge():
    """The statistics' ``tf.cond``s stay ``If`` ops: lowered to ``Switch``/``Merge``, they would make TensorFlow run every
    op of the step under its slower general propagator (``fit``'s step has none). Checked in the graph that ran, with
    the rows still those of numpy, careful path included."""
    rng = np.random.default_rng(5)
    shapes = [(4, 3)] * stats.NARROW_AT_LEAST + [(4, 50), (3, 3), (3, 3)]  # narrow outputs, a large one, two weights
    arrays = [rng.normal(size=s).astype(np.float32) for s in shapes]
    arrays[1][2, 1] = np.nan
    activations = [True] * (stats.NARROW_AT_LEAST + 1) + [False, False]
    f = tf.function(
        lambda *ts: stats.statistics(list(ts), None, activations),
        input_signature=[
            tf.TensorSpec((None,) + s[1:]) if a else tf.TensorSpec(s) for s, a in zip(shapes, activations)
        ],
        autograph=False,
    )
    rows, ran = ops_that_ran(lambda: f(*arrays).numpy())
    assert ran.count("StatelessIf") + ran.count("If") >= 3  # narrow, large and stacked each behind their cond
    assert "Switch" not in ran and "Merge" not in ran
    for row, array in zip(rows, arrays):
        np.testing.assert_allclose(row, reference(array), rtol=2e-4, atol=2e-5)


def test_weight_updates_are_subtracted_once_per_shape_and_exactly():
    """The optimizer's changes are computed for the small weights of one shape at once (one subtraction per shape, not
    per weight), and each is exactly its weight's new value less its old one."""
    from dnn_instrument.runtime.record.probe import differences

    rng = np.random.default_rng(6)
    shapes = [(3, 3), (3,), (3, 3), (3, 3), (3,), (5, 2), (stats.GROUPED_AT_MOST + 1,)]  # the last too large to stack
    after = [rng.normal(size=s).astype(np.float32) for s in shapes]
    before = [a + rng.normal(size=a.shape).astype(np.float32) for a in after]
    f = tf.function(lambda new, old: differences(list(new), list(old)), autograph=False)
    specs = [tf.TensorSpec(s) for s in shapes]
    graph = f.get_concrete_function(specs, specs).graph
    assert sum(op.type == "Sub" for op in graph.get_operations()) == 4  # (3, 3), (3,), (5, 2) alone, the large one
    for got, new, old in zip(f(after, before), after, before):
        np.testing.assert_array_equal(got.numpy(), new - old)


def test_huge_values_do_not_overflow_the_norm():
    x = np.array([3e30, -4e30, np.nan], np.float32)
    row = stats.statistics([tf.constant(x)]).numpy()[0]
    assert row[stats.COLUMN["norm"]] == pytest.approx(5e30, rel=1e-5)
    assert row[stats.COLUMN["frac_nan"]] == pytest.approx(1 / 3)


@pytest.mark.parametrize("kind", ["sequential", "functional", "nested"])
def test_layer_graph_computes_what_the_model_computes(kind):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    if kind == "sequential":
        model = keras.Sequential(
            [inputs, keras.layers.Dense(4, activation="tanh"), keras.layers.BatchNormalization(), keras.layers.Dense(2)]
        )
    else:
        a = keras.layers.Dense(4, activation="relu")(inputs)
        b = keras.layers.Dense(4)(inputs)
        if kind == "nested":
            b = keras.Sequential([keras.layers.Dense(4), keras.layers.Dropout(0.0)])(b)
        model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Concatenate()([a, b])))
    x = tf.random.normal([5, 6])
    graph = LayerGraph(model)
    with graph.calling(training=False):
        tensors = graph.feed(x)
        outputs = [node.call(tensors, training=False) for node in graph.nodes]
        result = graph.result(tensors)
    np.testing.assert_array_equal(result.numpy(), model(x, training=False).numpy())
    assert [node.layer for node in graph.nodes if node.index is not None] == [
        layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)
    ]
    assert len(outputs) == len(graph.nodes)


def test_subclassed_model_is_one_opaque_node():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x) * 2

    model = Net()
    graph = LayerGraph(model)
    assert len(graph.nodes) == 1 and graph.nodes[0].index is None


def test_source_map_translates_lines():
    source_map = SourceMap("train.py", [(1, 2), (10, 20)])
    assert source_map.original_line(1) is None
    assert source_map.original_line(3) == 1
    assert source_map.original_line(9) == 7
    assert source_map.original_line(15) is None
    assert source_map.location(21) == "train.py:8"


@pytest.mark.parametrize("policy, iterations", [("fault", 4), ("never", 8)])
def test_diagnose_callback_records_and_reports(policy, iterations, tmp_path, monkeypatch, runs_dir):
    from dnn_instrument.runtime import Diagnose

    report_path = tmp_path / "report.json"
    monkeypatch.setenv("DNN_INSTRUMENT_REPORT", str(report_path))
    monkeypatch.setenv("DNN_INSTRUMENT_STOP", policy)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="out")])
    model.compile(optimizer=keras.optimizers.SGD(1e38), loss="mse")  # the first update overflows the weights
    x, y = np.full((16, 3), 1e3, "float32"), np.ones((16, 2), "float32")
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[Diagnose("test:1")])
    document = json.loads(report_path.read_text())
    jsonschema.validate(document, SCHEMA)
    # "fault": training stops where the analysis sees the first NaN/Inf: when the callback reads its rows, at the
    # end of the first epoch (4 steps; or after FLUSH_EVERY steps)
    assert document["iterations"] == iterations
    assert document["verdict"] == "buggy"
    finding = document["findings"][0]
    assert finding["symptom"] == "numerical_error" and finding["layer"] == "out"
    assert finding["phase"] in ("update", "weight") and finding["iteration"] == 0


def test_diagnose_side_pass_runs_on_a_schedule_and_at_a_fault(monkeypatch, runs_dir):
    """The callback's side pass (layer outputs and gradients on its sample) runs after each of the first
    ``SIDE_FIRST`` batches, then every ``SIDE_EVERY``-th, and at once after a batch whose weights hold a NaN/Inf;
    the batches in between repeat its last rows. The loss, weights and updates are recorded after every batch."""
    from dnn_instrument.runtime import callback

    monkeypatch.setenv("DNN_INSTRUMENT_STOP", "never")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    x, y = np.random.default_rng(0).normal(size=(2 * 36, 3)).astype("float32"), np.ones((2 * 36, 1), "float32")

    class BreakAt(keras.callbacks.Callback):  # from batch 30 (index 29) on, the first layer's kernel holds a NaN
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 29:
                kernel = self.model.layers[0].kernel
                kernel.assign(tf.tensor_scatter_nd_update(kernel, [[0, 0]], [float("nan")]))

    diagnose = callback.Diagnose("test:1", sample=(x, y))
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False, callbacks=[BreakAt(), diagnose])
    store = diagnose.store
    values = store.values
    phases = [site["phase"] for site in store.sites]
    forward, weight = phases.index("forward"), phases.index("weight")
    side_at = [
        b for b in range(1, 30) if not np.array_equal(values[b, forward], values[b - 1, forward], equal_nan=True)
    ]
    first, every = callback.SIDE_FIRST, callback.SIDE_EVERY
    assert every > 1 and side_at == [b for b in range(1, 30) if b < first or (b + 1) % every == 0 or b == 29]
    assert values[29, weight, stats.COLUMN["frac_nan"]] > 0  # the fault that made the side pass run at once
    assert all(not np.array_equal(values[b, weight], values[b - 1, weight]) for b in range(1, 29))  # every batch


def test_report_of_an_empty_run_is_valid():
    store = TraceStore()
    store.close()
    document = report.build("x.py", [store])
    jsonschema.validate(document, SCHEMA)
    assert document["verdict"] == "ok" and document["iterations"] == 0


def test_probe_records_inputs_of_several_dtypes(runs_dir):
    from dnn_instrument.runtime import Probe  # the generated loop's: its store joins the run

    tokens = keras.Input((3,), dtype="int32")
    features = keras.Input((2,))
    embedded = keras.layers.Flatten()(keras.layers.Embedding(10, 2)(tokens))
    model = keras.Model([tokens, features], keras.layers.Dense(1)(keras.layers.Concatenate()([embedded, features])))
    probe = Probe(model, "test:1")
    probe.data([tf.constant([[1, 2, 3]]), tf.constant([[0.5, -0.5]])], tf.constant([[1.0]]))
    rows = probe.statistics().numpy()
    assert [s["phase"] for s in probe.store.sites] == ["input", "target"]
    assert rows[0][stats.COLUMN["count"]] == 5 and rows[0][stats.COLUMN["max"]] == 3.0


def test_diagnose_with_a_sample_sees_layers_and_changes_no_training(tmp_path, monkeypatch, runs_dir):
    """With ``sample=(x, y)`` the callback records layer outputs and gradients on that sample; training,
    metrics and History are exactly those of a plain fit."""
    from dnn_instrument.runtime import Diagnose

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(96, 5)).astype("float32"), rng.integers(0, 3, 96)

    def train(callbacks):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((5,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dropout(0.3),
                keras.layers.BatchNormalization(),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=callbacks)
        return model.get_weights(), history.history

    plain_weights, plain_history = train([])
    diagnose = Diagnose("test:1", sample=(x, y))
    weights, history = train([diagnose])
    assert history == plain_history
    assert all(np.array_equal(a, b) for a, b in zip(weights, plain_weights))
    phases = {site["phase"] for site in diagnose.store.sites}
    assert {"input", "target", "forward", "backward", "gradient", "weight", "update", "loss"} <= phases
    assert diagnose.store.iterations == 12
    from dnn_instrument.runtime.report import document as report

    assert [
        what for what in report.unseen(diagnose.store) if "batches" not in what
    ] == []  # it sees all but the batches
    diagnose.store.sites = [s for s in diagnose.store.sites if s["phase"] in ("loss", "weight", "update")]
    assert len(report.unseen(diagnose.store)) == 5  # without a sample: no layers, gradients, inputs, targets


def test_terminal_report_escapes_control_characters():
    """Names from the user's code never reach the terminal as raw escape sequences."""
    from dnn_instrument.runtime.report import terminal

    finding = {
        "symptom": "dead_relu",
        "layer": "evil\x1b[2J",
        "source": "t\x1b]0;x\x07.py:3",
        "phase": "forward",
        "iteration": 0,
        "fix": "rename `evil\x1b[2J`",
        "evidence": "layer `evil\x1b[2J`",
    }
    fit = {
        "site": "t.py:9",
        "stopped": None,
        "unseen": [],
        "mechanism": "loop",
        "summary": [{"layer": "evil\x1b[2J", "layer_index": 0}],
    }
    text = terminal.render({"iterations": 1, "verdict": "buggy", "findings": [finding], "fits": [fit]}, "runs/x\x1b[0m")
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b[2J" in text


def test_source_map_is_invisible_to_keras_introspection(tmp_path):
    """Watching a file must not change what Keras reads of a layer class: its ``__init__``'s parameters
    (``getfullargspec``, used to build a layer's config for saving), a subclass without ``__init__``, saving
    to ``.keras`` and loading back; and layers still get their line."""
    from dnn_instrument.runtime import origins

    before = inspect.getfullargspec(keras.layers.Dense.__init__)
    script = tmp_path / "train.py"
    code = (
        "import keras, numpy as np\n"
        "class Twice(keras.layers.Layer):\n"
        "    def call(self, x):\n"
        "        return 2.0 * x\n"
        "model = keras.Sequential([keras.Input((3,)), Twice(), keras.layers.Dense(2)])\n"
        f"model.save({str(tmp_path / 'm.keras')!r})\n"
        f"loaded = keras.models.load_model({str(tmp_path / 'm.keras')!r}, custom_objects={{'Twice': Twice}})\n"
    )
    script.write_text(code)
    origins.watch(str(script), "train.py", inserted=[])
    namespace = {}
    exec(compile(code, str(script), "exec"), namespace)
    assert inspect.getfullargspec(keras.layers.Dense.__init__) == before
    assert inspect.getfullargspec(namespace["Twice"].__init__).varargs is None
    model, loaded = namespace["model"], namespace["loaded"]
    assert [origins.origin_of(layer) for layer in model.layers] == ["train.py:5", "train.py:5"]
    assert [origins.origin_of(layer) for layer in loaded.layers] == ["train.py:7", "train.py:7"]
    x = np.ones((4, 3), "float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def _memory_optimization():
    """The memory optimizer setting of the options functions are called with now, in this thread."""
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.eager import context

    config = config_pb2.ConfigProto.FromString(context.context().function_call_options.config_proto_serialized)
    return config.graph_options.rewrite_options.memory_optimization


def test_like_fit_turns_the_memory_optimizer_off_for_its_calls_only():
    """The step's calls run without Grappler's memory-pressure rewrite of sums (record/step.py, ``like_fit``); the options of
    every other call are left as they were, also after an error and when the user chose a setting of their own."""
    from tensorflow.core.protobuf import rewriter_config_pb2 as rewriter
    from tensorflow.python.eager import context

    from dnn_instrument.runtime.record.step import like_fit

    ctx = context.context()
    before = ctx.function_call_options
    seen = []
    step = like_fit(lambda value: seen.append(_memory_optimization()) or value * 2)
    assert step(3) == 6 and step(4) == 8
    assert seen == [rewriter.RewriterConfig.NO_MEM_OPT] * 2
    assert ctx.function_call_options is before and _memory_optimization() == rewriter.RewriterConfig.DEFAULT_MEM_OPT

    def failing():
        raise ValueError("in the step")

    with pytest.raises(ValueError):
        like_fit(failing)()
    assert ctx.function_call_options is before

    config = tf.compat.v1.ConfigProto()
    config.ParseFromString(before.config_proto_serialized)
    config.graph_options.rewrite_options.memory_optimization = rewriter.RewriterConfig.HEURISTICS
    ctx.function_call_options = context.FunctionCallOptions(config_proto=config)
    try:
        seen.clear()
        step(1)
        assert seen == [rewriter.RewriterConfig.HEURISTICS]  # the user's own choice
    finally:
        ctx.function_call_options = before


# A helper's `fit` (validation_split marks it as Keras's): the generated loop, called in this process.
TRAIN_SOURCE = """import keras


def train(model, x, y):
    return model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, shuffle=False, verbose=0)
"""


def _fits(recompile_between, instrumented):
    """One model trained by two fits (re-compiled between them or not), plain or instrumented: the model, the step
    kept after its first fit and that step's trace count then (instrumented), and the second fit's History."""
    from dnn_instrument.runtime.record import step
    from dnn_instrument.transformer import instrument

    source = instrument(TRAIN_SOURCE, "train.py").code if instrumented else TRAIN_SOURCE
    namespace = {"__name__": "train", "__file__": "train.py"}
    exec(compile(source, "train.py", "exec"), namespace)
    train = namespace["train"]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, :1] - x[:, 1:2] > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    train(model, x, y)
    kept = step.kept_for(model)
    traces = kept.next_step.experimental_get_tracing_count() if kept else None
    if recompile_between:
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    history = train(model, x, y)
    return model, kept, traces, history


def test_a_second_fit_reuses_the_compiled_step_and_trains_as_fit(runs_dir):
    """As Keras reuses ``model.train_function``, a second fit of the same compiled model runs the step the first
    compiled, without tracing it again; it trains as ``fit`` does, and records under its own site and store."""
    from dnn_instrument.runtime import session
    from dnn_instrument.runtime.record import step

    model, kept, traces, history = _fits(recompile_between=False, instrumented=True)
    assert kept is not None and step.kept_for(model) is kept
    assert kept.next_step.experimental_get_tracing_count() == traces  # no new trace in the second fit
    plain, _, _, plain_history = _fits(recompile_between=False, instrumented=False)
    for ours, theirs in zip(model.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert history.history == plain_history.history
    first, second = session._current.stores
    assert first is not second and first.site == second.site == "train.py:5"
    assert second.sites == first.sites and second.iterations == first.iterations == 6  # 48 samples, batches of 16
    assert second.facts["target_shapes"] == first.facts["target_shapes"]
    kept_models = len(step._kept)
    del model, kept, history  # (the History knows its model)
    import gc

    gc.collect()
    assert len(step._kept) == kept_models - 1  # kept weakly: the model takes its step with it


def test_a_compile_between_fits_compiles_the_step_anew_and_trains_as_fit(runs_dir):
    from dnn_instrument.runtime.record import step

    model, kept, _, history = _fits(recompile_between=True, instrumented=True)
    assert step.kept_for(model) is not kept  # a new compile: a new step, as Keras makes a new train_function
    plain, _, _, plain_history = _fits(recompile_between=True, instrumented=False)
    for ours, theirs in zip(model.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert history.history == plain_history.history


@pytest.mark.parametrize("bad", [False, True])
def test_each_phase_measures_the_statistics_it_declares_and_leaves_the_others_nan(bad):
    """A gradient, an update or an output's gradient costs its norm alone, a weight its moments and extremes
    (``vocabulary.PHASES``): their other columns are NaN, the measured ones are numpy's, in every kind of block
    (stacked by shape, narrow, large) and on the careful path."""
    rng = np.random.default_rng(5)
    narrow = ["forward", "backward"] * stats.NARROW_AT_LEAST  # (6, 3) each: reduced together by width
    phases = narrow + ["gradient", "weight", "update"] * 2 + ["forward", "backward", "gradient", "loss"]
    shapes = [(6, 3)] * len(narrow) + [(3, 4)] * 6 + [(6, 300), (6, 300), (300, 300), ()]
    arrays = [np.where(rng.uniform(size=s) < 0.2, 0.0, rng.normal(size=s)).astype(np.float32) for s in shapes]
    if bad:
        arrays[-3][1, 2] = np.nan  # a large output gradient: its run takes the careful path
        arrays[len(narrow)][0, 0] = np.inf  # a stacked gradient: its block too
        arrays[1][2, 1] = np.nan  # a narrow output gradient: its group too
    sites = [{"phase": phase} for phase in phases]
    activations = [phase in ("forward", "backward") for phase in phases]
    f = tf.function(  # the batch known at run time only; weights, their gradients and updates of a static shape
        lambda *ts: stats.statistics(list(ts), None, activations, None, measures_of(sites)),
        input_signature=[
            tf.TensorSpec((None,) + a.shape[1:] if act else a.shape) for a, act in zip(arrays, activations)
        ],
        autograph=False,
    )
    graph = f.get_concrete_function().graph
    assert any(op.type == "UnsortedSegmentSum" for op in graph.get_operations())  # the narrow ones
    assert any(op.type == "Pack" and op.inputs[0].shape == (3, 4) for op in graph.get_operations())  # the stacked
    for row, array, phase in zip(f(*arrays).numpy(), arrays, phases):
        measured = np.array([name in PHASE[phase].measures for name in stats.STATS])
        assert np.isnan(row[~measured]).all(), (phase, row)
        np.testing.assert_allclose(row[measured], reference(array)[measured], rtol=2e-4, atol=2e-5)
    assert PHASE["forward"].measures == stats.STATS and "frac_zero" not in PHASE["gradient"].measures


def test_updates_subtracted_at_once_are_measured_from_their_stacked_difference():
    """``probe.differences`` subtracts the weights of one shape at once; their statistics take that stacked
    difference back whole (``stats._stacked``) instead of stacking its slices again, also when gradients of that shape,
    which measure the same, are recorded with them (as the probe records them, weight by weight)."""
    from dnn_instrument.runtime.record.probe import differences

    rng = np.random.default_rng(6)
    after = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(3)] + [rng.normal(size=(5,)).astype(np.float32)]
    before = [a + rng.normal(size=a.shape).astype(np.float32) for a in after]
    gradients = [rng.normal(size=a.shape).astype(np.float32) for a in after]
    sites = [{"phase": "gradient"}, {"phase": "update"}] * len(after)

    def measure(*tensors):
        n = len(after)
        changes = differences(list(tensors[:n]), list(tensors[n : 2 * n]))
        return stats.statistics(
            [t for pair in zip(tensors[2 * n :], changes) for t in pair], measures=measures_of(sites)
        )

    f = tf.function(
        measure, input_signature=[tf.TensorSpec(a.shape) for a in after + before + gradients], autograph=False
    )
    graph = f.get_concrete_function().graph
    unstacked = {op.name for op in graph.get_operations() if op.type == "Unpack" and op.inputs[0].op.type == "Sub"}
    assert unstacked  # the three (4, 3) weights were subtracted at once
    packs = [op for op in graph.get_operations() if op.type == "Pack"]
    assert not any(t.op.name in unstacked for op in packs for t in op.inputs)  # never stacked again
    measured = np.array([name in PHASE["update"].measures for name in stats.STATS])
    rows = f(*after, *before, *gradients).numpy()
    for change, new, old in zip(rows[1::2], after, before):
        np.testing.assert_allclose(change[measured], reference(new - old)[measured], rtol=2e-4, atol=2e-5)
    for row, gradient in zip(rows[::2], gradients):
        np.testing.assert_allclose(row[measured], reference(gradient)[measured], rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("bad", [False, True])
def test_tensors_alone_in_their_shape_are_reduced_together_with_the_rows_of_numpy(bad):
    """A tensor whose shape no other tensor of the step has (the ``Diagnose`` callback's 13 tensors are 13 shapes) is
    not stacked alone: those tensors are reduced together, as a run is (``stats._fast_groups``), each with the reductions
    its phase needs; every row is numpy's (its saturated fraction too), and a NaN sends them to the careful path."""
    rng = np.random.default_rng(7)
    phases = ["loss", "weight", "update", "forward", "gradient", "weight", "weight"]
    shapes = [(), (4, 3), (5,), (2, 7), (3, 3), (6,), (6,)]  # the last two share a shape: stacked
    arrays = [np.where(rng.uniform(size=s) < 0.2, 0.0, rng.normal(size=s)).astype(np.float32) for s in shapes]
    arrays[3] = rng.uniform(size=(2, 7)).astype(np.float32)  # a sigmoid's output: some of it saturated
    arrays[3][0, :3] = [0.001, 0.995, 0.0]
    if bad:
        arrays[2][1] = np.nan
    bounds = [None, None, None, stats.SATURATION["sigmoid"], None, None, None]
    sites = [{"phase": phase} for phase in phases]
    f = tf.function(
        lambda *ts: stats.statistics(list(ts), bounds, None, None, measures_of(sites)),
        input_signature=[tf.TensorSpec(a.shape) for a in arrays],
        autograph=False,
    )
    packs = [op for op in f.get_concrete_function().graph.get_operations() if op.type == "Pack"]
    assert not any(len(op.inputs) == 1 for op in packs)  # no stack of one tensor
    assert any(len(op.inputs) == 2 and op.inputs[0].shape == (6,) for op in packs)  # the two of one shape
    for row, array, phase, bound in zip(f(*arrays).numpy(), arrays, phases, bounds):
        measured = np.array([name in PHASE[phase].measures for name in stats.STATS])
        assert np.isnan(row[~measured]).all(), (phase, row)
        np.testing.assert_allclose(row[measured], reference(array, bound)[measured], rtol=2e-4, atol=2e-5)


def test_a_snapshot_is_the_value_the_forward_pass_read_unless_the_weight_was_written_since():
    """``probe.read_so_far``: a weight the step has only read so far gives that read (no read of its own in the step);
    one written since, one never read, and one taken by a nested function give None (``snapshot`` reads it then)."""
    from dnn_instrument.runtime.record.probe import read_so_far

    read_only, written, unread, nested = (keras.Variable(np.full((2, 3), k, "float32")) for k in (1.0, 2.0, 3.0, 4.0))
    inner = tf.function(lambda: nested * 2.0, autograph=False)
    found = {}

    def step(x):
        out = tf.matmul(x, read_only) + tf.matmul(x, written) + inner()
        written.assign_add(tf.ones((2, 3)))
        graph = tf.compat.v1.get_default_graph()
        reads = sum(op.type == "ReadVariableOp" for op in graph.get_operations())
        read = read_so_far()
        found["values"] = [read(v) for v in (read_only, written, unread, nested)]
        found["added"] = sum(op.type == "ReadVariableOp" for op in graph.get_operations()) - reads
        return out

    tf.function(step, autograph=False).get_concrete_function(tf.TensorSpec([1, 2]))
    value, *others = found["values"]
    assert value is not None and value.op.type == "ReadVariableOp" and value.shape == (2, 3)
    assert value.op.inputs[0].consumers() == [value.op]  # the matmul's read, the only op that takes the weight
    assert others == [None, None, None] and found["added"] == 0


def test_an_update_row_is_the_change_the_optimizer_made(runs_dir):
    """With SGD every update is the learning rate times the gradient: each update row's norm is that of its gradient
    row times the rate, in every step (the weights before the step taken from the forward pass's reads)."""
    from dnn_instrument.runtime import session
    from dnn_instrument.transformer import instrument

    namespace = {"__name__": "train", "__file__": "train.py"}
    exec(compile(instrument(TRAIN_SOURCE, "train.py").code, "train.py", "exec"), namespace)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, :1] - x[:, 1:2] > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    namespace["train"](model, x, y)
    store = session._current.stores[-1]
    values, norm = store.values, stats.COLUMN["norm"]
    row = {(site["phase"], site["tensor"]): i for i, site in enumerate(store.sites)}
    weights = [tensor for phase, tensor in row if phase == "update"]
    assert len(weights) == 4 and len(values) == 6
    for tensor in weights:
        updates, gradients = values[:, row["update", tensor], norm], values[:, row["gradient", tensor], norm]
        assert np.all(updates > 0)
        np.testing.assert_allclose(updates, 0.1 * gradients, rtol=1e-4)
