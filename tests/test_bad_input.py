"""Bad and odd input through the real command line, one case per test.

Each test checks the exit code (0 done, 1 nothing to instrument, 2 refused), a ``path:line:col:`` message
where there is something to say, no traceback, the input file unchanged, and no output file created
(or an existing one overwritten) unless the run succeeded.
"""

import os
import re
import subprocess
import sys
import time

import pytest
from conftest import run_cli

SEQUENTIAL = "import keras\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.compile(loss='mse')\n"
SENTINEL = b"# an older output: must survive a refused run\n"


def run_on(tmp_path, data, *options, name="train.py", existing_output=None):
    """Write ``data`` (str or bytes) as a source, run ``dnn-instrument SOURCE -o out.py OPTIONS``.

    Returns ``(completed, source, out)``, after checking what holds for every run: the input is
    unchanged, nothing went wrong inside dnn-instrument, and no temporary file was left behind.
    """
    source = tmp_path / name
    data = data.encode("utf-8") if isinstance(data, str) else data
    source.write_bytes(data)
    out = tmp_path / "out.py"
    if existing_output is not None:
        out.write_bytes(existing_output)
    completed = run_cli(source, "-o", out, *options)
    assert source.read_bytes() == data, "the input file was modified"
    assert_clean(completed)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".dnn-instrument")], "temporary file left"
    return completed, source, out


def assert_clean(completed):
    assert "Traceback" not in completed.stderr, completed.stderr
    assert "internal error" not in completed.stderr, completed.stderr
    assert completed.returncode in (0, 1, 2), completed.stderr


def located(completed, source):
    """The ``(line, column, message)`` of each ``source:line:col: message`` line of stderr."""
    pattern = re.compile(rf"^{re.escape(str(source))}:(\d+):(\d+): (.+)$", re.M)
    return [(int(line), int(column), message) for line, column, message in pattern.findall(completed.stderr)]


def assert_refused(completed, source, out, existing_output=None, code=2):
    assert completed.returncode == code, completed.stderr
    if existing_output is None:
        assert not out.exists(), "an output file was created"
    else:
        assert out.read_bytes() == existing_output, "an existing output file was overwritten"


def assert_instrumented(completed, out):
    assert completed.returncode == 0, completed.stderr
    code = out.read_bytes()
    compile(code, str(out), "exec")
    return code.decode("utf-8")


# --- unreadable or unparseable input: refused, exit 2 ------------------------------------------------


def test_syntax_error(tmp_path):
    data = SEQUENTIAL + "model.fit(x, epochs=1)\nif True print(1)\n"
    completed, source, out = run_on(tmp_path, data, existing_output=SENTINEL)
    assert_refused(completed, source, out, SENTINEL)
    [(line, column, message)] = located(completed, source)
    assert line == 5 and message.startswith("syntax error")


def test_syntax_error_column(tmp_path):
    completed, source, out = run_on(tmp_path, SEQUENTIAL + "model.fit(x, epochs=1)\nif True print(1)\n")
    [(line, column, _)] = located(completed, source)
    assert (line, column) == (5, 9)


def test_binary_file(tmp_path):
    completed, source, out = run_on(tmp_path, b"\x89HDF\r\n\x1a\n\x00\x00\x01\xff" * 50, name="weights.py")
    assert_refused(completed, source, out)
    assert located(completed, source) == [(1, 1, "not a Python source file (binary data)")]


def test_non_utf8_source(tmp_path):
    data = ("# entraîné par André\n" + SEQUENTIAL + "model.fit(x, epochs=1)\n").encode("latin-1")
    completed, source, out = run_on(tmp_path, data, existing_output=SENTINEL)
    assert_refused(completed, source, out, SENTINEL)
    [(line, column, message)] = located(completed, source)
    assert (line, column) == (1, 1) and message.startswith("not UTF-8 text")


def test_non_utf8_standard_input(tmp_path):
    data = ("# entraîné\n" + SEQUENTIAL + "model.fit(x, epochs=1)\n").encode("latin-1")
    completed = subprocess.run(
        [sys.executable, "-m", "dnn_instrument", "-"],
        input=data,
        capture_output=True,
        timeout=120,
    )
    stderr = completed.stderr.decode("utf-8", "replace")
    assert completed.returncode == 2, stderr
    assert "not UTF-8" in stderr and "Traceback" not in stderr and "internal error" not in stderr


def test_missing_file(tmp_path):
    out = tmp_path / "out.py"
    completed = run_cli(tmp_path / "nope.py", "-o", out)
    assert_clean(completed)
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"{tmp_path / 'nope.py'}:1:1: no such file"
    assert not out.exists()


