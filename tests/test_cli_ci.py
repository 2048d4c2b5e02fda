"""The command line as a CI job and a new user meet it: --fail-on-buggy (and its environment variable), no
TensorFlow start-up noise under ``run``, a hand-written ``Diagnose`` that names its lines, ``-o FILE`` with
several sources."""

import os
import textwrap

import pytest
from conftest import run_cli, run_python

BUGGY = textwrap.dedent("""\
    import numpy as np
    import keras
    {imports}
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(128, 4)) * 300  # unnormalised inputs
    y = (x[:, 0] > 0).astype("float32")
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(1, activation="softmax"),  # one unit: always 1.0, a model that cannot learn
    ])
    model.compile("sgd", "binary_crossentropy")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0{callbacks})
    print("trained")
""")


def _quiet_env(tmp_path, **more):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a new user's shell
    return {**env, "DNN_INSTRUMENT_DIR": str(tmp_path / "runs"), **more}


def _without_tf_level(function, *args, env):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return function(*args)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.slow
def test_run_fail_on_buggy_exits_4_without_tensorflow_noise(tmp_path):
    script = tmp_path / "buggy.py"
    script.write_text(BUGGY.format(imports="", callbacks=""))
    done = _without_tf_level(run_cli, "run", "--fail-on-buggy", script, env=_quiet_env(tmp_path))
    assert done.returncode == 4, done.stderr
    assert "trained" in done.stdout and "verdict: BUGGY" in done.stderr
    assert "dnn-instrument: verdict BUGGY; exit status 4" in done.stderr
    assert "absl::InitializeLog" not in done.stderr and "oneDNN" not in done.stderr  # TF_CPP_MIN_LOG_LEVEL unset


@pytest.mark.slow
def test_environment_variable_gates_an_instrumented_script(tmp_path):
    script = tmp_path / "buggy.py"
    script.write_text(BUGGY.format(imports="", callbacks=""))
    out = tmp_path / "buggy_instrumented.py"
    assert run_cli(script, "-o", out).returncode == 0
    env = {"DNN_INSTRUMENT_FAIL_ON_BUGGY": "1", "DNN_INSTRUMENT_DIR": str(tmp_path / "runs")}
    gated = run_python(out, env={**env, "DNN_INSTRUMENT_VIEWS": "none"}, cwd=tmp_path)
    assert gated.returncode == 4 and "trained" in gated.stdout, gated.stderr
    # a CI job that gates on the verdict can skip the views: report.json alone, and the output says so
    (folder,) = (tmp_path / "runs").iterdir()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("report")) == ["report.json"]
    assert "(report.json)" in gated.stderr and not (folder / "tensorboard").exists()


def test_verbose_shows_tensorflow_start_up_lines(tmp_path):
    script = tmp_path / "imports.py"
    script.write_text("import sys\nimport tensorflow\nprint('imported', file=sys.stderr)\n")
    quiet = _without_tf_level(run_cli, "run", script, env=_quiet_env(tmp_path))
    verbose = _without_tf_level(run_cli, "run", "--verbose", script, env=_quiet_env(tmp_path))
    assert quiet.returncode == verbose.returncode == 0
    assert "imported" in quiet.stderr and "absl::InitializeLog" not in quiet.stderr
    assert "absl::InitializeLog" in verbose.stderr  # what this TensorFlow prints at import


@pytest.mark.slow
def test_hand_written_diagnose_names_its_fit_and_layers(tmp_path):
    script = tmp_path / "by_hand.py"
    script.write_text(
        BUGGY.format(imports="from dnn_instrument import Diagnose", callbacks=", callbacks=[Diagnose(sample=(x, y))]")
    )
    done = run_python(script, cwd=tmp_path, env={"DNN_INSTRUMENT_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    assert "(fit at fit)" not in done.stderr
    assert "(fit at by_hand.py:13)" in done.stderr
    assert "layer 'dense' (by_hand.py:9)" in done.stderr


def test_several_sources_with_a_file_as_output_is_a_usage_error(tmp_path):
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("x = 1\n")
    done = run_cli(tmp_path / "a.py", tmp_path / "b.py", "-o", tmp_path / "something.py")
    assert done.returncode == 2
    assert "something.py: names a file, but several sources need -o FOLDER" in done.stderr
    assert not (tmp_path / "something.py").exists()


def test_run_refuses_a_notebook(tmp_path):
    done = run_cli("run", tmp_path / "nb.ipynb")
    assert done.returncode == 2 and "for a notebook: dnn-instrument" in done.stderr
