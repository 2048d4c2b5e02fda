"""The HTML report of a run: ``report.html``, one self-contained page (no network needed to view it).

``render(document, stores)`` turns the report document (``report.build``) and the traces of its fits
into HTML; ``write(folder, document, stores)`` writes it into the run folder. The figures are matplotlib
SVG inlined in the page (no pyplot, no global state), the style sheet is in the template
(``templates/report.html.j2``), and there is no script. Text from the user's code (layer names, file
names, metric names, messages) is escaped by the template's autoescape and, inside figures, by
matplotlib's SVG writer; ``$`` is escaped so that it is never read as mathtext.

Figures read the trace through ``TraceView``, as the rules do: the series of the iterations before
the first NaN/Inf (after it every statistic is poisoned), left blank for the rest of the run; only the
NaN/Inf heatmap reads every iteration. A trace row is one iteration, or several in a long run whose
middle rows were merged (``TraceStore.row_iterations``/``spans``): figures are drawn over iterations.
Plotting lives here; measuring in ``stats.py``; rules in ``analysis/``.
"""

import io
import math
import os

import jinja2
import markupsafe
import numpy as np
from matplotlib import colormaps, rc_context
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure

from ..analysis.view import TraceView
from ..files import write_atomically
from ..record.stats import SATURATION
from ..vocabulary import COLUMN

MAX_COLUMNS = 300  # heatmap columns; longer runs are binned
MAX_MARKS = 4  # vertical lines at the iterations of a fit's findings
WIDTH = 10  # figure width, inches
BLANK = "#d9d9d9"  # heatmap cells with no value (after the first NaN/Inf, or no site)
FAULT = "#c0392b"
SVG_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "dnn-instrument", "font.size": 9}
CALLBACK_LOSS = "with the Diagnose callback the loss is Keras' running mean over the epoch, not the batch loss"


def render(document, stores, fix_diff=None):
    """The page, as a string, for ``document`` and the ``TraceStore`` of each of its fits (same order);
    ``fix_diff``: the verified patch of ``dnn-instrument fix``, shown under the verdict."""
    if len(stores) != len(document["fits"]):
        raise ValueError(f"{len(document['fits'])} fits in the document but {len(stores)} traces")
    findings = document["findings"]
    with rc_context(SVG_STYLE):
        fits = [
            _fit(fit, store, [f for f in findings if f.get("fit") == fit["site"]])
            for fit, store in zip(document["fits"], stores)
        ]
    template = _environment().get_template("report.html.j2")
    return template.render(
        document=document, primary=findings[0] if findings else None, others=findings[1:], fits=fits, fix_diff=fix_diff
    )


def write(folder, document, stores):
    """Write ``<folder>/report.html`` atomically (a temporary file, then ``os.replace``); returns its path."""
    path = os.path.join(folder, "report.html")
    fix_path = os.path.join(folder, "fix.diff")  # written by `dnn-instrument fix` for a verified patch
    fix_diff = None
    if os.path.isfile(fix_path):
        with open(fix_path, encoding="utf-8") as f:
            fix_diff = f.read()
    write_atomically(path, render(document, stores, fix_diff))
    return path


