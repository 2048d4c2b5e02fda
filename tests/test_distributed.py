"""tf.distribute: which strategies the loop runs under, the in-graph reduction of the replicas' probes, and
a NaN under MirroredStrategy diagnosed end to end with its replica named.

Equivalence under MirroredStrategy (weights and History as ``fit``'s) is in test_equivalence.py
(``tests/programs/eq_mirrored_*.py``), the fallback of an unsupported strategy too (``eq_multiworker_*``).
"""

import json

import jsonschema
import numpy as np
import pytest
from conftest import PROGRAMS, ROOT, run_python

from dnn_instrument.transformer import instrument

SCHEMA = json.loads((ROOT / "runtime" / "report" / "report.schema.json").read_text())


def _rows(values):
    """Statistics rows of each tensor of ``values``, as one replica's probes compute them."""
    import tensorflow as tf

    from dnn_instrument.runtime.record import stats

    return stats.statistics([tf.constant(v, tf.float32) for v in values]).numpy()


def test_replica_statistics_combine_as_the_whole_tensor():
    import tensorflow as tf

    from dnn_instrument.runtime.record import stats

    rng = np.random.default_rng(0)
    first = [rng.normal(size=(6, 4)), rng.normal(3.0, 2.0, size=(10,)), np.array([1.0, np.nan, 0.0, np.inf]),
             np.full(3, np.nan)]
    second = [rng.normal(size=(6, 4)), rng.normal(-1.0, 0.5, size=(10,)), np.array([2.0, -5.0, np.nan, 0.0]),
              np.array([4.0, -1.0, 0.5])]
    matrices = tf.constant(np.stack([_rows(first), _rows(second)]))
    combined = stats.combine(matrices).numpy()
    whole = _rows([np.concatenate([a.ravel(), b.ravel()]) for a, b in zip(first, second)])
    np.testing.assert_allclose(combined, whole, rtol=1e-4, atol=1e-5)

    mirrored = stats.combine(matrices, [True, False, False, False]).numpy()  # a mirrored weight: the first replica's row
    np.testing.assert_array_equal(mirrored[0], _rows(first)[0])
    np.testing.assert_allclose(mirrored[1:], whole[1:], rtol=1e-4, atol=1e-5)

    # the first site that held a NaN/Inf, per replica (4 = none)
    clean = _rows([np.ones(3)] * 4)
    assert stats.first_faults(matrices).numpy().tolist() == [2, 2]
    assert stats.first_faults(tf.constant(np.stack([clean, _rows(second)]))).numpy().tolist() == [4, 2]


def _model_under(strategy):
    import keras

    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
    return model


def test_loop_runs_under_mirrored_and_one_device_strategies_only(capsys):
    import keras
    import tensorflow as tf

    from dnn_instrument.runtime.fallback import loop_supports

    assert loop_supports(_model_under(tf.distribute.MirroredStrategy(["/cpu:0"])))
    assert loop_supports(_model_under(tf.distribute.OneDeviceStrategy("/cpu:0")))
    assert capsys.readouterr().err == ""
    # MultiWorkerMirroredStrategy would set up collective ops in this process: its fallback is tested by running
    # tests/programs/eq_multiworker_strategy_fallback.py (test_equivalence.py). TPUStrategy and
    # ParameterServerStrategy need a TPU or a cluster to exist: the check goes by the strategy's class name.
    model = _model_under(tf.distribute.experimental.CentralStorageStrategy())
    unsupported = [("CentralStorageStrategy", model)]
    for name in ("TPUStrategy", "ParameterServerStrategy"):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model._distribute_strategy = type(name, (), {})()
        unsupported.append((name, model))
    for name, model in unsupported:
        assert not loop_supports(model)
        assert (f"the model trains under tf.distribute's {name}, which the explicit loop does not support"
                in capsys.readouterr().err)


@pytest.mark.slow
def test_nan_under_mirrored_strategy_is_diagnosed_with_its_replica(tmp_path):
    script = PROGRAMS / "mirrored_overflow.py"
    instrumented = tmp_path / script.name
    instrumented.write_text(instrument(script.read_text(), str(script)).code)
    report = tmp_path / "report.json"
    result = run_python(instrumented, cwd=tmp_path,
                        env={"DNN_INSTRUMENT_REPORT": str(report), "DNN_INSTRUMENT_DIR": str(tmp_path / "runs")})
    assert report.exists(), result.stderr[-3000:]
    document = json.loads(report.read_text())
    jsonschema.validate(document, SCHEMA)
    assert document["verdict"] == "buggy"
    first = document["findings"][0]
    assert first["cause"] == "learning_rate" and first["layer"] == "dense", first
    fit = document["fits"][0]
    assert fit["mechanism"] == "loop"
    distribution = fit["distribution"]
    assert distribution["strategy"] == "MirroredStrategy" and distribution["replicas"] == 2
    assert distribution["fault_replica"] in distribution["fault_replicas"] and set(distribution["fault_replicas"]) <= {0, 1}
    said = f"the first NaN/Inf appeared on replica {distribution['fault_replica']}"
    assert said in result.stderr
    assert said in (next((tmp_path / "runs").iterdir()) / "report.html").read_text()
