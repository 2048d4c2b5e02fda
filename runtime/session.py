"""The run of one instrumented script: its run folder, its traces (one per ``fit``) and its report.

The run folder is ``$DNN_INSTRUMENT_DIR/<script>-<timestamp>/`` (default root: ``dnn-instrument-runs``
in the working directory). Each ``fit``'s trace is journalled there as it is recorded (``trace.py``); each
time a ``fit`` ends, its trace is saved whole and the report is rewritten, so a script that crashes later
keeps what was recorded; ``DNN_INSTRUMENT_REPORT=path.json`` also writes the JSON report to that path.

On the way out the report is written too: after an exception, Ctrl-C, or SIGTERM (turned into
``SystemExit(143)`` while a ``fit`` records, so that ``finally`` blocks and this run's exit handler run), a
``fit`` that did not end is closed as interrupted. After a SIGKILL nothing runs: ``dnn-instrument report
RUN_DIR`` rebuilds the report from the journal.

The views (report.html, the TensorBoard events) are not the script's business: a script writes none while it
runs, and on its way out starts one detached process that writes them all from the run folder
(``report/views.py``), so that it ends at once. An interactive session (IPython, Jupyter), which has no end to
wait for, writes them after each ``fit`` in a thread, as does a script with ``DNN_INSTRUMENT_VIEWS_AT_EXIT=wait``
(whose files must exist when it ends: it waits for them).
"""

import atexit
import datetime
import json
import os
import signal
import sys
import threading
import traceback

from . import costs, gate, report
from .cluster import worker_task
from .record.trace import Journal, TraceStore
from .record.trace import load as load_trace
from .safety import failed, guarded, keep_interrupt_exit_status

_current = None
_pending_stop = None  # the KeyboardInterrupt / SystemExit a signal raised, until training has seen it


class Session:
    def __init__(self, script):
        self.script = script
        self.stores = []
        self._folder = None
        self._exit_hooked = False
        self._views = None  # the thread writing report.html and the TensorBoard events (in process)
        self._views_due = ()  # the views the detached writer is to write when the script ends
        self.verdict = None  # of the report last written

    @property
    def folder(self):
        if self._folder is None:
            root = os.environ.get("DNN_INSTRUMENT_DIR") or "dnn-instrument-runs"
            stem = os.path.splitext(os.path.basename(self.script))[0] or "script"
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            task = worker_task()
            folder = os.path.join(root, f"{stem}-{stamp}" + (f"-{task}" if task else ""))
            suffix = 1
            while os.path.exists(folder):
                suffix += 1
                folder = os.path.join(root, f"{stem}-{stamp}-{suffix}")
            os.makedirs(folder)
            self._folder = folder
        return self._folder

    def add(self, store):
        global _pending_stop
        _pending_stop = None  # a fit starts: an interrupt of an earlier one was seen (or caught by the script)
        self.stores.append(store)
        store.journal = Journal(os.path.join(self.folder, f"trace-{len(self.stores) - 1}"))
        store.on_close(self._fit_ended)
        if not self._exit_hooked:
            self._exit_hooked = True
            atexit.register(self._on_exit)
            _stop_on_signals()

    @guarded("writing the dnn-instrument report", consequence="this run has no report")
    def _fit_ended(self, store):
        with costs.measure("end of fit"):
            store.journal.finish(store)
            document = report.build(self.script, self.stores)
            self.verdict = document.get("verdict")
            report.write_all(self.folder, document, self.stores, formats=("json",))
            formats = views()
            if views_in_process():
                files, later = (("report.html", "report.json") if "html" in formats else ("report.json",)), ()
            else:
                files, later = ("report.json",), formats
            sys.stderr.write(report.terminal.render(document, self.folder, files, later))
        if later:
            self._views_due = formats
        else:
            self._write_views(document, store, formats)

    def _write_views(self, document, ended, formats):
        """report.html (all fits) and the TensorBoard events of the fit that ``ended`` (a few seconds of
        plotting), in a thread of their own so that the script goes on at once; this run's exit handler waits for
        it (a thread still running while an exception ends the script would change its exit status: then they are
        written at once). Either failing costs only itself."""
        if self._views is not None:
            self._views.join()  # one writer at a time; the newer document replaces the older
        if not formats:
            return
        stores = list(self.stores)

        def write():
            with costs.measure("views"):
                report.write_all(
                    self.folder,
                    document,
                    stores,
                    formats=formats,
                    fits=[stores.index(ended)],
                    failed=failed,
                )

        if sys.exc_info()[0] is not None:  # the fit ends by an exception (Ctrl-C...): the script is on its way out
            write()
            return
        # A daemon thread, joined by this run's exit handler (``_on_exit``) rather than by the interpreter's
        # shutdown, so that the wait is measured (``costs.py``: ``exit``).
        self._views = threading.Thread(target=write, name="dnn-instrument report views", daemon=True)
        self._views.start()

    def _on_exit(self):
        """Close the ``fit`` calls the script left running (an exception, Ctrl-C, SIGTERM, ``sys.exit``), and wait
        for the report views."""
        for store in self.stores:
            if not store.closed:
                store.stopped = (
                    store.stopped or f"interrupted at iteration {store.iterations}: the script ended during this fit"
                )
                store.close()
        if self._views is not None:
            with costs.measure("exit"):
                self._views.join()
        elif self._views_due:
            with costs.measure("exit"):
                self._start_views_writer()
        gate.at_exit(self.verdict, self._folder)

    def _start_views_writer(self):
        """One detached process writes the views of every fit from the run folder (``write_views_after_exit``);
        this process ends without waiting for it. Its environment: this one's, less the cost file (ours to write)
        and the GPUs (plotting needs none, and the next training may)."""
        folder = os.path.abspath(self._folder)
        env = {name: value for name, value in os.environ.items() if name != "DNN_INSTRUMENT_COSTS"}
        env["CUDA_VISIBLE_DEVICES"] = "-1"
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        code = "import sys; from dnn_instrument.runtime.session import write_views_after_exit as w; sys.exit(w(sys.argv[1:]))"
        try:
            report.views.start(folder, [sys.executable, "-c", code, folder, ",".join(self._views_due)], env)
        except Exception as error:
            failed(
                "starting the writer of report.html and the TensorBoard events",
                error,
                f"the run has report.json alone (`dnn-instrument report {self._folder} --html` writes the page)",
            )


