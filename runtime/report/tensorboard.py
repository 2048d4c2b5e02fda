"""TensorBoard event files of a run's traces: ``<run folder>/tensorboard/fit-N/``.

``tensorboard --logdir`` on the run folder (or beside the logs of Keras's own ``TensorBoard`` callback,
which records weights only) shows, under the ``diagnosis/`` prefix, one scalar tag per layer and
statistic (``diagnosis/<layer>/gradient_norm``, ``.../update_ratio``, ``.../dead_fraction``...) and, per
step, histograms of each statistic across the layers (``diagnosis/by_layer/<statistic>``: how gradient
norms or update ratios spread over depth). The step is the report's iteration number (0: the fit's first
step), so that a finding's "iteration 12" is step 12 here; each fit is a TensorBoard run of its own. The
verdict and the fit's findings are there too, as text (``diagnosis/verdict`` at step 0, each finding under
``diagnosis/findings`` at its iteration). Values come from the trace (``TraceView``, the same series the rules and the HTML figures read):
the iterations before the first NaN/Inf, whose fraction has its own tag over the whole run.

The events are written as protocol buffers, from Python and without TensorFlow (``_EventFile``, ``event_file.py``),
one event per trace row, to a temporary file renamed to its ``events.out.tfevents.*`` name once complete: a reader
never sees half of one.
"""

import os
import socket
import time

import numpy as np

from ..analysis import TraceView
from ..vocabulary import COLUMN
from . import event_file


def series(store):
    """``{tag: values per trace row}`` of one fit (NaN where a value is unknown)."""
    view = TraceView(store)
    rows, healthy = len(view.all_values), view.iterations

    def full(values):
        out = np.full(rows, np.nan, np.float32)
        out[:healthy] = values
        return out

    tags = {}
    loss = view.series("loss", "mean")
    if loss is not None:
        tags["diagnosis/loss"] = full(loss)
    inputs = view.series("input", "abs_max")
    if inputs is not None:
        tags["diagnosis/input/abs_max"] = full(inputs)
    faults = view.all_values[:, :, COLUMN["frac_nan"]] + view.all_values[:, :, COLUMN["frac_inf"]]
    for layer in store.facts["layers"]:
        index, prefix = layer["index"], f"diagnosis/{_tag(layer['name'])}"
        if view.rows("forward", index):
            for stat, name in (
                ("mean", "output_mean"),
                ("std", "output_std"),
                ("frac_zero", "dead_fraction"),
                ("frac_saturated", "saturated_fraction"),
            ):
                tags[f"{prefix}/{name}"] = full(view.series("forward", stat, index))
        if view.rows("backward", index):
            tags[f"{prefix}/output_gradient_norm"] = full(view.series("backward", "norm", index))
        if view.rows("weight", index):
            if view.rows("gradient", index):
                tags[f"{prefix}/gradient_norm"] = full(view.norm("gradient", index))
            tags[f"{prefix}/weight_norm"] = full(view.norm("weight", index))
            tags[f"{prefix}/update_ratio"] = full(view.update_ratio(index))
        rows_of_layer = [i for i, site in enumerate(store.sites) if site["layer_index"] == index]
        if rows_of_layer:
            tags[f"{prefix}/nan_inf_fraction"] = faults[:, rows_of_layer].max(axis=1)
    return tags


BY_LAYER = ("gradient_norm", "update_ratio", "dead_fraction", "saturated_fraction")
HISTOGRAM_BUCKETS = 30


def write(folder, stores):
    """Write the event files of every fit; returns the folder they are in."""
    for number, store in enumerate(stores):
        write_fit(folder, number, store)
    return os.path.join(folder, "tensorboard")


def write_fit(folder, number, store, document=None):
    """Write the event files of the ``number``-th fit (once: a second writer would repeat every event), with
    the verdict and this fit's findings of the report ``document`` as text."""
    tags = series(store)
    if not tags or store.values.shape[0] == 0:
        return
    names = sorted(tags)
    matrix = np.stack([tags[name] for name in names], axis=1)
    groups = {stat: [i for i, name in enumerate(names) if name.endswith("/" + stat)] for stat in BY_LAYER}
    groups = {stat: members for stat, members in groups.items() if members}
    steps = np.asarray(store.row_iterations, np.int64)  # the report's iteration numbers
    events = _EventFile(os.path.join(folder, "tensorboard", f"fit-{number}"))
    _write_events(events, names, groups, matrix, steps)
    if document is not None:
        _write_text(events, document, store.site)
    events.close()


