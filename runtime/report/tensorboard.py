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

The events are written by one compiled ``tf.summary`` loop per fit: a Python call per scalar costs far
more than the training steps it describes.
"""

import os

import numpy as np
import tensorflow as tf

from ..analysis import TraceView
from ..vocabulary import COLUMN


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
    writer = tf.summary.create_file_writer(os.path.join(folder, "tensorboard", f"fit-{number}"))
    _write_events(writer, names, groups, tf.constant(matrix), tf.constant(steps))
    if document is not None:
        _write_text(writer, document, store.site)
    writer.close()


def _write_text(writer, document, site):
    """The verdict (step 0) and each finding of the fit at ``site`` (at its iteration), as markdown text."""
    findings = [f for f in document.get("findings", []) if f.get("fit") == site]
    verdict = f"**{str(document.get('verdict', '')).upper()}**"
    if findings:
        first = findings[0]
        verdict += f": {_finding_text(first)}"
    else:
        verdict += f": no fault found in {document.get('iterations')} iterations"
    text = _metadata("text")  # what tf.summary.text writes (it needs the tensorboard package; this does not)
    with writer.as_default():
        tf.summary.write("diagnosis/verdict", tf.constant(verdict), step=0, metadata=text)
        for finding in findings:
            tf.summary.write(
                "diagnosis/findings",
                tf.constant(_finding_text(finding)),
                step=int(finding.get("iteration") or 0),
                metadata=text,
            )


def _finding_text(finding):
    where = f"layer `{finding['layer']}`" if finding.get("layer") else "the model"
    if finding.get("source"):
        where += f" ({finding['source']})"
    return (
        f"{finding['symptom'].replace('_', ' ')} in {where}, {finding.get('phase')} phase, iteration "
        f"{finding.get('iteration')}: {finding.get('evidence', '')}. Fix: {finding.get('fix', '')}"
    )


def _metadata(plugin):
    from tensorflow.core.framework import summary_pb2

    return summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin))


def _histogram(values, buckets=HISTOGRAM_BUCKETS):
    """TensorBoard's histogram tensor: ``[buckets, 3]`` rows of (left edge, right edge, count)."""
    low, high = tf.reduce_min(values), tf.reduce_max(values)
    high = tf.where(high > low, high, low + 1.0)
    counts = tf.cast(tf.histogram_fixed_width(values, tf.stack([low, high]), nbins=buckets), tf.float32)
    edges = tf.linspace(low, high, buckets + 1)
    return tf.stack([edges[:-1], edges[1:], counts], axis=1)


def _write_events(writer, names, groups, matrix, steps):
    """One compiled loop over the rows: ``tf.summary.write`` with the scalar and histogram plugins' metadata
    (what ``tf.summary.scalar``/``histogram`` write, without their name scopes in the tags)."""
    scalar, histogram = _metadata("scalars"), _metadata("histograms")

    def one_row(row):
        values, step = matrix[row], steps[row]
        with writer.as_default():
            for column, name in enumerate(names):
                value = values[column]
                tf.cond(
                    tf.math.is_finite(value),
                    lambda name=name, value=value: tf.summary.write(name, value, step=step, metadata=scalar),
                    lambda: tf.constant(False),
                )
            for stat, members in groups.items():
                picked = tf.gather(values, members)
                finite = tf.boolean_mask(picked, tf.math.is_finite(picked))
                tf.cond(
                    tf.size(finite) > 0,
                    lambda stat=stat, finite=finite: tf.summary.write(
                        f"diagnosis/by_layer/{stat}", _histogram(finite), step=step, metadata=histogram
                    ),
                    lambda: tf.constant(False),
                )
        return row + 1

    @tf.function(autograph=False)
    def loop():
        tf.while_loop(lambda row: row < tf.shape(matrix)[0], one_row, [tf.constant(0)])

    # Traced once per fit, and called once, on purpose: TensorFlow's warning about a function retraced in
    # a loop would be printed into the user's output after the fifth fit.
    loop._omit_frequent_tracing_warning = True
    loop()


def _tag(name):
    """A layer name as one level of a TensorBoard tag (no '/' inside it)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in str(name)) or "_"
