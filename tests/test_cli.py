"""The command line: outputs, exit codes and messages (``path:line:col: ...``), never a traceback."""

import os

from conftest import FIXTURES, run_cli

EXAMPLE = FIXTURES / "examples" / "regression_nan.py"
KERAS_FIT = "import keras\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.compile(loss='mse')\nmodel.fit(x, y)\n"


def assert_clean(result):
    assert "Traceback" not in result.stderr, result.stderr


def test_writes_output_and_reports(tmp_path):
    out = tmp_path / "out.py"
    result = run_cli(EXAMPLE, "-o", out)
    assert result.returncode == 0, result.stderr
    assert "1 fit call(s) rewritten" in result.stderr
    code = out.read_text()
    compile(code, str(out), "exec")
    assert "def instrumented_fit(" in code and "instrumented_fit('regression_nan.py:" in code


def test_default_output_is_stdout(tmp_path):
    result = run_cli(EXAMPLE)
    assert result.returncode == 0
    assert result.stdout.startswith('"""Diabetes progression')
    assert "tf.GradientTape()" in result.stdout


def test_stdin(tmp_path):
    result = run_cli("-", stdin=KERAS_FIT)
    assert result.returncode == 0, result.stderr
    assert "instrumented_fit('<stdin>:4', model, x, y)" in result.stdout


def test_diff_writes_nothing_and_shows_insertions(tmp_path):
    source = tmp_path / "train.py"
    source.write_text(KERAS_FIT)
    result = run_cli(source, "--diff", "--color=never")
    assert result.returncode == 0
    assert source.read_text() == KERAS_FIT
    assert result.stdout.startswith(f"--- {source}\n+++ {source} (instrumented)\n")
    removed = [l for l in result.stdout.splitlines() if l.startswith("-") and not l.startswith("---")]
    assert removed == ["-model.fit(x, y)"]
    assert "\x1b[" not in result.stdout


def test_diff_colour_always_and_no_color(tmp_path):
    source = tmp_path / "train.py"
    source.write_text(KERAS_FIT)
    assert "\x1b[32m+" in run_cli(source, "--diff", "--color=always").stdout
    assert "\x1b[" not in run_cli(source, "--diff", env={"NO_COLOR": "1"}).stdout  # auto + NO_COLOR


def test_never_overwrites_input_without_in_place(tmp_path):
    source = tmp_path / "train.py"
    source.write_text(KERAS_FIT)
    result = run_cli(source, "-o", source)
    assert result.returncode == 2
    assert "use --in-place" in result.stderr
    assert source.read_text() == KERAS_FIT
    assert run_cli(source, "--in-place").returncode == 0
    assert "instrumented_fit(" in source.read_text()


def test_syntax_error(tmp_path):
    source = tmp_path / "broken.py"
    source.write_text("import keras\nmodel = keras.Sequential(\nmodel.fit(x)\n")
    result = run_cli(source, "-o", tmp_path / "out.py")
    assert result.returncode == 2
    assert result.stderr.startswith(f"{source}:3:")
    assert "syntax error" in result.stderr
    assert not (tmp_path / "out.py").exists()
    assert_clean(result)


def test_missing_file(tmp_path):
    result = run_cli(tmp_path / "nope.py")
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path / 'nope.py'}:1:1: no such file"


def test_empty_file(tmp_path):
    source = tmp_path / "empty.py"
    source.write_text("")
    result = run_cli(source)
    assert result.returncode == 1
    assert result.stderr.strip() == f"{source}: nothing to instrument: no Keras model.fit call found"


def test_no_keras_in_file(tmp_path):
    source = tmp_path / "plain.py"
    source.write_text("from sklearn.svm import SVC\nSVC().fit([[0]], [0])\n")
    result = run_cli(source, "-o", tmp_path / "out.py")
    assert result.returncode == 1
    assert "no Keras model.fit call found" in result.stderr
    assert not (tmp_path / "out.py").exists()


def test_binary_and_non_utf8_input(tmp_path):
    binary = tmp_path / "model.h5"
    binary.write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00\x01")
    result = run_cli(binary)
    assert result.returncode == 2 and "binary data" in result.stderr
    latin = tmp_path / "latin.py"
    latin.write_bytes("# caf\xe9\nimport keras\n".encode("latin-1"))
    result = run_cli(latin)
    assert result.returncode == 2 and "not UTF-8" in result.stderr
    assert_clean(result)


def test_directory_is_a_usage_error(tmp_path):
    result = run_cli(tmp_path)
    assert result.returncode == 2
    assert "is a directory" in result.stderr


def test_unsupported_model_falls_back_to_callback(tmp_path):
    source = tmp_path / "custom.py"
    source.write_text(
        "import keras\n\nclass M(keras.Model):\n    def train_step(self, data):\n        return {}\n\n"
        "model = M()\nmodel.compile(loss='mse')\nmodel.fit(x, y, epochs=3)\n"
    )
    result = run_cli(source, "-o", tmp_path / "out.py")
    assert result.returncode == 0
    assert f"{source}:9:1: M defines its own train_step: fit kept, Diagnose callback attached" in result.stderr
    assert "model.fit(x, y, epochs=3, callbacks=[dnn_instrument.runtime.Diagnose('custom.py:9')])" in (tmp_path / "out.py").read_text()


def test_already_instrumented_is_refused(tmp_path):
    out = tmp_path / "once.py"
    assert run_cli(EXAMPLE, "-o", out).returncode == 0
    result = run_cli(out, "-o", tmp_path / "twice.py")
    assert result.returncode == 1
    assert "already instrumented by dnn-instrument" in result.stderr
    assert not (tmp_path / "twice.py").exists()


def test_usage_errors_and_version():
    assert run_cli().returncode == 2
    assert run_cli("a.py", "--diff", "--in-place").returncode == 2
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("dnn-instrument ")


def test_console_script_installed():
    import shutil
    import sys

    assert shutil.which("dnn-instrument", path=os.path.dirname(sys.executable))
