"""tf.distribute: which strategies the loop runs under (and the fallback of each other one), the in-graph
reduction of the replicas' probes, a NaN under MirroredStrategy diagnosed end to end with its replica named,
and a two-worker MultiWorkerMirroredStrategy cluster on localhost trained both ways.

Equivalence under MirroredStrategy and a one-worker MultiWorkerMirroredStrategy (weights and History as
``fit``'s) is in test_equivalence.py (``tests/programs/eq_mirrored_*.py``, ``eq_multiworker_one_worker.py``), an
unsupported strategy's fallback end to end too (``eq_central_storage_fallback.py``).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from conftest import PROGRAMS, ROOT, VIEWS_ON, run_python

from dnn_instrument.runtime.report import wait_for_views
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
    first = [
        rng.normal(size=(6, 4)),
        rng.normal(3.0, 2.0, size=(10,)),
        np.array([1.0, np.nan, 0.0, np.inf]),
        np.full(3, np.nan),
    ]
    second = [
        rng.normal(size=(6, 4)),
        rng.normal(-1.0, 0.5, size=(10,)),
        np.array([2.0, -5.0, np.nan, 0.0]),
        np.array([4.0, -1.0, 0.5]),
    ]
    matrices = tf.constant(np.stack([_rows(first), _rows(second)]))
    combined = stats.combine(matrices).numpy()
    whole = _rows([np.concatenate([a.ravel(), b.ravel()]) for a, b in zip(first, second)])
    np.testing.assert_allclose(combined, whole, rtol=1e-4, atol=1e-5)

    mirrored = stats.combine(
        matrices, [True, False, False, False]
    ).numpy()  # a mirrored weight: the first replica's row
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


def _model_claiming(strategy_class):
    """A model whose strategy is an instance of ``strategy_class`` never initialised: a TPUStrategy needs a TPU, a
    ParameterServerStrategy a cluster, and a MultiWorkerMirroredStrategy would set up collective ops for good in
    this process; the loop's decision goes by the strategy's class."""
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model._distribute_strategy = object.__new__(strategy_class)
    return model


@pytest.mark.parametrize("name", ["MirroredStrategy", "OneDeviceStrategy", "MultiWorkerMirroredStrategy"])
def test_loop_runs_under_supported_strategy(name, capsys):
    import tensorflow as tf

    from dnn_instrument.runtime.fallback import loop_supports

    model = {
        "MirroredStrategy": lambda: _model_under(tf.distribute.MirroredStrategy(["/cpu:0"])),
        "OneDeviceStrategy": lambda: _model_under(tf.distribute.OneDeviceStrategy("/cpu:0")),
        "MultiWorkerMirroredStrategy": lambda: _model_claiming(tf.distribute.MultiWorkerMirroredStrategy),
    }[name]()
    assert loop_supports(model)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("name", ["CentralStorageStrategy", "TPUStrategy", "ParameterServerStrategy"])
def test_unsupported_strategy_falls_back_to_fit_with_a_message(name, capsys):
    import tensorflow as tf

    from dnn_instrument.runtime.fallback import loop_supports

    model = {
        "CentralStorageStrategy": lambda: _model_under(tf.distribute.experimental.CentralStorageStrategy()),
        "TPUStrategy": lambda: _model_claiming(tf.distribute.TPUStrategy),
        "ParameterServerStrategy": lambda: _model_claiming(tf.distribute.experimental.ParameterServerStrategy),
    }[name]()
    assert not loop_supports(model)
    assert (
        f"dnn-instrument: the model trains under tf.distribute's {name}, which the explicit loop does not support"
        in capsys.readouterr().err
    )


def test_validation_across_workers_is_refused_before_training(monkeypatch):
    """Keras's evaluate fails across workers (README, Under tf.distribute): the loop says so before any step."""
    import keras

    from dnn_instrument.runtime.record import fitting
    from dnn_instrument.runtime.record.fitting import FitData

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((8, 3), "float32"), np.zeros(8, "float32")
    monkeypatch.setattr(fitting, "across_workers", lambda strategy: True)
    with pytest.raises(ValueError, match="validation .* cannot run across the workers"):
        FitData(model, x, y, batch_size=4, validation_split=0.25)
    with pytest.raises(ValueError, match="cannot run across the workers"):
        FitData(model, x, y, batch_size=4, validation_data=(x, y))
    monkeypatch.undo()
    FitData(model, x, y, batch_size=4, validation_split=0.25)  # one worker: validates