def test_directory(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text(SEQUENTIAL + "model.fit(x, epochs=1)\n")
    completed = run_cli(folder)  # a folder is several sources: it needs -o FOLDER, --in-place or --diff
    assert_clean(completed)
    assert completed.returncode == 2
    assert f"{folder} is a directory" in completed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]
    assert (folder / "train.py").read_text() == SEQUENTIAL + "model.fit(x, epochs=1)\n"


def test_output_is_the_input(tmp_path):
    data = SEQUENTIAL + "model.fit(x, epochs=1)\n"
    source = tmp_path / "train.py"
    source.write_text(data)
    completed = run_cli(source, "-o", source)
    assert_clean(completed)
    assert completed.returncode == 2
    assert "is the input file; use --in-place" in completed.stderr
    assert source.read_text() == data
    link = tmp_path / "same.py"  # the same file under another name
    os.link(source, link)
    completed = run_cli(source, "-o", link)
    assert completed.returncode == 2 and source.read_text() == data


def test_deeply_nested_brackets_python_rejects(tmp_path):
    """Python itself refuses more than 200 nested brackets: so must the transformer, and quickly."""
    start = time.perf_counter()
    completed, source, out = run_on(tmp_path, SEQUENTIAL + "v = " + "(" * 1000 + "1" + ")" * 1000 + "\nmodel.fit(x)\n")
    seconds = time.perf_counter() - start
    assert_refused(completed, source, out)
    [(line, _, message)] = located(completed, source)
    assert line == 4 and "nested" in message
    assert seconds < 60


def test_deeply_nested_expression_valid_python(tmp_path):
    """Valid Python nested deeper than libcst's visitors can recurse: refused cleanly, not a crash."""
    data = SEQUENTIAL + "v = " + "-" * 2000 + "1\nw = [" + "[" * 150 + "]" * 150 + "]\nmodel.fit(x)\n"
    compile(data, "valid", "exec")
    completed, source, out = run_on(tmp_path, data)
    if completed.returncode == 0:  # handled after all: fine, if the output compiles
        assert_instrumented(completed, out)
        return
    assert_refused(completed, source, out)
    assert any("nested" in message for _, _, message in located(completed, source)), completed.stderr


def test_moderately_nested_expression(tmp_path):
    """Nesting real code has (100 levels) is instrumented."""
    data = SEQUENTIAL + "v = " + "(" * 100 + "1" + ")" * 100 + "\nw = " + " + ".join(["x"] * 100) + "\nmodel.fit(x)\n"
    completed, source, out = run_on(tmp_path, data)
    assert_instrumented(completed, out)


@pytest.mark.parametrize("statement", ["return 1\n", "nonlocal q\n", "from __future__ import annotations\n"])
def test_code_python_refuses(tmp_path, statement):
    completed, source, out = run_on(tmp_path, SEQUENTIAL + "model.fit(x, epochs=1)\n" + statement)
    assert_refused(completed, source, out)
    [(line, _, message)] = located(completed, source)
    assert line == 5 and message.startswith("syntax error")


# --- nothing to instrument: exit 1, nothing written ------------------------------------------------


def test_empty_file(tmp_path):
    completed, source, out = run_on(tmp_path, b"", existing_output=SENTINEL)
    assert_refused(completed, source, out, SENTINEL, code=1)
    assert completed.stderr.strip() == f"{source}: nothing to instrument: no Keras model.fit call found"


def test_no_keras_at_all(tmp_path):
    data = "import numpy as np\nfrom sklearn.linear_model import LinearRegression\n\nLinearRegression().fit(np.zeros((3, 1)), [0, 1, 2])\n"
    completed, source, out = run_on(tmp_path, data)
    assert_refused(completed, source, out, code=1)
    assert "no Keras model.fit call found" in completed.stderr
    assert located(completed, source) == []  # a fit that is not Keras's is left alone silently


# --- size ------------------------------------------------------------------------------------------


