"""The trace store: every statistics row the probes recorded during one ``fit``, on the host.

``values`` is a ``[iterations, sites, STATS]`` float32 array; ``sites`` names each row (phase, layer,
tensor); ``epochs``/``steps`` give each iteration's epoch and step within the epoch; ``epoch_logs`` the
logs ``fit`` put in its History. ``TraceStore.for_run`` attaches the store to the process's run
(``session.py``), which writes it next to the report when the ``fit`` ends.
"""

import json
import math
import time

import numpy as np

from .facts import model_facts
from .stats import STATS


class TraceStore:
    def __init__(self, model=None, site=""):
        self.site = site
        self.facts = model_facts(model) if model is not None else {"layers": [], "losses": [], "optimizer": {}}
        self.layers = self.facts["layers"]
        self.sites = []
        self._blocks = []
        self._epochs, self._steps = [], []
        self.epoch_logs = []
        self.closed = False
        self.seconds = None  # wall time of the fit, set on close
        self.stopped = None  # why dnn-instrument stopped training early, if it did
        self.mechanism = "loop"  # or "callback": the Diagnose callback recorded it
        self._started = time.perf_counter()
        self._on_close = []

    @classmethod
    def for_run(cls, model, site):
        from . import session

        store = cls(model, site)
        session.current().add(store)
        return store

    def set_sites(self, sites):
        """Name the rows of the statistics matrices; a retraced step must produce the same rows."""
        if self.sites and sites != self.sites:
            raise RuntimeError("the train step was retraced with different probe sites")
        self.sites = list(sites)

    def append(self, epochs, steps, values):
        self._blocks.append(np.asarray(values, np.float32))
        self._epochs.extend(epochs)
        self._steps.extend(steps)

    def add_epoch(self, epoch, logs):
        self.epoch_logs.append({"epoch": int(epoch), **{k: _number(v) for k, v in logs.items()}})

    @property
    def iterations(self):
        return len(self._steps)

    @property
    def values(self):
        if not self._blocks:
            return np.zeros((0, len(self.sites), len(STATS)), np.float32)
        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks)]
        return self._blocks[0]

    @property
    def epochs(self):
        return np.asarray(self._epochs, np.int64)

    @property
    def steps(self):
        return np.asarray(self._steps, np.int64)

    def on_close(self, callback):
        self._on_close.append(callback)

    def close(self):
        self.closed = True
        self.seconds = time.perf_counter() - self._started
        for callback in self._on_close:
            callback(self)

    def save(self, path):
        """Write the whole store to ``path`` (``.npz``); ``TraceStore.load`` reads it back."""
        meta = {"site": self.site, "facts": self.facts, "sites": self.sites, "epoch_logs": self.epoch_logs,
                "seconds": self.seconds, "closed": self.closed, "stopped": self.stopped,
                "mechanism": self.mechanism}
        np.savez_compressed(
            path,
            values=self.values,
            epochs=self.epochs,
            steps=self.steps,
            stats=np.array(STATS),
            meta=np.array(json.dumps(meta)),
        )

    @classmethod
    def load(cls, path):
        """A store read back from a file written by ``save`` (for ``dnn-instrument report``)."""
        with np.load(path, allow_pickle=False) as data:
            if tuple(str(s) for s in data["stats"]) != STATS:
                raise ValueError(f"{path}: written by another version of dnn-instrument (other statistics)")
            meta = json.loads(str(data["meta"]))
            store = cls(site=meta["site"])
            store.facts = meta["facts"]
            store.layers = store.facts["layers"]
            store.sites = meta["sites"]
            store.epoch_logs = meta["epoch_logs"]
            store.seconds = meta["seconds"]
            store.closed = meta["closed"]
            store.stopped = meta.get("stopped")
            store.mechanism = meta.get("mechanism", "loop")
            store.append(data["epochs"].tolist(), data["steps"].tolist(), data["values"])
        return store


def _number(value):
    """A log value for JSON: a float, or its text ("nan", "inf") where JSON has no number for it."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return value if math.isfinite(value) else str(value)
