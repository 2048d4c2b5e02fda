"""The command line: outputs, exit codes and messages (``path:line:col: ...``), never a traceback."""

import json
import os
import re

import pytest
from conftest import FIXTURES, run_cli

EXAMPLE = FIXTURES / "examples" / "regression_nan.py"
KERAS_FIT = (
    "import keras\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.compile(loss='mse')\nmodel.fit(x, y)\n"
)


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
    assert result.stderr.startswith(f"{source}:2:25: syntax error: '(' was never closed")  # as Python says it
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
    assert (
        "dnn_instrument.runtime.diagnosed(model.fit, 'custom.py:9')(x, y, epochs=3)"
        in (tmp_path / "out.py").read_text()
    )


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


# --- colour, help ------------------------------------------------------------------------------------


def test_colour_never_and_always_over_no_color(tmp_path):
    source = tmp_path / "train.py"
    source.write_text(KERAS_FIT)
    assert "\x1b[" not in run_cli(source, "--diff", "--color=never").stdout
    assert "\x1b[31m-model.fit(x, y)" in run_cli(source, "--diff", "--color=always", env={"NO_COLOR": "1"}).stdout
    assert "\x1b[" not in run_cli(source, "--diff").stdout  # auto, and stdout is a pipe


def test_help_lists_commands_and_examples():
    text = run_cli("--help").stdout
    for expected in (
        "run SCRIPT [ARG...]",
        "report RUN_DIR",
        "--strip",
        "--diff-html",
        "--follow-symlinks",
        "examples:",
        "dnn-instrument src/ -o instrumented/",
        "exit status:",
    ):
        assert expected in text
    assert "usage: dnn-instrument run" in run_cli("run", "--help").stdout
    assert "usage: dnn-instrument report" in run_cli("report", "--help").stdout


# --- --diff-html ---------------------------------------------------------------------------------------

HOSTILE = KERAS_FIT.replace("model.fit(x, y)", 'model.fit(x, y)  # </td><script>alert(1)</script> & "q"')


def test_diff_html_notes_every_inserted_line_and_escapes(tmp_path):
    source = tmp_path / "train.py"
    source.write_text(HOSTILE)
    page = tmp_path / "diff.html"
    result = run_cli(source, "--diff-html", page)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and sorted(p.name for p in tmp_path.iterdir()) == ["diff.html", "train.py"]
    html = page.read_text()
    assert "<script>" not in html and "&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in html
    assert "http://" not in html and "https://" not in html and " src=" not in html  # self-contained
    for note in (
        "maps the instrumented file&#39;s lines back to yours",
        "records the batch: inputs and targets",
        "records each layer&#39;s output: mean, std, min/max, zero, NaN/Inf and saturated fractions",
        "records the gradient reaching each layer&#39;s output",
        "records each weight&#39;s gradient, value and update",
        "model.fit replaced by the instrumented loop; same arguments, same order",
    ):
        assert note in html, note
    # every highlighted row has a hover note; rows of the user's unchanged lines have none
    rows = re.findall(r'<tr id="r\d+" class="(\w+)[^"]*"( title="[^"]+")?>', html)
    inserted = [r for r in rows if r[0] == "inserted"]
    assert len(inserted) > 80 and all(title for _, title in inserted)
    assert [r for r in rows if r[0] == "changed"] and all(title for kind, title in rows if kind == "changed")
    assert not any(title for kind, title in rows if kind == "same")


def test_diff_html_with_output_and_callback(tmp_path):
    source = tmp_path / "train.py"
    source.write_text(KERAS_FIT)
    out, page = tmp_path / "out.py", tmp_path / "diff.html"
    result = run_cli(source, "--callback", "-o", out, "--diff-html", page)
    assert result.returncode == 0, result.stderr
    assert "runtime.diagnosed(" in out.read_text()
    html = page.read_text()
    assert "the Diagnose callback added to your callbacks" in html
    assert "line 6 (your line 4) changed" in html
    assert run_cli(tmp_path, "--diff-html", page).returncode == 2  # one source only


