"""Summary statistics of tensors, computed inside the compiled train step.

A probe never ships a full tensor to Python: every tensor it watches in one step is reduced to the
row of numbers named in ``STATS``, and all the rows of a step travel together as one small matrix.

Cost matters (this runs every step), so the common case is cheap: per tensor, a handful of plain
reductions (sum, sum of squares, min, max, zeros). Only when one of those sums is not finite, which is
when a tensor holds a NaN or Inf (or squares past float32), a ``tf.cond`` switches that tensor (or that
group of small tensors) to the careful path that counts NaN and Inf and computes the moments of the finite values only,
so one bad value does not hide the rest. Mean and standard deviation come from the sums
(``std = sqrt(E[x^2] - mean^2)``), accurate to about 1e-4 of |mean| in float32: enough to tell a
dead or constant layer (std ~ 0) from a live one.
"""

import importlib

from ..vocabulary import COLUMN, STATS  # the columns of a statistics row, declared once


class _TensorFlow:
    """``tensorflow``, imported on first use: the analysis and ``dnn-instrument report`` read ``STATS``
    and ``COLUMN`` without paying for TensorFlow's import."""

    def __getattr__(self, name):
        return getattr(importlib.import_module("tensorflow"), name)


tf = _TensorFlow()


#: Saturated ranges (low, high) by activation: an element is saturated when it is <= low or >= high.
#: sigmoid/softmax saturate towards 0 and 1, tanh towards -1 and 1; 1% from the bound is where the
#: derivative has fallen below about 1% of its peak (sigmoid'(x) = y(1-y) ~ 0.0099 at y = 0.99).
SATURATION = {
    "sigmoid": (0.01, 0.99),
    "hard_sigmoid": (0.01, 0.99),
    "softmax": (0.01, 0.99),
    "tanh": (-0.99, 0.99),
}
NO_SATURATION = None


#: Tensors of at most this many elements (statically known) are reduced together, by shape; a larger one, or
#: one whose size is known only at run time (a layer's output: the batch dimension), is reduced on its own.
GROUPED_AT_MOST = 1 << 16


def statistics(tensors, saturation=None, same_shape_as=None):
    """Reduce each tensor of ``tensors`` to a row of ``STATS``; returns a ``[len(tensors), len(STATS)]`` tensor.

    ``saturation`` gives, per tensor, the ``(low, high)`` saturated range, or None. ``same_shape_as[i] = j``
    (j < i) says tensor i always has the shape of tensor j (a gradient and its tensor), even where the
    static shape is not fully known.

    Small tensors of one shape (weights, their gradients and updates) are stacked and reduced together, so
    the number of ops grows with the number of distinct shapes, not of tensors. A large tensor (a layer's
    output, the gradient reaching it) is reduced alone, with its own choice of path, so that it can be freed
    as soon as it is reduced: one choice for the whole step would keep every activation and every
    activation gradient of the step alive until the last one exists (a MobileNet grew ten times in memory).
    """
    if not tensors:
        return tf.zeros([0, len(STATS)], tf.float32)
    n = len(tensors)
    saturation = saturation or [NO_SATURATION] * n
    same_shape_as = same_shape_as or [None] * n
    groups, key_of = {}, []
    for i, t in enumerate(tensors):
        if same_shape_as[i] is not None:
            key = key_of[same_shape_as[i]]
        elif t.shape.is_fully_defined() and t.shape.num_elements() <= GROUPED_AT_MOST:
            key = ("shape", tuple(t.shape), t.dtype)
        else:
            key = ("tensor", i)
        key_of.append(key)
        groups.setdefault(key, []).append(i)
    order, parts, grouped, grouped_bounds = [], [], [], []
    for key, members in groups.items():
        block = tf.reshape(tf.stack([tf.cast(tensors[i], tf.float32) for i in members]), [len(members), -1])
        bounds = [saturation[i] for i in members]
        if key[0] == "shape":
            grouped.append(block)
            grouped_bounds.append(bounds)
        else:
            parts.append(_reduce([block], [bounds]))
            order += members
    if grouped:
        parts.append(_reduce(grouped, grouped_bounds))
        order += [i for key, members in groups.items() if key[0] == "shape" for i in members]
    rows = parts[0] if len(parts) == 1 else tf.concat(parts, 0)
    inverse = [0] * n
    for position, i in enumerate(order):
        inverse[i] = position
    return tf.gather(rows, inverse)


