"""The trace store: the statistics rows the probes recorded during one ``fit``, on the host and on disk.

``values`` is a ``[rows, sites, STATS]`` float32 array; ``sites`` names each row's sites (phase, layer,
tensor); ``epochs``/``steps``/``row_iterations`` give each row's epoch, step within the epoch and
iteration; ``epoch_logs`` the logs ``fit`` put in its History.

**Bounded memory.** A row is one iteration, except in long runs: the first ``HEAD`` iterations, the last
``TAIL`` ones and those around the first NaN/Inf (``AROUND_FAULT``) are always kept in full; the rows in
between are merged pairwise whenever they outgrow ``MIDDLE`` (``merge_rows``: a NaN is never averaged
away), so a run of any length holds at most about ``HEAD + MIDDLE + TAIL`` rows.

**On disk.** ``session.open_store`` attaches the store to the process's run folder (``session.py``). Each
block of rows is appended to ``trace-N.rows`` as it arrives, and the store's description to
``trace-N.json``, so a run that crashes or is killed keeps what was recorded; whenever rows are merged,
and when the ``fit`` ends, the whole store is written to ``trace-N.npz`` and the row journal starts over.
``load(stem)`` reads whatever of these a run left.
"""

import json
import math
import os
import time

import numpy as np

from ..files import write_atomically
from ..vocabulary import COLUMN, STATISTICS, STATS
from .facts import TRACED_FACTS, model_facts

HEAD = 1024
MIDDLE = 2048
TAIL = 256
AROUND_FAULT = 64