# --- run --------------------------------------------------------------------------------------------

ARGV_SCRIPT = '''\
"""Prints what it was started with; the fit below is never called but makes the script instrumentable."""
import sys


def train(x, y):
    import keras
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(loss="mse")
    model.fit(x, y, epochs=1)


print("argv", sys.argv)
print("file", __file__, __name__, sys.path[0], __doc__.split()[0])
if "--fail" in sys.argv:
    raise ValueError("boom")
sys.exit(7)
'''


def test_run_passes_arguments_file_and_exit_code(tmp_path):
    script = tmp_path / "sub" / "prog.py"
    script.parent.mkdir()
    script.write_text(ARGV_SCRIPT)
    result = run_cli("run", "sub/prog.py", "a", "--b", "c d", cwd=tmp_path)
    assert result.returncode == 7, result.stderr
    assert f"argv ['sub/prog.py', 'a', '--b', 'c d']\nfile {script} __main__ {script.parent} Prints\n" == result.stdout
    assert result.stderr == ""
    assert sorted(p.name for p in script.parent.iterdir()) == ["prog.py"]  # nothing written next to it


def test_run_traceback_names_the_users_lines(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(ARGV_SCRIPT)
    result = run_cli("run", script, "--fail")
    assert result.returncode == 1
    assert result.stderr.endswith(
        f'Traceback (most recent call last):\n  File "{script}", line 15, in <module>\n'
        '    raise ValueError("boom")\nValueError: boom\n'
    ), result.stderr


def test_run_compiles_the_users_lines_and_the_loop_apart(tmp_path):
    from dnn_instrument.runner import _compile
    from dnn_instrument.transformer import instrument

    result = instrument(ARGV_SCRIPT, "prog.py")
    loop, user = _compile(ARGV_SCRIPT, result, str(tmp_path / "prog.py"))
    assert loop.co_filename == "<prog.py instrumented by dnn-instrument>"
    train = next(c for c in user.co_consts if getattr(c, "co_name", None) == "train")
    assert (train.co_filename, train.co_firstlineno) == (str(tmp_path / "prog.py"), 5)
    assert sorted({line for _, _, line in train.co_lines() if line}) == [5, 6, 7, 8, 9]


def test_run_without_anything_to_instrument_runs_unchanged(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text("import sys\nprint('plain', sys.argv[1:])\n")
    result = run_cli("run", script, "x")
    assert result.returncode == 0 and result.stdout == "plain ['x']\n"
    assert "nothing to instrument; running it unchanged" in result.stderr
    assert run_cli("run", tmp_path / "missing.py").returncode == 2
    (tmp_path / "broken.py").write_text("print(1\n")
    broken = run_cli("run", tmp_path / "broken.py")
    assert broken.returncode == 1 and broken.stderr.startswith(f'  File "{tmp_path / "broken.py"}", line 1\n')
    assert broken.stderr.endswith("SyntaxError: '(' was never closed\n")


TINY_TRAINING = '''\
"""A tiny regression on unscaled inputs: trains in a second and gets diagnosed."""
import sys

import keras
import numpy as np

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32") * 1000.0
y = x.sum(axis=1, keepdims=True) / 1000.0
model = keras.Sequential([
    keras.Input(shape=(4,)),
    keras.layers.Dense(8, activation="relu"),
    keras.layers.Dense(1),
])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, y, epochs=2, batch_size=16, verbose=0)
raise SystemExit(int(sys.argv[1]))
'''


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One real training run through `dnn-instrument run`: (its result, its run folder)."""
    folder = tmp_path_factory.mktemp("training")
    script = folder / "tiny.py"
    script.write_text(TINY_TRAINING)
    env = {"DNN_INSTRUMENT_DIR": str(folder / "runs"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = run_cli("run", script, "5", cwd=folder, env=env)
    runs = list((folder / "runs").iterdir()) if (folder / "runs").exists() else []
    if len(runs) == 1:  # the views the script left to write when it ended: in place before the tests read the folder
        from dnn_instrument.runtime.report import wait_for_views

        assert wait_for_views(runs[0]) is None
    return result, runs[0] if len(runs) == 1 else None


@pytest.mark.xdist_group("trained_run")  # the module-scoped run once, on one worker
def test_run_trains_and_writes_a_run_folder(trained_run):
    result, run_folder = trained_run
    assert result.returncode == 5, result.stderr
    assert run_folder is not None and (run_folder / "report.json").exists() and (run_folder / "trace-0.npz").exists()
    document = json.loads((run_folder / "report.json").read_text())
    assert document["script"].endswith("tiny.py") and document["fits"][0]["site"] == "tiny.py:16"
    assert any(f["source"] == "tiny.py:12" for f in document["findings"])  # the user's lines, not the instrumented ones
    assert "cause: input_normalization (symptom: unnormalized_input in layer 'dense' (tiny.py:12)" in result.stderr


@pytest.mark.xdist_group("trained_run")  # the module-scoped run once, on one worker
def test_report_reads_a_run_folder_back(trained_run, capsys):
    from dnn_instrument.cli import main

    _, run_folder = trained_run
    assert main(["report", str(run_folder)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("dnn-instrument: ") and "verdict: BUGGY" in text and f"run folder: {run_folder}" in text
    assert main(["report", str(run_folder), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["script"].endswith("tiny.py") and document["verdict"] == "buggy"


def test_report_without_traces(tmp_path):
    result = run_cli("report", tmp_path)
    assert result.returncode == 2 and "no traces" in result.stderr
    assert run_cli("report", tmp_path / "nope").returncode == 2
    assert_clean(result)


# --- several files, folders ----------------------------------------------------------------------


def make_tree(root):
    (root / "pkg").mkdir(parents=True)
    (root / "train.py").write_text(KERAS_FIT)
    (root / "pkg" / "more.py").write_text(KERAS_FIT.replace("x, y", "x, y, epochs=2"))
    (root / "pkg" / "util.py").write_text("HELPER = 1\n")
    for skipped in (".hidden", "__pycache__", "venv"):
        (root / skipped).mkdir()
        (root / skipped / "skip.py").write_text(KERAS_FIT)
    (root / "venv" / "pyvenv.cfg").write_text("home = /usr\n")


def test_folder_mirrors_the_tree_and_counts(tmp_path):
    make_tree(tmp_path / "src")
    result = run_cli(tmp_path / "src", "-o", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == ["pkg/more.py", "pkg/util.py", "train.py"]
    assert "instrumented_fit(" in (tmp_path / "out" / "pkg" / "more.py").read_text()
    assert (tmp_path / "out" / "pkg" / "util.py").read_text() == "HELPER = 1\n"  # copied, so imports still work
    src = tmp_path / "src"
    assert result.stderr.splitlines() == [
        f"{src}/train.py: 1 rewritten, 0 with callback",
        f"{src}/pkg/more.py: 1 rewritten, 0 with callback",
        f"{src}/pkg/util.py: nothing to instrument",
        "3 files: 2 instrumented (2 fit calls rewritten, 0 with callback), 1 with nothing to instrument, 0 failed",
    ]


def test_folder_exit_codes(tmp_path):
    make_tree(tmp_path / "src")
    (tmp_path / "src" / "broken.py").write_text("import keras\nmodel.fit(\n")
    result = run_cli(tmp_path / "src", "-o", tmp_path / "out")
    assert result.returncode == 2
    assert f"{tmp_path / 'src' / 'broken.py'}:" in result.stderr and "1 failed" in result.stderr
    assert_clean(result)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.py").write_text("A = 1\n")
    assert run_cli(plain, "-o", tmp_path / "out2").returncode == 1
    assert run_cli(tmp_path / "src").returncode == 2  # a folder needs -o, --in-place or --diff


def test_several_files_in_place_and_diff(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text(KERAS_FIT)
    b.write_text(KERAS_FIT)
    a.chmod(0o755)
    diff = run_cli(a, b, "--diff", "--color=never")
    assert diff.returncode == 0 and diff.stdout.count("\n-model.fit(x, y)\n") == 2
    result = run_cli(a, b, "--in-place", "-q")
    assert result.returncode == 0 and result.stderr == ""
    assert "instrumented_fit(" in a.read_text() and "instrumented_fit(" in b.read_text()
    assert a.stat().st_mode & 0o777 == 0o755  # the mode of a replaced file is kept
    again = run_cli(a, b, "-o", tmp_path / "out")
    assert again.returncode == 1 and "already instrumented" in again.stderr


def test_many_files_no_progress_bar_off_a_terminal(tmp_path):
    for i in range(25):
        (tmp_path / "src").mkdir(exist_ok=True)
        (tmp_path / "src" / f"m{i:02}.py").write_text(KERAS_FIT)
    result = run_cli(tmp_path / "src", "-o", tmp_path / "out")
    assert result.returncode == 0
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    assert len(result.stderr.splitlines()) == 26


# --- symbolic links ------------------------------------------------------------------------------


def test_output_symlink_is_refused_unless_followed(tmp_path):
    source = tmp_path / "train.py"
    source.write_text(KERAS_FIT)
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_text("keep\n")
    link = tmp_path / "out.py"
    link.symlink_to(elsewhere)
    result = run_cli(source, "-o", link)
    assert result.returncode == 2
    assert f"{link}: is a symbolic link to {elsewhere}" in result.stderr
    assert elsewhere.read_text() == "keep\n" and link.is_symlink()
    assert_clean(result)
    assert run_cli(source, "-o", link, "--follow-symlinks").returncode == 0
    assert link.is_symlink() and "instrumented_fit(" in elsewhere.read_text()
    in_place = tmp_path / "linked.py"
    in_place.symlink_to(source)
    assert run_cli(in_place, "--in-place").returncode == 2 and source.read_text() == KERAS_FIT


# --- --strip --------------------------------------------------------------------------------------


def test_strip_round_trip_and_refusals(tmp_path):
    source = tmp_path / "train.py"
    source.write_text(HOSTILE)
    out, back = tmp_path / "out.py", tmp_path / "back.py"
    assert run_cli(source, "-o", out).returncode == 0
    result = run_cli("--strip", out, "-o", back)
    assert result.returncode == 0, result.stderr
    assert back.read_bytes() == source.read_bytes()
    assert run_cli("--strip", out).stdout == HOSTILE
    not_instrumented = run_cli("--strip", source)
    assert not_instrumented.returncode == 1 and "not instrumented" in not_instrumented.stderr
    out.write_text(out.read_text().replace("model.compile(loss='mse')", "model.compile(loss='mae')"))
    edited = run_cli("--strip", out, "--in-place")
    assert edited.returncode == 2
    assert (
        edited.stderr.startswith(f"{out}:1:1: ")
        and "was edited after instrumenting; cannot restore exactly" in edited.stderr
    )
    assert "loss='mae'" in out.read_text()
    assert_clean(edited)


@pytest.mark.xdist_group("trained_run")  # the module-scoped run once, on one worker
def test_report_html_rewrites_the_page(trained_run, capsys):
    from dnn_instrument.cli import main

    _, run_folder = trained_run
    page = run_folder / "report.html"
    if page.exists():
        page.unlink()
    assert main(["report", str(run_folder), "--html"]) == 0
    assert page.exists() and "tiny.py" in page.read_text()
    assert f"HTML report written -> {page}" in capsys.readouterr().err