class _EventFile:
    """A TensorBoard event file of one fit (``event_file.py``: TensorFlow's protocol buffers and record framing,
    without TensorFlow). Written from Python, not with ``tf.summary`` ops: those are graph ops, one per tag, and
    tracing a loop over a MobileNet's thousand tags took longer than its training. The events are kept until
    ``close``, which writes them to a temporary file renamed to the events name: a reader never sees half a file.
    """

    def __init__(self, folder):
        self._event = event_file.messages()["Event"]
        os.makedirs(folder, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.dnn-instrument.v2"
        self._path = os.path.join(folder, name)
        self._temporary = os.path.join(folder, f".dnn-instrument-{os.getpid()}.tmp")  # no "tfevents": not read
        self._records = []
        self._write(self._event(file_version="brain.Event:2"))

    def write(self, step, values):
        """One event at ``step`` with ``values``: a list of ``Summary.Value``."""
        event = self._event(step=int(step))
        event.summary.value.extend(values)
        self._write(event)

    def _write(self, event):
        event.wall_time = time.time()
        self._records.append(event.SerializeToString())

    def close(self):
        """Write the file, under its events name once complete."""
        try:
            event_file.write_records(self._temporary, self._records)
            os.replace(self._temporary, self._path)
        except BaseException:
            if os.path.exists(self._temporary):
                os.unlink(self._temporary)
            raise


def _write_events(events, names, groups, matrix, steps):
    """One event per trace row: each finite scalar, and per statistic the histogram of its layers' values (what
    ``tf.summary.scalar``/``histogram`` would write, without their name scopes in the tags)."""
    proto = event_file.messages()
    Value, Tensor, Shape, Dim = (
        proto[name] for name in ("Summary.Value", "TensorProto", "TensorShapeProto", "TensorShapeProto.Dim")
    )
    scalar, histogram = _metadata("scalars"), _metadata("histograms")
    scalar_shape = Shape()
    histogram_shape = Shape(dim=[Dim(size=HISTOGRAM_BUCKETS), Dim(size=3)])
    finite = np.isfinite(matrix)
    histograms = {stat: _histograms(matrix[:, members]) for stat, members in groups.items()}
    for row, step in enumerate(steps):
        values = [
            Value(
                tag=names[column],
                metadata=scalar,
                tensor=Tensor(dtype=event_file.DT_FLOAT, tensor_shape=scalar_shape, float_val=[value]),
            )
            for column, value in zip(np.flatnonzero(finite[row]).tolist(), matrix[row][finite[row]].tolist())
        ]
        for stat, (present, counts) in histograms.items():
            if present[row]:
                content = counts[row].astype(np.float32).tobytes()
                values.append(
                    Value(
                        tag=f"diagnosis/by_layer/{stat}",
                        metadata=histogram,
                        tensor=Tensor(dtype=event_file.DT_FLOAT, tensor_shape=histogram_shape, tensor_content=content),
                    )
                )
        events.write(step, values)


def _write_text(events, document, site):
    """The verdict (step 0) and each finding of the fit at ``site`` (at its iteration), as markdown text."""
    findings = [f for f in document.get("findings", []) if f.get("fit") == site]
    verdict = f"**{str(document.get('verdict', '')).upper()}**"
    if findings:
        first = findings[0]
        verdict += f": {_finding_text(first)}"
    else:
        verdict += f": no fault found in {document.get('iterations')} iterations"
    events.write(0, [_text_value("diagnosis/verdict", verdict)])
    for finding in findings:
        events.write(int(finding.get("iteration") or 0), [_text_value("diagnosis/findings", _finding_text(finding))])


def _text_value(tag, text):
    """What ``tf.summary.text`` writes (it needs the tensorboard package; this does not)."""
    proto = event_file.messages()
    tensor = proto["TensorProto"](
        dtype=event_file.DT_STRING, tensor_shape=proto["TensorShapeProto"](), string_val=[text.encode()]
    )
    return proto["Summary.Value"](tag=tag, metadata=_metadata("text"), tensor=tensor)


def _finding_text(finding):
    where = f"layer `{finding['layer']}`" if finding.get("layer") else "the model"
    if finding.get("source"):
        where += f" ({finding['source']})"
    return (
        f"{finding['symptom'].replace('_', ' ')} in {where}, {finding.get('phase')} phase, iteration "
        f"{finding.get('iteration')}: {finding.get('evidence', '')}. Fix: {finding.get('fix', '')}"
    )


def _metadata(plugin):
    proto = event_file.messages()
    return proto["SummaryMetadata"](plugin_data=proto["SummaryMetadata.PluginData"](plugin_name=plugin))


def _histograms(block, buckets=HISTOGRAM_BUCKETS):
    """TensorBoard's histogram tensor of the finite values of each row of ``block``, all rows at once: whether the row
    has any, and ``[rows, buckets, 3]`` of (left edge, right edge, count). Each row's edges and counts are exactly
    ``np.histogram``'s over the row's range (its rule for a value on an edge included: ``tests/test_tensorboard.py``)."""
    values = np.asarray(block, np.float64)  # numpy places the edges in the values' type: float32's are too coarse
    finite = np.isfinite(values)
    present = finite.any(axis=1)
    low = np.where(finite, values, np.inf).min(axis=1, initial=np.inf)
    high = np.where(finite, values, -np.inf).max(axis=1, initial=-np.inf)
    low, high = np.where(present, low, 0.0), np.where(present, high, 0.0)
    # one value, or too close for distinct edges (1e20 + 1 == 1e20)
    close = high - low <= np.maximum(np.abs(low), np.abs(high)) * 1e-9
    high = np.where(close, low + np.maximum(1.0, np.abs(low) * 1e-6), high)
    edges = np.linspace(low, high, buckets + 1, axis=1)  # [rows, buckets + 1], as np.histogram's for each row
    # np.histogram's bucket of each value: scaled, then moved by one where rounding put it across an edge
    rows = np.broadcast_to(np.arange(len(values))[:, None], values.shape)
    rows, kept = rows[finite], values[finite]
    index = ((kept - low[rows]) / (high - low)[rows] * buckets).astype(np.intp)
    index[index == buckets] -= 1
    index[kept < edges[rows, index]] -= 1
    index[(kept >= edges[rows, index + 1]) & (index != buckets - 1)] += 1
    counts = np.bincount(rows * buckets + index, minlength=len(values) * buckets).reshape(len(values), buckets)
    return present, np.stack([edges[:, :-1], edges[:, 1:], counts], axis=2)


def _tag(name):
    """A layer name as one level of a TensorBoard tag (no '/' inside it)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in str(name)) or "_"
