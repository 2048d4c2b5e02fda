"""The report views after a script ends (runtime/report/views.py, Session._on_exit): one detached writer, waited
for on its lock (never on a clock); its failure changes no exit status and is said, not lost."""

import os
import sys

from conftest import VIEWS_ON, run_cli, run_python

from dnn_instrument.runtime.report import views, wait_for_views
from dnn_instrument.transformer import instrument

ONE_FIT = """import os, sys
import keras, numpy as np
keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
model.compile("sgd", "mse")
model.fit(x, x.sum(1), epochs=1, batch_size=16, verbose=0)
"""


def _run(tmp_path, after="", env=None):
    script = tmp_path / "one_fit.py"
    script.write_text(instrument(ONE_FIT, "one_fit.py").code + after + "\n")  # ``after``: once the fit has ended
    env = {**VIEWS_ON, "DNN_INSTRUMENT_DIR": str(tmp_path / "runs"), **(env or {})}
    result = run_python(script, cwd=tmp_path, env=env)
    runs = list((tmp_path / "runs").iterdir()) if (tmp_path / "runs").exists() else []
    return result, runs


def _events(folder):
    return list((folder / "tensorboard" / "fit-0").glob("events.out.tfevents.*"))


def test_with_views_at_exit_wait_the_files_exist_when_the_script_ends(tmp_path):
    result, (folder,) = _run(tmp_path, env={"DNN_INSTRUMENT_VIEWS_AT_EXIT": "wait"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(report.html, report.json)" in result.stderr and "background" not in result.stderr
    assert (folder / "report.html").read_text().rstrip().endswith("</html>") and len(_events(folder)) == 1
    assert not (folder / views.MARKER).exists() and not (folder / views.LOG).exists()  # no writer was started


def test_a_failing_writer_keeps_the_exit_status_and_says_why(tmp_path):
    # the script leaves a file where the TensorBoard folder goes: the writer cannot write the events
    after = (
        "from dnn_instrument.runtime import session\n"
        "open(os.path.join(session.current().folder, 'tensorboard'), 'w').close()\n"
        "sys.exit(3)"
    )
    result, (folder,) = _run(tmp_path, after)
    assert result.returncode == 3, result.stderr[-3000:]  # the script's own status
    reported = run_cli("report", "--wait", folder)  # waits for the writer, then says what it did
    assert reported.returncode == 0 and "verdict:" in reported.stdout, reported.stderr[-3000:]
    why = wait_for_views(folder)
    assert why and "writing the TensorBoard events" in why and str(folder / views.LOG) in why
    assert f"dnn-instrument: {why}" in reported.stderr and views.state(folder) == why  # and on every later read
    assert "Traceback" in (folder / views.LOG).read_text()
    assert (folder / "report.html").read_text().rstrip().endswith("</html>")  # the other view is written


def test_a_run_folder_gone_before_the_exit_is_said_and_keeps_the_exit_status(tmp_path):
    after = "import shutil\nfrom dnn_instrument.runtime import session\nshutil.rmtree(session.current().folder)"
    result, runs = _run(tmp_path, after, env={"DNN_INSTRUMENT_STRICT": "0"})  # as users run it: said, not raised
    assert result.returncode == 0 and runs == [], result.stderr[-3000:]
    assert "starting the writer of report.html and the TensorBoard events failed (FileNotFoundError" in result.stderr, (
        result.stderr[-600:]
    )


def _writer(tmp_path, code):
    """``views.start`` with a writer that runs ``code`` (``folder`` and ``fd`` defined), without TensorFlow."""
    folder = tmp_path / "run"
    folder.mkdir()
    prelude = "import sys; from dnn_instrument.runtime.report import views; folder, fd = sys.argv[1:]; "
    views.start(str(folder), [sys.executable, "-c", prelude + code, str(folder)], dict(os.environ))
    return folder


def test_waiting_ends_when_the_writer_has_put_its_files_in_place(tmp_path):
    code = "open(folder + '/report.html', 'w').write('page'); views.finish(folder, fd, [])"
    folder = _writer(tmp_path, code)
    assert wait_for_views(folder) is None
    assert (folder / "report.html").read_text() == "page"
    assert not (folder / views.MARKER).exists() and not (folder / views.LOG).exists()
    assert views.state(folder) is None


def test_a_killed_writer_is_said_not_waited_for(tmp_path):
    folder = _writer(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    why = wait_for_views(folder)
    assert why and "ended without writing them (killed" in why and (folder / views.MARKER).exists()