def test_a_workers_replicas_are_named_as_the_cluster_counts_them():
    import tensorflow as tf
    from tensorflow.python.distribute.collective_all_reduce_strategy import CollectiveAllReduceExtended

    from dnn_instrument.runtime.record.fitting import replica_in_cluster

    assert replica_in_cluster(_model_under(tf.distribute.MirroredStrategy(["/cpu:0"])), 0) == 0
    # worker 1 of a cluster with two replicas per worker, counted by MultiWorkerMirroredStrategy's own method
    # (set up by hand: a real one would set up collective ops in this process)
    model = _model_claiming(tf.distribute.MultiWorkerMirroredStrategy)
    extended = object.__new__(CollectiveAllReduceExtended)
    extended._id_in_cluster, extended._devices = 1, ("/cpu:0", "/cpu:1")
    model._distribute_strategy._extended = extended
    assert [replica_in_cluster(model, r) for r in (0, 1)] == [2, 3]


def test_only_the_chief_of_a_cluster_owns_the_run(monkeypatch):
    """``TF_CONFIG``'s task: the chief (the chief task, else worker 0) keeps the plain run folder and writes
    $DNN_INSTRUMENT_REPORT; any other task names its folder after itself."""
    from dnn_instrument.runtime.cluster import worker_task

    def task(cluster, kind, index):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}}))
        return worker_task()

    workers = {"worker": ["localhost:1", "localhost:2"]}
    assert task(workers, "worker", 0) is None
    assert task(workers, "worker", 1) == "worker-1"
    with_chief = {"chief": ["localhost:3"], **workers}
    assert task(with_chief, "chief", 0) is None
    assert task(with_chief, "worker", 0) == "worker-0"
    monkeypatch.setenv("TF_CONFIG", "not json")
    assert worker_task() is None
    monkeypatch.delenv("TF_CONFIG")
    assert worker_task() is None


@pytest.mark.slow
def test_nan_under_mirrored_strategy_is_diagnosed_with_its_replica(tmp_path):
    script = PROGRAMS / "mirrored_overflow.py"
    instrumented = tmp_path / script.name
    instrumented.write_text(instrument(script.read_text(), str(script)).code)
    report = tmp_path / "report.json"
    result = run_python(
        instrumented,
        cwd=tmp_path,
        env={**VIEWS_ON, "DNN_INSTRUMENT_REPORT": str(report), "DNN_INSTRUMENT_DIR": str(tmp_path / "runs")},
    )
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
    assert distribution["fault_replica"] in distribution["fault_replicas"] and set(distribution["fault_replicas"]) <= {
        0,
        1,
    }
    said = f"the first NaN/Inf appeared on replica {distribution['fault_replica']}"
    assert said in result.stderr
    folder = next((tmp_path / "runs").iterdir())
    assert wait_for_views(folder) is None  # written after the script ended
    assert said in (folder / "report.html").read_text()


def _free_ports(count):
    """Loopback ports free at this moment (the workers bind them right after)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_cluster(script, folder, env):
    """The two workers of a MultiWorkerMirroredStrategy cluster on loopback ports, each running ``script``;
    worker ``i`` saves under ``$EQ_OUT`` = ``<env's EQ_OUT><i>`` and writes its stderr to ``<EQ_OUT><i>.stderr``."""
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        out = f"{env['EQ_OUT']}{index}"
        worker_env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": str(PROGRAMS),
            **env,
            "TF_CONFIG": json.dumps(tf_config),
            "EQ_OUT": out,
        }
        with open(f"{out}.stderr", "w") as stderr:
            workers.append(
                (
                    subprocess.Popen(
                        [sys.executable, str(script)],
                        cwd=folder,
                        env=worker_env,
                        stdout=subprocess.DEVNULL,
                        stderr=stderr,
                        start_new_session=True,
                    ),
                    Path(f"{out}.stderr"),
                )
            )
    return workers