class TraceStore:
    def __init__(self, model=None, site=""):
        self.site = site
        self.facts = model_facts(model) if model is not None else {"layers": [], "losses": [], "optimizer": {}}
        self.layers = self.facts["layers"]
        self.sites = []
        self._inherited = False  # sites taken from an earlier fit's trace (inherit_trace)
        self._blocks = []
        self._epochs, self._steps, self._rows_at, self._spans = [], [], [], []
        self.iterations = 0  # iterations recorded (rows may stand for several, see merge_rows)
        self.first_fault = None  # the first iteration with a NaN or Inf
        self.epoch_logs = []
        self.closed = False
        self.seconds = None  # wall time of the fit, set on close
        self.stopped = None  # why dnn-instrument stopped training early, if it did
        self.mechanism = "loop"  # or "callback": the Diagnose callback recorded it
        self.distribution = None  # under tf.distribute: strategy, replicas, the replica a NaN/Inf appeared on
        self.journal = None  # the files on disk, once attached to a run
        self._started = time.perf_counter()
        self._on_close = []

    def set_sites(self, sites):
        """Name the rows of the statistics matrices; a retraced step must produce the same rows (those inherited
        from an earlier fit's trace give way to this fit's own)."""
        if self.sites and sites != self.sites and not self._inherited:
            raise RuntimeError("the train step was retraced with different probe sites")
        self.sites = list(sites)
        self._inherited = False

    def inherit_trace(self, other):
        """Take what the probes wrote into ``other`` while the train step was traced (the rows' sites, the
        targets' shapes): this fit runs the step an earlier fit compiled (``step.py``), and may not trace it."""
        self.sites = list(other.sites)
        self._inherited = True
        for key in TRACED_FACTS:
            if key in other.facts:
                self.facts[key] = other.facts[key]

    def append(self, epochs, steps, values, spans=None, iterations=None):
        values = np.asarray(values, np.float32)
        spans = [1] * len(values) if spans is None else list(spans)
        at = list(range(self.iterations, self.iterations + len(values))) if iterations is None else list(iterations)
        if self.first_fault is None:
            bad = np.flatnonzero(
                ((values[:, :, COLUMN["frac_nan"]] > 0) | (values[:, :, COLUMN["frac_inf"]] > 0)).any(axis=1)
            )
            if bad.size:
                self.first_fault = at[int(bad[0])]
        self._blocks.append(values)
        self._epochs.extend(int(e) for e in epochs)
        self._steps.extend(int(s) for s in steps)
        self._rows_at.extend(int(i) for i in at)
        self._spans.extend(int(n) for n in spans)
        self.iterations = int(at[-1] + spans[-1]) if at else self.iterations
        if self.journal is not None:
            self.journal.append(self, epochs, steps, values)
        if len(self._rows_at) > HEAD + MIDDLE + TAIL + 2 * AROUND_FAULT + len(values):
            self._compact()

    def _compact(self):
        values, keep = self.values, self._protected()
        merged = merge_rows(values, np.asarray(self._spans), keep)
        self._blocks = [merged.values]
        for name in ("_epochs", "_steps", "_rows_at"):
            setattr(self, name, [getattr(self, name)[i] for i in merged.first])
        self._spans = merged.spans.tolist()
        if self.journal is not None:
            self.journal.checkpoint(self)

    def _protected(self):
        """Rows never merged: the head, the tail and the rows around the first fault."""
        rows = len(self._rows_at)
        keep = np.zeros(rows, bool)
        keep[:HEAD] = True
        keep[max(rows - TAIL, 0) :] = True
        if self.first_fault is not None:
            at = np.asarray(self._rows_at)
            keep |= np.abs(at - self.first_fault) <= AROUND_FAULT
        return keep

    def add_epoch(self, epoch, logs):
        self.epoch_logs.append({"epoch": int(epoch), **{k: _number(v) for k, v in logs.items()}})
        if self.journal is not None:
            self.journal.describe(self)

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

    @property
    def row_iterations(self):
        """The iteration each row starts at (equal to the row number unless rows were merged)."""
        return np.asarray(self._rows_at, np.int64)

    @property
    def spans(self):
        """How many iterations each row stands for."""
        return np.asarray(self._spans, np.int64)

    def on_close(self, callback):
        self._on_close.append(callback)

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.seconds = time.perf_counter() - self._started
        for callback in self._on_close:
            callback(self)

    # -- files ---------------------------------------------------------------------------------------
    def meta(self):
        return {
            "site": self.site,
            "facts": self.facts,
            "sites": self.sites,
            "epoch_logs": self.epoch_logs,
            "seconds": self.seconds,
            "closed": self.closed,
            "stopped": self.stopped,
            "mechanism": self.mechanism,
            "iterations": self.iterations,
            "distribution": self.distribution,
        }

    def save(self, path):
        """Write the whole store to ``path`` (``.npz``); ``load`` reads it back."""
        temporary = f"{path}.tmp{os.getpid()}.npz"
        np.savez_compressed(
            temporary,
            values=self.values,
            epochs=self.epochs,
            steps=self.steps,
            rows_at=self.row_iterations,
            spans=self.spans,
            stats=np.array(STATS),
            meta=np.array(json.dumps(self.meta())),
        )
        os.replace(temporary, path)

    @classmethod
    def from_meta(cls, meta):
        store = cls(site=meta["site"])
        store.facts = meta["facts"]
        store.layers = store.facts["layers"]
        store.sites = meta["sites"]
        store.epoch_logs = meta["epoch_logs"]
        store.seconds = meta["seconds"]
        store.closed = meta["closed"]
        store.stopped = meta.get("stopped")
        store.mechanism = meta.get("mechanism", "loop")
        store.distribution = meta.get("distribution")
        return store


class Journal:
    """The files of one store in a run folder: ``<stem>.json``, ``<stem>.rows`` (appended) and ``<stem>.npz``."""

    def __init__(self, stem):
        self.stem = stem

    def describe(self, store):
        write_atomically(f"{self.stem}.json", json.dumps(store.meta()))

    def append(self, store, epochs, steps, values):
        if not os.path.exists(f"{self.stem}.json"):
            self.describe(store)
        head = np.column_stack([np.asarray(epochs, np.float32), np.asarray(steps, np.float32)])
        with open(f"{self.stem}.rows", "ab") as f:
            f.write(np.concatenate([head, values.reshape(len(values), -1)], axis=1).astype(np.float32).tobytes())

    def checkpoint(self, store):
        """Write the whole store and start the row journal over (after merging rows, and at the end)."""
        store.save(f"{self.stem}.npz")
        self.describe(store)
        with open(f"{self.stem}.rows", "wb"):
            pass

    def finish(self, store):
        store.save(f"{self.stem}.npz")
        for suffix in (".rows", ".json"):
            if os.path.exists(self.stem + suffix):
                os.unlink(self.stem + suffix)