def keras_program(lines):
    """A generated Keras script of about ``lines`` lines: many model builders, one fit at the end."""
    block = (
        "\ndef build_{i}(units={i} + 8):\n"
        "    inputs = keras.Input(shape=(16,))\n"
        '    hidden = layers.Dense(units, activation="relu")(inputs)  # hidden layer {i}\n'
        '    outputs = layers.Dense(3, activation="softmax")(hidden)\n'
        "    return keras.Model(inputs, outputs)\n\n"
    )
    head = "import keras\nfrom keras import layers\nimport numpy as np\n\nx = np.zeros((64, 16))\ny = np.zeros(64)\n"
    blocks = [block.format(i=i) for i in range(lines // block.count("\n") + 1)]
    tail = "model = build_0()\nmodel.compile(loss='sparse_categorical_crossentropy')\nmodel.fit(x, y, epochs=1)\n"
    return head + "".join(blocks) + tail


def test_enormous_file(tmp_path):
    """20k lines by default (about 30 s); DNN_INSTRUMENT_ENORMOUS_LINES=200000 for the real thing.

    Measured: 1.5-2 s per 1,000 lines on a loaded 2-core machine, memory ~25 MB per 1,000 lines
    (200k lines: several minutes and ~4.6 GB); linear, no blow-up.
    """
    lines = int(os.environ.get("DNN_INSTRUMENT_ENORMOUS_LINES", "20000"))
    data = keras_program(lines)
    source, out = tmp_path / "enormous.py", tmp_path / "out.py"
    source.write_text(data)
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "dnn_instrument", str(source), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=max(600, lines // 50),
    )
    seconds = time.perf_counter() - start
    print(f"\n{lines} lines instrumented in {seconds:.1f} s")
    assert_clean(completed)
    code = assert_instrumented(completed, out)
    assert "1 fit call(s) rewritten" in completed.stderr
    assert code.count("instrumented_fit(") == 2  # the definition and the one call
    assert source.read_text() == data
    assert seconds < max(240, lines / 1000 * 12), f"{lines} lines took {seconds:.0f} s"


# --- models and arguments the loop cannot take: handled, and explained ------------------------------


@pytest.mark.parametrize(
    "program, why",
    [
        (
            "import keras\n\nfor model in zoo:\n    model.compile(loss='mse')\n    model.fit(x, y, epochs=2)\n",
            "'model' is bound by something other than an assignment",
        ),
        (
            "import pickle\n\nwith open('model.pkl', 'rb') as f:\n    model = pickle.load(f)\nmodel.fit(x, y, epochs=2)\n",
            "the model comes from pickle.load(), defined outside this file",
        ),
        (
            "import keras\n\nmodel = getattr(keras, 'Sequential')([keras.layers.Dense(1)])\nmodel.fit(x, y, epochs=2)\n",
            "the model comes from getattr(keras, 'Sequential')(), defined outside this file",
        ),
    ],
    ids=["loop-target", "pickle", "getattr"],
)
def test_model_cannot_be_resolved(tmp_path, program, why):
    """The loop needs to know the model is a plain Keras model: otherwise fit stays, with the callback."""
    completed, source, out = run_on(tmp_path, program)
    code = assert_instrumented(completed, out)
    line = program[: program.index(".fit(")].count("\n") + 1
    [(at, _, message)] = located(completed, source)
    assert at == line and message == f"{why}: fit kept, Diagnose callback attached"
    assert re.search(rf"dnn_instrument\.runtime\.(Diagnose|diagnosed)\(.*'train\.py:{line}'", code), code
    assert "model.fit" in code  # Keras's own fit still trains it
    assert "def instrumented_fit(" not in code


@pytest.mark.parametrize(
    "call, expected",
    [
        # A model the loop takes: the arguments are passed on to it untouched; it has fit's own parameters,
        # so what fit would refuse (a bad key in **kwargs, too many *args) it refuses the same way at run time.
        ("model.fit(x, y, **options)", "instrumented_fit('train.py:4', model, x, y, **options)"),
        ("model.fit(*arguments)", "instrumented_fit('train.py:4', model, *arguments)"),
        (
            "model.fit(batches(), steps_per_epoch=10, epochs=2)",
            "instrumented_fit('train.py:4', model, batches(), steps_per_epoch=10, epochs=2)",
        ),
        (
            "model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=2)",
            "instrumented_fit('train.py:4', model, tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=2)",
        ),
    ],
    ids=["kwargs", "args", "generator", "tf.data"],
)
def test_fit_arguments_passed_through(tmp_path, call, expected):
    completed, source, out = run_on(tmp_path, SEQUENTIAL + call + "\n")
    code = assert_instrumented(completed, out)
    assert expected in code
    assert located(completed, source) == []


@pytest.mark.parametrize(
    "program, line, column, why",
    [
        (
            SEQUENTIAL + "model.fit(x, y, epochs=2, use_multiprocessing=True)\n",
            4,
            1,
            "fit() arguments the loop does not know: use_multiprocessing; left unchanged",
        ),
        (
            "def train(trainer, **options):\n    trainer.model.fit(x, y, epochs=2, **options)\n",
            2,
            5,
            "the model is an attribute; its assignment cannot be followed, and **kwargs may already hold callbacks; left unchanged",
        ),
        (
            "def train(trainer, *arguments):\n    trainer.model.fit(*arguments, epochs=2)\n",
            2,
            5,
            "the model is an attribute; its assignment cannot be followed, and callbacks are passed by position; left unchanged",
        ),
    ],
    ids=["unknown-keyword", "kwargs-unknown-model", "args-unknown-model"],
)
def test_fit_arguments_not_understood(tmp_path, program, line, column, why):
    """Neither the loop nor the callback can be added safely: the call is left as it is, and the message says why."""
    completed, source, out = run_on(tmp_path, program, existing_output=SENTINEL)
    assert_refused(completed, source, out, SENTINEL, code=1)
    assert located(completed, source) == [(line, column, why)]
    assert f"{source}: nothing to instrument: no model.fit call could be instrumented" in completed.stderr


def test_fit_inside_an_fstring(tmp_path):
    """Regression (crash found by this file): the label added to the call is a quoted string, which closed the f-string."""
    program = SEQUENTIAL + "print(f'history: {model.fit(x, y, epochs=1).history}')\n"
    completed, source, out = run_on(tmp_path, program)
    assert_refused(completed, source, out, code=1)
    assert located(completed, source) == [(4, 19, "fit() is called inside an f-string; left unchanged")]


def test_fit_with_a_bare_generator_expression(tmp_path):
    completed, source, out = run_on(tmp_path, SEQUENTIAL + "model.fit(batch for batch in batches)\n")
    code = assert_instrumented(completed, out)
    assert "(batch for batch in batches)" in code


# --- bytes that must survive: BOM, CRLF, tabs --------------------------------------------------------


def test_crlf_line_endings_round_trip(tmp_path):
    original = (SEQUENTIAL + "\n# train it\nhistory = model.fit(x, y, epochs=2)  # the fit\nprint(history)\n").replace(
        "\n", "\r\n"
    )
    completed, source, out = run_on(tmp_path, original.encode("utf-8"))
    assert_instrumented(completed, out)
    produced = out.read_bytes()
    kept = [line for line in original.encode().split(b"\r\n") if b".fit(" not in line]
    lines = produced.split(b"\r\n")
    positions = [lines.index(line) for line in kept if line]  # every untouched line, byte for byte, in order
    assert positions == sorted(positions)


def test_crlf_file_gets_no_bare_lf(tmp_path):
    original = (SEQUENTIAL + "history = model.fit(x, y, epochs=2)\n").replace("\n", "\r\n")
    completed, source, out = run_on(tmp_path, original.encode("utf-8"))
    assert_instrumented(completed, out)
    assert b"\n" not in out.read_bytes().replace(b"\r\n", b""), "a bare LF in the output of a CRLF file"


def test_bom_and_crlf_round_trip(tmp_path):
    original = ("\ufeff# -*- coding: utf-8 -*-\r\n" + SEQUENTIAL.replace("\n", "\r\n") + "model.fit(x, y)\r\n").encode(
        "utf-8"
    )
    completed, source, out = run_on(tmp_path, original)
    assert_instrumented(completed, out)
    produced = out.read_bytes()
    assert produced.startswith(b"\xef\xbb\xbf# -*- coding: utf-8 -*-\r\n")


def test_bom_and_crlf_untouched_file_is_not_written(tmp_path):
    original = "\ufeffimport os\r\nprint(os.getcwd())\r\n".encode("utf-8")
    completed, source, out = run_on(tmp_path, original)
    assert_refused(completed, source, out, code=1)


def test_tab_indentation(tmp_path):
    program = (
        "import keras\n\n\ndef train(x, y):\n"
        "\tmodel = keras.Sequential([keras.layers.Dense(1)])\n"
        "\tmodel.compile(loss='mse')\n"
        "\tif x is not None:\n"
        "\t\thistory = model.fit(x, y, epochs=2)\n"
        "\treturn model\n"
    )
    completed, source, out = run_on(tmp_path, program)
    code = assert_instrumented(completed, out)
    assert "\t\thistory = instrumented_fit('train.py:8', model, x, y, epochs=2)\n" in code
    for line in program.splitlines(keepends=True):
        if ".fit(" not in line:
            assert line in code


# --- the input is only read ---------------------------------------------------------------------------


def test_input_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    program = (
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "import os\nos._exit(7)\n"
        "raise SystemExit('the transformer must not run this')\n" + SEQUENTIAL + "model.fit(x, y, epochs=1)\n"
    )
    completed, source, out = run_on(tmp_path, program)
    code = assert_instrumented(completed, out)
    assert "instrumented_fit('train.py:8', model, x, y, epochs=1)" in code
    assert not marker.exists()
    assert "must not run this" not in completed.stderr