def _reduce(blocks, bounds):
    """The rows of ``blocks``: the fast path when every value is finite, else the careful one."""
    squares = tf.concat([tf.reduce_sum(tf.square(b), axis=1) for b in blocks], 0)
    return tf.cond(
        tf.reduce_all(tf.math.is_finite(squares)),
        lambda: _fast(blocks, bounds, squares),
        lambda: _careful(blocks, bounds),
    )


def _saturated(block, bounds):
    """Per row of ``block``, how many elements lie in that row's saturated range (0 where it has none)."""
    if all(b is None for b in bounds):
        return tf.zeros([len(bounds)], tf.float32)
    low = tf.constant([[b[0] if b else float("-inf")] for b in bounds], tf.float32)
    high = tf.constant([[b[1] if b else float("inf")] for b in bounds], tf.float32)
    return tf.reduce_sum(tf.cast((block <= low) | (block >= high), tf.float32), axis=1)


def _rows(count, finite_count, total, squares, minimum, maximum, zeros, nans, infs, saturated, scale=1.0):
    """Assemble the STATS columns. ``squares`` is the sum of (x / scale)^2, so huge values do not overflow it."""
    n = tf.maximum(finite_count, 1.0)
    mean = total / n
    spread = tf.maximum(squares / n - tf.square(mean / scale), 0.0)
    every = tf.maximum(count, 1.0)
    columns = {
        "count": count,
        "mean": mean,
        "std": scale * tf.sqrt(spread),
        "min": minimum,
        "max": maximum,
        "abs_max": tf.maximum(tf.abs(minimum), tf.abs(maximum)),
        "norm": scale * tf.sqrt(squares),
        "frac_zero": zeros / every,
        "frac_nan": nans / every,
        "frac_inf": infs / every,
        "frac_saturated": saturated / every,
    }
    return tf.stack([columns[name] for name in STATS], axis=1)


def _fast(blocks, bounds, squares):
    """Every tensor finite: sums, minimum, maximum and zero counts, one stacked reduction per shape group."""
    count, sums, zeros, minimum, maximum, saturated = [], [], [], [], [], []
    for block, block_bounds in zip(blocks, bounds):
        totals = tf.reduce_sum(tf.stack([block, tf.cast(tf.equal(block, 0.0), tf.float32)], axis=1), axis=2)
        sums.append(totals[:, 0])
        zeros.append(totals[:, 1])
        minimum.append(tf.reduce_min(block, axis=1))
        maximum.append(tf.reduce_max(block, axis=1))
        width = block.shape[1] if block.shape[1] is not None else tf.shape(block)[1]
        count.append(tf.fill([len(block_bounds)], tf.cast(width, tf.float32)))
        saturated.append(_saturated(block, block_bounds))
    count = tf.concat(count, 0)
    nothing = tf.zeros_like(count)
    return _rows(
        count,
        count,
        tf.concat(sums, 0),
        squares,
        tf.concat(minimum, 0),
        tf.concat(maximum, 0),
        tf.concat(zeros, 0),
        nothing,
        nothing,
        tf.concat(saturated, 0),
    )


def _careful(blocks, bounds):
    """Moments of the finite values only, NaN and Inf counted; large values scaled before squaring.

    This path runs only in steps that hold a NaN or Inf. Each block is reduced along its rows, with nothing
    of the size of a tensor that does not depend on its values: per-element index or bound tensors (a
    segmented reduction) are constant when the shapes are, and Grappler folded them into constants as large
    as every probed tensor together, kept in the compiled step (4 GB for a MobileNetV2 at 96x96).
    """
    parts = [_careful_block(block, block_bounds) for block, block_bounds in zip(blocks, bounds)]
    return parts[0] if len(parts) == 1 else tf.concat(parts, 0)