def _wait(workers, deadline):
    """Each worker's stderr once all have ended. A worker that fails, or the generous bound ``deadline`` (not a
    timing check: a hang), stops them all (the other would wait for it in its next all-reduce) and fails the test."""
    processes = [process for process, _ in workers]
    while any(process.poll() is None for process in processes):
        failed = any(process.poll() not in (None, 0) for process in processes)
        if failed or time.monotonic() > deadline:
            for process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            break
        time.sleep(0.5)
    errors = [path.read_text() for _, path in workers]
    codes = [process.returncode for process in processes]
    assert codes == [0] * len(codes), "a worker failed, or outlived the bound (-9: killed):\n" + "\n".join(
        f"worker {index}, exit status {code}:\n{error[-2000:]}"
        for index, (code, error) in enumerate(zip(codes, errors))
    )
    return errors


@pytest.mark.slow
def test_multi_worker_cluster_trains_as_fit_and_the_chief_writes_the_report(tmp_path):
    """Two workers on localhost: the generated loop (unpatched) trains as Keras's fit (with its multi-worker bugs
    patched, see tests/programs/multiworker_fit_fix.py) under the same cluster, on both workers."""
    script = PROGRAMS / "multiworker_pair.py"
    instrumented = tmp_path / script.name
    instrumented.write_text(instrument(script.read_text(), str(script)).code)
    report, runs = tmp_path / "report.json", tmp_path / "runs"
    deadline = time.monotonic() + 240
    # the plain cluster and the instrumented one side by side (four processes, two clusters)
    plain = _start_cluster(script, tmp_path, {"EQ_OUT": str(tmp_path / "a"), "MULTIWORKER_FIT_FIX": "1"})
    probed = _start_cluster(
        instrumented,
        tmp_path,
        {"EQ_OUT": str(tmp_path / "b"), "DNN_INSTRUMENT_DIR": str(runs), "DNN_INSTRUMENT_REPORT": str(report)},
    )
    _wait(plain, deadline)
    errors = _wait(probed, deadline)

    weights = {name: np.load(tmp_path / f"{name}.model.npz") for name in ("a0", "a1", "b0", "b1")}
    for name in ("a1", "b0", "b1"):
        assert [weights[name][k].shape for k in weights[name].files] == [
            weights["a0"][k].shape for k in weights["a0"].files
        ]
        worst = max(float(np.abs(weights[name][k] - weights["a0"][k]).max()) for k in weights["a0"].files)
        assert worst <= 1e-5, f"{name}: weights differ from fit's (worker 0) by {worst}"
    histories = {name: json.loads((tmp_path / f"{name}.model.json").read_text()) for name in ("a0", "b0", "b1")}
    assert sorted(histories["b0"]) == sorted(histories["a0"]) == ["accuracy", "loss"]
    for name in ("b0", "b1"):
        np.testing.assert_allclose(histories[name]["loss"], histories["a0"]["loss"], atol=1e-4)

    # the chief (worker 0) writes the run folder and the report; worker 1 its own folder, named by its task
    folders = sorted(path.name for path in runs.iterdir())
    assert len(folders) == 2 and [name.endswith("-worker-1") for name in folders].count(True) == 1, folders
    chief = runs / next(name for name in folders if not name.endswith("-worker-1"))
    document = json.loads(report.read_text())
    assert document == json.loads((chief / "report.json").read_text())
    jsonschema.validate(document, SCHEMA)
    fit = document["fits"][0]
    assert fit["mechanism"] == "loop"
    assert fit["distribution"] == {"strategy": "MultiWorkerMirroredStrategy", "replicas": 2}
    assert "instead of the explicit loop" not in errors[0] + errors[1]