def _environment():
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("dnn_instrument.runtime.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["code"] = code_spans
    return environment


def code_spans(text):
    """A fix's text as HTML, its `backquoted` parts (code to write) as ``<code>``."""
    pieces = str(markupsafe.escape(text)).split("`")
    return markupsafe.Markup("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces)))


# -- one fit ---------------------------------------------------------------------------------------


def _fit(fit, store, findings):
    """What the template shows of one fit: its layers (faulty ones marked) and its figures."""
    view = TraceView(store)
    faults = {}
    for finding in findings:
        if finding.get("layer_index") is not None:
            faults.setdefault(finding["layer_index"], []).append(finding["symptom"])
    layers = [
        {
            "index": layer["index"],
            "name": layer["name"],
            "type": layer.get("class") or layer.get("type"),
            "activation": layer.get("activation"),
            "units": layer.get("units"),
            "weights": layer.get("weights"),
            "source": layer.get("source"),
            "faults": faults.get(layer["index"], []),
        }
        for layer in view.layers
    ]
    marks = {}  # iteration -> symptoms found there; the fit's first finding (its likeliest cause) first
    for finding in findings:
        marks.setdefault(finding["iteration"], []).append(finding["symptom"].replace("_", " "))
    marks = list(marks.items())[:MAX_MARKS]
    fault = marks[0][0] if marks else None
    phases = {site["phase"] for site in store.sites}
    callback = store.mechanism == "callback"
    timeline = _Iterations(store)
    figures = [
        _curves(view, timeline, fit.get("history") or [], marks, callback),
        *[zoom for zoom in [_fault_zoom(view, timeline, marks)] if zoom is not None],
        _gradient_norms(view, timeline, marks, phases, callback),
        _update_ratios(view, timeline, marks, phases, callback),
        _dead_units(view, timeline, marks, phases, callback),
        _saturation(view, timeline, marks, phases, callback),
        _nan_inf(view, timeline, marks),
    ]
    return {
        **fit,
        "layers": layers,
        "findings": findings,
        "fault": fault,
        "figures": figures,
        "callback": callback,
        "sampled": callback and "forward" in phases,
        "stopped": store.stopped,
    }


def _mark(axis, marks, legend=False):
    """Vertical lines amid the findings' iterations: the first (the likeliest cause) dashed, the others dotted."""
    for number, (iteration, symptoms) in enumerate(marks):
        label = (
            _plain(f"{'fault' if number == 0 else 'also'}: {', '.join(symptoms)} (iteration {iteration})")
            if legend
            else None
        )
        axis.axvline(
            iteration + 0.5, color=FAULT, ls="--" if number == 0 else ":", lw=1.4 if number == 0 else 1.0, label=label
        )


def _figure(name, title, caption, svg=None, missing=None):
    return {"id": name, "title": title, "caption": caption, "svg": svg, "missing": missing}


def _unavailable(view, phases, callback, needed, what):
    """Why a figure built from ``needed`` phases cannot be drawn, or None when it can."""
    if view.all_values.shape[0] == 0:
        return "no iterations were recorded"
    if needed & phases:
        return None
    if callback:
        return (
            f"the Diagnose callback does not see {what}: they exist only inside Keras' train step "
            "(give it a sample of the training data, Diagnose(sample=(x, y)), to record them on that sample)"
        )
    return f"no {what} were recorded"


class _Iterations:
    """Where each trace row lies on the iteration axis: rows start at ``start`` and span ``span`` iterations."""

    def __init__(self, store):
        rows = store.values.shape[0]
        self.start = store.row_iterations.astype(np.float64)
        self.span = store.spans.astype(np.float64)
        self.total = int(self.start[-1] + self.span[-1]) if rows else 0
        self.merged = bool((self.span > 1).any())

    @property
    def middle(self):
        return self.start + self.span / 2

    def columns(self, matrix, reduce):
        """``matrix`` [layers, rows] as at most MAX_COLUMNS columns of equal iteration width (NaN ignored)."""
        if self.total <= MAX_COLUMNS and not self.merged:
            return matrix
        count = min(MAX_COLUMNS, self.total)
        edges = np.linspace(0, self.total, count + 1)
        ends = self.start + self.span
        masked = np.ma.masked_invalid(matrix)
        columns = []
        for low, high in zip(edges[:-1], edges[1:]):  # the rows overlapping [low, high)
            first, last = np.searchsorted(ends, low, side="right"), np.searchsorted(self.start, high, side="left")
            columns.append(
                getattr(masked[:, first:last], reduce)(axis=1) if last > first else np.ma.masked_all(len(matrix))
            )
        return np.ma.stack(columns, axis=1).filled(np.nan)


# -- series ----------------------------------------------------------------------------------------


def _whole(view, series):
    """A series of the iterations before the first NaN/Inf, padded with NaN to the whole run."""
    full = np.full(view.all_values.shape[0], np.nan)
    if series is not None:
        full[: len(series)] = series
    return full


def _label(layer):
    return _plain(f"{layer['index']} {_clip(layer['name'], 32)}")


def _rows(view, series_of, layers=None):
    """``(labels, matrix [layers, iterations])`` of the layers for which ``series_of(index)`` is not None."""
    labels, rows = [], []
    for layer in view.layers if layers is None else layers:
        series = series_of(layer["index"])
        if series is not None:
            labels.append(_label(layer))
            rows.append(_whole(view, series))
    return labels, np.array(rows).reshape(len(rows), view.all_values.shape[0])


# -- figures: one function each ----------------------------------------------------------------------


def _curves(view, timeline, history, marks, callback):
    caption = "Loss per iteration (the mean of the loss site), and the values Keras logged at the end of each epoch."
    if callback:
        caption += f" Note: {CALLBACK_LOSS}."
    if view.all_values.shape[0] == 0:
        return _figure("curves", "Loss and metrics", caption, missing="no iterations were recorded")
    loss = _whole(view, view.series("loss", "mean"))
    ends = {}  # epoch -> iteration at its end
    for row, epoch in enumerate(view.trace.epochs):
        ends[int(epoch)] = timeline.start[row] + timeline.span[row]
    logged = {}
    for entry in history:
        if entry.get("epoch") in ends:
            for key, value in entry.items():
                if key != "epoch" and _number(value) is not None:
                    logged.setdefault(key, []).append((ends[entry["epoch"]], _number(value)))
    metrics = sorted({key.removeprefix("val_") for key in logged} - {"loss"})[:4]
    figure = Figure(figsize=(WIDTH, 2.6 + 2.0 * len(metrics)), layout="constrained")
    axes = figure.subplots(1 + len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    axes[0].plot(timeline.middle, loss, lw=0.8, color="#1f77b4", label="loss (per iteration)")
    chance = _chance(view)
    for axis, metric in zip(axes, ["loss", *metrics]):
        for key, marker in ((metric, "o"), (f"val_{metric}", "s")):
            if key in logged:
                x, y = zip(*logged[key])
                axis.plot(x, y, marker=marker, ms=4, lw=1.2, label=_plain(f"{key} (epoch end)"))
        axis.set_ylabel(_plain(metric))
        if chance is not None and "acc" in metric:
            axis.axhline(chance[0], color="#7f7f7f", ls=":", lw=1.2, label=_plain(f"chance ({chance[1]})"))
        _mark(axis, marks, legend=True)
        axis.legend(loc="best", fontsize=8)
        axis.grid(alpha=0.3)
    values = np.concatenate([loss[np.isfinite(loss)], [y for x, y in logged.get("loss", [])]])
    caption += _readable_loss(axes[0], timeline.middle, loss, values)
    if chance is not None and any("acc" in metric for metric in metrics):
        caption += f" Dotted grey: the accuracy of guessing ({chance[1]})."
    axes[-1].set_xlabel("iteration")
    axes[-1].set_xlim(0, timeline.total)
    return _figure("curves", "Loss and metrics", caption, svg=_svg(figure))


SPIKE = 10  # a loss above SPIKE times its 95th percentile is a spike that would flatten the rest of the curve


def _readable_loss(axis, x, loss, values):
    """Keep the loss curve readable when it spans orders of magnitude or spikes: a log axis for a positive loss,
    else an axis clipped above the spike (points beyond it drawn on the edge). Returns what the caption says."""
    if not values.size:
        return ""
    low, high, typical = float(values.min()), float(values.max()), float(np.percentile(values, 95))
    if low > 0 and high / low > 100:
        axis.set_yscale("log")
        axis.set_ylabel("loss (log scale)")
        return f" The loss axis is logarithmic: the loss spans {high / low:.3g}x, which a linear axis would flatten."
    if typical > 0 and high > SPIKE * typical:
        top = typical * 1.5
        bottom = min(low, 0.0)
        axis.set_ylim(bottom, top)
        above = np.isfinite(loss) & (loss > top)
        axis.plot(
            np.asarray(x)[above],
            np.full(int(above.sum()), top),
            ls="none",
            marker="^",
            ms=5,
            color=FAULT,
            clip_on=False,
            label=_plain(f"above the axis (up to {high:.3g})"),
        )
        axis.set_ylabel("loss (clipped axis)")
        axis.legend(loc="best", fontsize=8)
        return (
            f" The loss axis is clipped at {top:.3g}: {int(above.sum())} iteration(s) above it, up to {high:.3g},"
            " are drawn as triangles on its edge."
        )
    return ""


def _chance(view):
    """``(accuracy of guessing, how it is reckoned)`` from the last layer's units, or None when unknown."""
    if not view.layers:
        return None
    units = view.layers[-1].get("units")
    if not isinstance(units, int) or units < 1:
        return None
    if units == 1:
        return 0.5, "1/2, one sigmoid unit"
    return 1.0 / units, f"1/{units} classes"


ZOOM = 10  # iterations shown on each side of the first fault, at least


def _fault_zoom(view, timeline, marks):
    """The loss and the worst gradient norms around the first fault, enlarged (None without a fault, or when
    the whole run is short enough to read in the main figure)."""
    if not marks or view.all_values.shape[0] == 0 or timeline.total <= 4 * ZOOM:
        return None
    fault = marks[0][0]
    half = max(ZOOM, int(timeline.total) // 40)
    first, last = max(0, fault - half), min(int(timeline.total), fault + half + 1)
    inside = (timeline.middle >= first) & (timeline.middle <= last)
    if inside.sum() < 2:
        return None
    loss = _whole(view, view.series("loss", "mean"))
    figure = Figure(figsize=(WIDTH, 2.4), layout="constrained")
    axis = figure.subplots()
    axis.plot(
        timeline.middle[inside], loss[inside], lw=1.0, marker=".", ms=4, color="#1f77b4", label="loss (per iteration)"
    )
    finite = loss[inside][np.isfinite(loss[inside])]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
        axis.set_yscale("log")
        axis.set_ylabel("loss (log scale)")
    else:
        axis.set_ylabel("loss")
    _mark(axis, [m for m in marks if first <= m[0] <= last], legend=True)
    axis.set_xlim(first, last)
    axis.set_xlabel("iteration")
    axis.legend(loc="best", fontsize=8)
    axis.grid(alpha=0.3)
    caption = (
        f"Iterations {first} to {last}, around the first fault (iteration {fault}: {', '.join(marks[0][1])}), "
        "enlarged from the figure above."
    )
    return _figure("fault-zoom", "Around the first fault", caption, svg=_svg(figure))


def _gradient_norms(view, timeline, marks, phases, callback):
    title = "Weight-gradient norm per layer"
    caption = "L2 norm of each layer's weight gradients (log scale); black: exactly 0 (no gradient reaches the layer)."
    missing = _unavailable(view, phases, callback, {"gradient"}, "gradients")
    labels, matrix = _rows(view, lambda i: view.norm("gradient", i)) if not missing else ([], None)
    return _heatmap(
        "gradient-norm",
        title,
        caption,
        missing,
        labels,
        matrix,
        timeline,
        marks,
        log=True,
        cmap="viridis",
        unit="gradient norm",
    )


def _update_ratios(view, timeline, marks, phases, callback):
    title = "Update / weight norm ratio per layer"
    caption = "How much each step changes a layer's weights, relative to their size (log scale; about 1e-3 is typical); black: 0 (weights unchanged)."
    missing = _unavailable(view, phases, callback, {"update"}, "updates")
    labels, matrix = _rows(view, view.update_ratio) if not missing else ([], None)
    return _heatmap(
        "update-ratio",
        title,
        caption,
        missing,
        labels,
        matrix,
        timeline,
        marks,
        log=True,
        cmap="viridis",
        unit="update / weight",
    )


def _dead_units(view, timeline, marks, phases, callback):
    title = "Dead units (ReLU layers)"
    caption = "Fraction of each ReLU layer's outputs that are exactly 0."
    missing = _unavailable(view, phases, callback, {"forward"}, "layer outputs")
    relu = [layer for layer in view.layers if layer.get("activation") == "relu"]
    if not missing and not relu:
        missing = "the model has no ReLU layer"
    labels, matrix = _rows(view, lambda i: view.series("forward", "frac_zero", i), relu) if not missing else ([], None)
    return _heatmap(
        "dead-units", title, caption, missing, labels, matrix, timeline, marks, cmap="Purples", unit="fraction = 0"
    )


def _saturation(view, timeline, marks, phases, callback):
    title = "Saturated outputs (sigmoid, tanh, softmax layers)"
    caption = (
        "Fraction of each saturating layer's outputs within 1% of the activation's bounds, where its gradient vanishes."
    )
    missing = _unavailable(view, phases, callback, {"forward"}, "layer outputs")
    saturating = [layer for layer in view.layers if layer.get("activation") in SATURATION]
    if not missing and not saturating:
        missing = "the model has no saturating activation (sigmoid, tanh, softmax)"
    labels, matrix = (
        _rows(view, lambda i: view.series("forward", "frac_saturated", i), saturating) if not missing else ([], None)
    )
    return _heatmap(
        "saturation",
        title,
        caption,
        missing,
        labels,
        matrix,
        timeline,
        marks,
        cmap="Oranges",
        unit="fraction saturated",
    )


def _nan_inf(view, timeline, marks):
    title = "NaN / Inf per layer"
    caption = "Fraction of NaN or Inf values, the largest over all of a layer's records (outputs, gradients, weights, updates), every iteration."
    missing = "no iterations were recorded" if view.all_values.shape[0] == 0 else None
    labels, rows = [], []
    if not missing:
        bad = view.all_values[:, :, COLUMN["frac_nan"]] + view.all_values[:, :, COLUMN["frac_inf"]]
        groups = [(f"({phase})", view.rows(phase)) for phase in ("input", "target")]
        groups += [
            (_label(layer), [i for i, site in enumerate(view.trace.sites) if site["layer_index"] == layer["index"]])
            for layer in view.layers
        ]
        groups.append(("(loss)", view.rows("loss")))
        for label, sites in groups:
            if sites:
                labels.append(label)
                rows.append(bad[:, sites].max(axis=1))
    matrix = np.array(rows).reshape(len(rows), view.all_values.shape[0])
    if not missing and not matrix.any():
        caption += " None in this run."
    return _heatmap(
        "nan-inf",
        title,
        caption,
        missing,
        labels,
        matrix,
        timeline,
        marks,
        reduce="max",
        cmap="Reds",
        unit="fraction NaN/Inf",
    )


def _heatmap(
    name, title, caption, missing, labels, matrix, timeline, marks, log=False, reduce="mean", cmap="viridis", unit=""
):
    """Rows = layers, columns = iterations (binned to at most MAX_COLUMNS); blank cells have no value."""
    if missing or not labels:
        return _figure(name, title, caption, missing=missing or "no layer has this record")
    n = timeline.total
    data = timeline.columns(matrix, reduce)
    colours = colormaps[cmap].with_extremes(bad=BLANK, under="black")
    data, scale, extend = _log_scale(data) if log else (data, Normalize(0, 1), "neither")
    figure = Figure(figsize=(WIDTH, 1.3 + 0.24 * len(labels)), layout="constrained")
    axis = figure.add_subplot()
    image = axis.imshow(
        data, aspect="auto", interpolation="none", cmap=colours, norm=scale, extent=(0, n, len(labels) - 0.5, -0.5)
    )
    axis.set_yticks(range(len(labels)), labels)
    binned = data.shape[1] != matrix.shape[1] or timeline.merged
    axis.set_xlabel("iteration" + (f" (about {n / data.shape[1]:.3g} per column: their {reduce})" if binned else ""))
    _mark(axis, marks)
    figure.colorbar(image, ax=axis, extend=extend, label=unit, fraction=0.04, pad=0.01)
    return _figure(name, title, caption, svg=_svg(figure))


def _log_scale(data):
    """A log colour scale over the positive values; exact zeros get the "under" colour (black)."""
    finite = data[np.isfinite(data)]
    positive = finite[finite > 0]
    high = float(positive.max()) if positive.size else 1.0
    low = min(float(positive.min()) if positive.size else high, high / 10)
    zero = np.isfinite(data) & (data <= 0)
    data = np.where(zero, low / 10, data)  # NaN (no value) stays NaN: the "bad" colour
    return data, LogNorm(low, high), "min" if zero.any() else "neither"


# -- helpers ---------------------------------------------------------------------------------------


def _svg(figure):
    """The figure as SVG markup for inlining in HTML (no XML prolog, no date)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})  # under SVG_STYLE (see render)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _plain(text):
    """User text for a figure: ``$`` escaped so that matplotlib never parses it as mathtext."""
    return str(text).replace("$", r"\$")


def _clip(text, width):
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= width else text[: width - 1] + "…"


def _number(value):
    """A logged value as a finite float, or None (JSON writes NaN/Inf as text)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