def _careful_block(block, bounds):
    def total(values):
        return tf.reduce_sum(tf.cast(values, tf.float32), axis=1)

    finite = tf.math.is_finite(block)
    values = tf.where(finite, block, 0.0)
    minimum = tf.reduce_min(tf.where(finite, block, float("inf")), axis=1)
    maximum = tf.reduce_max(tf.where(finite, block, float("-inf")), axis=1)
    finite_count = total(finite)
    any_finite = finite_count > 0
    scale = tf.maximum(tf.abs(minimum), tf.abs(maximum))
    scale = tf.where(any_finite & (scale > 0), scale, 1.0)
    width = block.shape[1] if block.shape[1] is not None else tf.shape(block)[1]
    if all(b is None for b in bounds):
        saturated = tf.zeros([len(bounds)], tf.float32)
    else:
        low = tf.constant([[b[0] if b else float("-inf")] for b in bounds], tf.float32)
        high = tf.constant([[b[1] if b else float("inf")] for b in bounds], tf.float32)
        saturated = total(finite & ((block <= low) | (block >= high)))
    return _rows(
        tf.fill([len(bounds)], tf.cast(width, tf.float32)),
        finite_count,
        total(values),
        total(tf.square(values / scale[:, None])),
        tf.where(any_finite, minimum, float("nan")),
        tf.where(any_finite, maximum, float("nan")),
        total(tf.equal(block, 0.0)),
        total(tf.math.is_nan(block)),
        total(tf.math.is_inf(block)),
        saturated,
        scale=scale,
    )


def combine(matrices, mirrored_rows=None):
    """One ``[sites, STATS]`` matrix from the ``[replicas, sites, STATS]`` matrices of a distributed step.

    Each row becomes that of all the replicas' elements together: counts, zeros, NaN, Inf and saturated
    elements add, minimum and maximum reduce, mean, standard deviation and norm come from the added sums
    (scaled by the largest norm, so the squares do not overflow). ``mirrored_rows[i]`` true: row i is the same
    tensor on every replica (a mirrored weight, its update), and is the first replica's row.
    """
    column = {name: matrices[:, :, i] for i, name in enumerate(STATS)}
    count = column["count"]
    nans, infs = tf.round(column["frac_nan"] * count), tf.round(column["frac_inf"] * count)  # element counts
    finite = count - nans - infs
    any_finite = finite > 0
    total_count = tf.reduce_sum(count, 0)
    total_finite = tf.reduce_sum(finite, 0)
    every, n = tf.maximum(total_count, 1.0), tf.maximum(total_finite, 1.0)
    mean = tf.reduce_sum(tf.where(any_finite, column["mean"] * finite, 0.0), 0) / n
    norms = tf.where(any_finite, column["norm"], 0.0)
    scale = tf.reduce_max(norms, 0)
    scale = tf.where(scale > 0, scale, 1.0)
    squares = tf.reduce_sum(tf.square(norms / scale), 0)
    minimum = tf.reduce_min(tf.where(any_finite, column["min"], float("inf")), 0)
    maximum = tf.reduce_max(tf.where(any_finite, column["max"], float("-inf")), 0)
    none_finite = total_finite <= 0
    minimum = tf.where(none_finite, float("nan"), minimum)
    maximum = tf.where(none_finite, float("nan"), maximum)

    def fraction(name):
        return tf.reduce_sum(column[name] * count, 0) / every

    combined = {
        "count": total_count,
        "mean": mean,
        "std": scale * tf.sqrt(tf.maximum(squares / n - tf.square(mean / scale), 0.0)),
        "min": minimum,
        "max": maximum,
        "abs_max": tf.maximum(tf.abs(minimum), tf.abs(maximum)),
        "norm": scale * tf.sqrt(squares),
        "frac_zero": fraction("frac_zero"),
        "frac_nan": tf.reduce_sum(nans, 0) / every,
        "frac_inf": tf.reduce_sum(infs, 0) / every,
        "frac_saturated": fraction("frac_saturated"),
    }
    rows = tf.stack([combined[name] for name in STATS], axis=1)
    if mirrored_rows is not None and any(mirrored_rows):
        rows = tf.where(tf.constant(mirrored_rows)[:, None], matrices[0], rows)
    return rows


def first_faults(matrices):
    """Per replica, the first site (row) that held a NaN or Inf in this step, or the number of sites if none."""
    faulty = (matrices[:, :, COLUMN["frac_nan"]] > 0) | (matrices[:, :, COLUMN["frac_inf"]] > 0)
    sites = tf.shape(matrices)[1]
    positions = tf.where(faulty, tf.range(sites)[None, :], sites)
    return tf.reduce_min(positions, axis=1)