def load(stem):
    """The store a run left at ``stem`` (``trace-0``): its ``.npz`` checkpoint, then any rows journalled after
    it, described by the newer of the two descriptions (``.json`` is rewritten at each epoch's end)."""
    meta, checkpoint = None, None
    if os.path.exists(f"{stem}.npz"):
        with np.load(f"{stem}.npz", allow_pickle=False) as data:
            if tuple(str(s) for s in data["stats"]) != STATS:
                raise ValueError(f"{stem}.npz: written by another version of dnn-instrument (other statistics)")
            meta = json.loads(str(data["meta"]))
            checkpoint = [data[name] for name in ("epochs", "steps", "values", "spans", "rows_at")]
    if os.path.exists(f"{stem}.json"):
        with open(f"{stem}.json") as f:
            meta = json.load(f)
    if meta is None:
        raise FileNotFoundError(f"{stem}: no trace")
    store = TraceStore.from_meta(meta)
    if checkpoint is not None:
        store.append(*checkpoint)
    width = 2 + len(store.sites) * len(STATS)
    rows = np.fromfile(f"{stem}.rows", np.float32) if os.path.exists(f"{stem}.rows") else np.zeros(0, np.float32)
    rows = rows[: rows.size // width * width].reshape(-1, width)  # a write cut short by a kill is dropped
    if len(rows):
        store.append(
            rows[:, 0].astype(np.int64),
            rows[:, 1].astype(np.int64),
            rows[:, 2:].reshape(len(rows), len(store.sites), len(STATS)),
        )
    return store


class Merged:
    def __init__(self, values, spans, first):
        self.values, self.spans, self.first = values, spans, first


#: How the extremes merge (``vocabulary.MERGES``): ``fmin``/``fmax`` ignore a NaN, ``maximum`` keeps it.
PICK = {"min": np.fmin, "max": np.fmax, "worst": np.maximum}


def merge_rows(values, spans, keep):
    """Merge adjacent pairs of rows not in ``keep`` into one row each, weighted by the iterations they span.

    Per statistic: means, fractions, count and spread are averaged (norm and std as root mean squares),
    extremes take the extreme, and the NaN/Inf fractions the maximum, so a fault stays visible.
    Returns the merged values and spans, and for each new row the index of its first old row.
    """
    index, rows = 0, len(values)
    pairs = []
    while index < rows:
        if index + 1 < rows and not keep[index] and not keep[index + 1]:
            pairs.append((index, index + 1))
            index += 2
        else:
            pairs.append((index, index))
            index += 1
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    single = a == b
    wa, wb = spans[a].astype(np.float64), np.where(single, 0, spans[b]).astype(np.float64)
    total = wa + wb
    x, y = values[a].astype(np.float64), values[b].astype(np.float64)

    def weigh(u, v):
        shape = (-1,) + (1,) * (u.ndim - 1)
        return (u * wa.reshape(shape) + v * wb.reshape(shape)) / total.reshape(shape)

    merged = weigh(x, y)  # "mean"
    for column, statistic in enumerate(STATISTICS):
        if statistic.merge == "rms":
            merged[:, :, column] = np.sqrt(weigh(x[:, :, column] ** 2, y[:, :, column] ** 2))
        elif statistic.merge in PICK:
            merged[:, :, column] = PICK[statistic.merge](x[:, :, column], y[:, :, column])
    merged[single] = x[single]
    return Merged(merged.astype(np.float32), total.astype(np.int64), a.tolist())


def _number(value):
    """A log value for JSON: a float, or its text ("nan", "inf") where JSON has no number for it."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return value if math.isfinite(value) else str(value)
