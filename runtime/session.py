"""The run of one instrumented script: its run folder, its traces (one per ``fit``) and its report.

The run folder is ``$DNN_INSTRUMENT_DIR/<script>-<timestamp>/`` (default root: ``dnn-instrument-runs``
in the working directory). Each time a ``fit`` ends, its trace is saved there and the report is
rewritten, so a script that crashes later keeps what was recorded; ``DNN_INSTRUMENT_REPORT=path.json``
also writes the JSON report to that path.
"""

import datetime
import json
import os
import sys

from . import report

_current = None


class Session:
    def __init__(self, script):
        self.script = script
        self.stores = []
        self._folder = None

    @property
    def folder(self):
        if self._folder is None:
            root = os.environ.get("DNN_INSTRUMENT_DIR") or "dnn-instrument-runs"
            stem = os.path.splitext(os.path.basename(self.script))[0] or "script"
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            folder = os.path.join(root, f"{stem}-{stamp}")
            suffix = 1
            while os.path.exists(folder):
                suffix += 1
                folder = os.path.join(root, f"{stem}-{stamp}-{suffix}")
            os.makedirs(folder)
            self._folder = folder
        return self._folder

    def add(self, store):
        self.stores.append(store)
        store.on_close(self._fit_ended)

    def _fit_ended(self, store):
        store.save(os.path.join(self.folder, f"trace-{self.stores.index(store)}.npz"))
        document = report.build(self.script, self.stores)
        text = json.dumps(document, indent=1, allow_nan=False)
        paths = [os.path.join(self.folder, "report.json")]
        if os.environ.get("DNN_INSTRUMENT_REPORT"):
            paths.append(os.environ["DNN_INSTRUMENT_REPORT"])
        for path in paths:
            _write_atomically(path, text)
        sys.stderr.write(report.terminal(document, self.folder))


def current():
    global _current
    if _current is None:
        _current = Session(os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else "script")
    return _current


def _write_atomically(path, text):
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w") as f:
        f.write(text)
    os.replace(temporary, path)


def load(folder):
    """The traces of a run folder, in ``fit`` order, read back (``dnn-instrument report``)."""
    from .trace import TraceStore

    names = [n for n in os.listdir(folder) if n.startswith("trace-") and n.endswith(".npz")]
    names.sort(key=lambda n: int(n[len("trace-") : -len(".npz")]))
    return [TraceStore.load(os.path.join(folder, n)) for n in names]