def open_store(model, site):
    """The trace store of one ``fit`` of this run: journalled in the run folder, reported when it closes."""
    store = TraceStore(model, site)
    current().add(store)
    return store


def views():
    """The views written beside report.json: ``DNN_INSTRUMENT_VIEWS``, comma-separated among ``html`` and
    ``tensorboard`` (default both; ``none``: report.json alone, e.g. for a CI job that only gates on the verdict;
    ``dnn-instrument report RUN_DIR --html`` writes them later from the trace)."""
    chosen = os.environ.get("DNN_INSTRUMENT_VIEWS", "html,tensorboard")
    return tuple(name for name in ("html", "tensorboard") if name in chosen.replace(" ", "").split(","))


def views_in_process():
    """Whether this process writes its own views, after each ``fit`` in a thread: in an interactive session (no end
    to wait for), with ``DNN_INSTRUMENT_VIEWS_AT_EXIT=wait`` (the files exist when the script ends), or where a
    detached writer cannot be waited for (no ``flock``) or started. Else a detached process writes them after the script."""
    return (
        _interactive()
        or os.environ.get("DNN_INSTRUMENT_VIEWS_AT_EXIT", "").strip().lower() == "wait"
        or not report.views.supported()
        or not sys.executable  # an embedded interpreter: no Python to start
    )


def _interactive():
    """An interactive interpreter (``python -i``, the REPL) or an IPython shell or Jupyter kernel."""
    if hasattr(sys, "ps1") or sys.flags.interactive:
        return True
    ipython = sys.modules.get("IPython")
    try:
        return ipython is not None and ipython.get_ipython() is not None
    except Exception:
        return False


def write_views_after_exit(argv):
    """The detached writer (``report/views.py``), in a process of its own: ``FOLDER FORMATS FD``. Writes the views
    of every fit of the run folder from its files (the traces and report.json, as the script wrote them), then
    says they are in place; a failure is printed (to ``views.log``) and left in the marker. Returns the exit status."""
    folder, formats, fd = argv
    failures = []

    def record(what, error, consequence=None):
        traceback.print_exception(type(error), error, error.__traceback__)
        failures.append(f"{what}: {type(error).__name__}: {error}")

    try:
        stores = load(folder)
        with open(os.path.join(folder, "report.json"), encoding="utf-8") as f:
            document = json.load(f)
        report.write_all(folder, document, stores, formats=tuple(formats.split(",")), failed=record)
    except Exception as error:
        record("reading the run folder", error)
    report.views.finish(folder, fd, failures)
    return 1 if failures else 0


def current():
    global _current
    if _current is None:
        _current = Session(os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else "script")
        keep_interrupt_exit_status()  # for a Diagnose callback written by hand (no header registered it)
    return _current


def _stop_on_signals():
    """Ctrl-C and SIGTERM stop training, always, and the report is written on the way out.

    SIGTERM unwinds the script like ``sys.exit(143)`` (Python's default dies without cleaning up). Python
    raises the exception of a signal in whatever code the main thread runs at that moment; when that is a
    ``__del__`` or a weakref callback (TensorFlow runs many between steps), Python prints "Exception ignored"
    and training goes on as if nothing happened. So each handler also remembers its exception, and
    ``raise_pending_stop`` (called at every training step) raises it again if it was lost. A handler the
    script installed itself is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def stop_with(make_exception, message=None):
        def handler(signum, frame):
            global _pending_stop
            if message:
                sys.stderr.write(message)
            _pending_stop = make_exception()
            raise _pending_stop

        return handler

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, stop_with(KeyboardInterrupt))
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        message = "\ndnn-instrument: terminated (SIGTERM); writing the report of what was recorded\n"
        signal.signal(signal.SIGTERM, stop_with(lambda: SystemExit(128 + signal.SIGTERM), message))


def raise_pending_stop():
    """Raise the KeyboardInterrupt or SystemExit of a signal that Python lost (see ``_stop_on_signals``)."""
    global _pending_stop
    if _pending_stop is not None:
        pending, _pending_stop = _pending_stop, None
        raise pending


def load(folder):
    """The traces of a run folder, in ``fit`` order, read back (``dnn-instrument report``), including those
    of a run that was killed (from their journal)."""
    stems = set()
    for name in os.listdir(folder):
        stem, extension = os.path.splitext(name)
        if stem.startswith("trace-") and stem[len("trace-") :].isdigit() and extension in (".npz", ".json", ".rows"):
            stems.add(stem)
    ordered = sorted(stems, key=lambda stem: int(stem[len("trace-") :]))
    stores = [load_trace(os.path.join(folder, stem)) for stem in ordered]
    for store in stores:
        if not store.closed:  # the process died without closing it: analyse what its journal kept
            store.closed = True
            store.stopped = store.stopped or (
                f"the run ended at iteration {store.iterations} without closing this fit (killed?); rebuilt from its journal"
            )
    return stores
