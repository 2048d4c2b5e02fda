"""Summary statistics of tensors, computed inside the compiled train step.

A probe never ships a full tensor to Python: every tensor it watches in one step is reduced to the
row of numbers named in ``STATS``, and all the rows of a step travel together as one small matrix.

Cost matters (this runs every step), so the common case is cheap: per tensor, a handful of plain
reductions (sum, sum of squares, min, max, zeros). Only when one of those sums is not finite, which is
when a tensor holds a NaN or Inf (or squares past float32), a ``tf.cond`` switches that tensor (or all the
small tensors of the step) to the careful path that counts NaN and Inf and computes the moments of the finite
values only, so one bad value does not hide the rest. Mean and standard deviation come from the sums
(``std = sqrt(E[x^2] - mean^2)``), accurate to about 1e-4 of |mean| in float32: enough to tell a
dead or constant layer (std ~ 0) from a live one.
"""

import collections
import functools
import importlib

from ..vocabulary import COLUMN, STATS, unmeasured  # a row's columns and what each phase measures, declared once


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


#: Tensors of at most this many elements (statically known) are reduced together, by shape; a larger one, or one
#: whose size is known only at run time, is reduced on its own. A layer's output has a static size too when Keras
#: gives the batch one (array data that the batch size divides): stacked, it is read again once every output of its
#: shape exists, which costs CPU time (the residual convnet of the benchmarks: 1.35x ``fit``'s per step, 1.21x each
#: reduced alone), but reduced alone it costs a longer first step (3.1 -> 5.0 s) for the same wall time per step.
GROUPED_AT_MOST = 1 << 16

#: Activations whose rows (one per example: the batch may be known only at run time) hold at most this many values,
#: a Dense layer's output or the gradient reaching it, are reduced together, by row width, ``NARROW_TOGETHER`` at a
#: time (``_narrow``): each is so small that its own reductions would cost more in ops than in reading it (a stack of
#: 80 Dense layers records 160 of them in every step). A row width shared by fewer than ``NARROW_AT_LEAST`` of them
#: (a small MLP: each layer's output and its gradient) is not worth the ops that bring them together: reduced apart.
NARROW_AT_MOST = 256
NARROW_TOGETHER = 16
NARROW_AT_LEAST = 4

#: What each tensor is first reduced to, a row of sums and extremes (its ``STATS`` row is then computed for all
#: tensors at once, ``_rows``): ``squares`` is the sum of (x / scale)^2, so that huge values do not overflow it.
_RAW = ("count", "finite", "sum", "squares", "min", "max", "zeros", "nans", "infs", "saturated", "scale")
_R = {name: i for i, name in enumerate(_RAW)}


#: Large tensors share a ``tf.cond`` by runs of this many, in the order they are recorded (a layer's output, or the
#: gradient reaching it, and those of the next layers): each ``tf.cond`` costs tracing and graph optimisation in
#: the first step, and keeps its tensors until the last of them exists (not the whole step's: see ``statistics``).
LARGE_PER_COND = 8


def statistics(tensors, saturation=None, activations=None, full=None, measures=None):
    """Reduce each tensor of ``tensors`` to a row of ``STATS``; returns a ``[len(tensors), len(STATS)]`` tensor.

    ``saturation`` gives, per tensor, the ``(low, high)`` saturated range, or None. ``measures`` (per tensor, the
    ``STATS`` measured, or None: all of them; ``vocabulary.measures_of``) leaves the others NaN, and a tensor costs only the
    reductions its own need: a gradient's norm is one pass over it, where its whole row is five.

    ``activations`` (per tensor, a bool) marks a layer's output or the gradient reaching it: a narrow one (``_narrow``)
    is reduced with the others of its row width. ``full`` (a boolean scalar tensor, or None: every row is full): the
    marked tensors then get their full row only when ``full`` holds (a large one in its run, small ones of one shape
    stacked, apart from the tensors measured in every step); otherwise they are only checked for NaN/Inf (one sum
    each), and a finite one gets an ``UNMEASURED`` row (count -1) that the host replaces with its last full row
    (``fill_unmeasured``), while the tensors of a run or of stacks that hold a NaN/Inf get their careful rows. Stacked,
    rather than in runs of their own, small ones take less memory (the residual convnet of the benchmarks at batch 8,
    ``OUTPUTS_EVERY`` = 8, a short run: 850 against 997 MB at its peak).

    Cost matters (this runs in every step, and its ops are traced and optimised with the step), so a tensor
    costs a handful of plain reductions, and everything after them is computed once for the whole step:

    - small tensors of one shape (weights, their gradients and updates, and layer outputs whose size is static:
      ``GROUPED_AT_MOST``) are stacked and reduced together, so the number of ops grows with the number of distinct
      shapes, not of tensors; one alone in its shape is not stacked but reduced with the others alone in theirs, as a
      run of large tensors is (``_fast_groups``); one ``tf.cond`` serves them all;
    - narrow activations are reduced together by row width (``NARROW_AT_MOST``);
    - a large tensor is reduced alone, and shares its ``tf.cond`` with the next few only
      (``LARGE_PER_COND``), so that it can be freed soon after it is reduced: one choice for the whole step would
      keep every activation gradient of the step alive until the last one exists (a MobileNet grew ten times in
      memory);
    - the careful path (``_careful``) is one compiled function that every ``tf.cond`` calls, traced once.
    """
    if not tensors:
        return tf.zeros([0, len(STATS)], tf.float32)
    n = len(tensors)
    measures = measures or [None] * n
    kinds = [_kind(m) for m in measures]
    saturation = [b if kind.saturated else NO_SATURATION for b, kind in zip(saturation or [None] * n, kinds)]
    activations = activations or [False] * n
    sampled = activations if full is not None else [False] * n  # measured in full only when ``full``
    groups, narrow, large = {}, {}, []
    for i, t in enumerate(tensors):
        width = _narrow_width(t) if activations[i] and not sampled[i] else None
        if width is not None:
            narrow.setdefault((width, t.dtype, kinds[i]), []).append(i)
        elif stackable(t):
            groups.setdefault((tuple(t.shape), t.dtype, sampled[i], kinds[i], _unstacked_from(t)), []).append(i)
        else:
            large.append(i)
    for key, members in list(narrow.items()):
        if len(members) < NARROW_AT_LEAST:  # too few to pay for the ops that bring them together
            large += narrow.pop(key)
    large.sort()
    order, raws = [], []
    for (width, _, kind), members in narrow.items():
        for start in range(0, len(members), NARROW_TOGETHER):
            run = members[start : start + NARROW_TOGETHER]
            block = tf.concat([tf.reshape(tf.cast(tensors[i], tf.float32), [-1, width]) for i in run], 0)
            rows = tf.stack([tf.shape(tensors[i])[0] for i in run])
            tensor = tf.repeat(tf.range(len(run)), rows)  # the tensor each row of ``block`` belongs to
            bounds = [saturation[i] for i in run]
            raws.append(_checked(_narrow(block, rows, tensor, bounds, kind), _carefully([block], [bounds], [tensor])))
            order += run
    runs = _runs([i for i in large if not sampled[i]], False) + _runs([i for i in large if sampled[i]], True)
    for run, sometimes in runs:
        blocks = [tf.reshape(tf.cast(tensors[i], tf.float32), [1, -1]) for i in run]
        bounds = [[saturation[i]] for i in run]

        def measured(blocks=blocks, bounds=bounds, run=run):
            return _checked(
                _fast_run(blocks, [saturation[i] for i in run], [kinds[i] for i in run]), _carefully(blocks, bounds)
            )

        raws.append(_sometimes(full, blocks, bounds, measured) if sometimes else measured())
        order += run
    for sometimes in (False, True):  # small tensors of one shape, stacked: those measured in full only sometimes apart
        members = [(m, kind) for (_, _, s, kind, _), m in groups.items() if s == sometimes]
        if not members:
            continue
        members.sort(key=lambda member: len(member[0]) == 1)  # the tensors alone in their group last
        blocks = [_stacked([tensors[i] for i in m]) for m, _ in members]
        bounds = [[saturation[i] for i in m] for m, _ in members]
        block_kinds = [kind for _, kind in members]

        def measured(blocks=blocks, bounds=bounds, block_kinds=block_kinds):
            return _checked(_fast_groups(blocks, bounds, block_kinds), _carefully(blocks, bounds))

        raws.append(_sometimes(full, blocks, bounds, measured) if sometimes else measured())
        order += [i for m, _ in members for i in m]
    raw = raws[0] if len(raws) == 1 else tf.concat(raws, 0)
    if order != list(range(n)):
        inverse = [0] * n
        for position, i in enumerate(order):
            inverse[i] = position
        raw = tf.gather(raw, inverse)
    rows = _rows(raw)
    left_out = unmeasured(measures)
    if any(map(any, left_out)):
        rows = tf.where(tf.constant(left_out), float("nan"), rows)
    return rows


#: The reductions a tensor's row needs beyond its sum of squares (its norm, and the test for NaN/Inf).
_Kind = collections.namedtuple("_Kind", "sums extremes zeros saturated")


def _kind(measures):
    """The ``_Kind`` of a tensor that measures ``measures`` (None: every statistic)."""
    wanted = set(STATS if measures is None else measures)
    return _Kind(
        sums=bool(wanted & {"mean", "std"}),
        extremes=bool(wanted & {"min", "max", "abs_max"}),
        zeros="frac_zero" in wanted,
        saturated="frac_saturated" in wanted,
    )


def _unstacked_from(tensor):
    """The name of the op that ``tensor`` was unstacked from (``tf.unstack``: the updates of one weight shape,
    subtracted at once by ``probe.differences``), or None: such tensors are grouped apart, so that ``_stacked`` can
    take them back whole."""
    op = getattr(tensor, "op", None)  # an eager tensor has none
    return op.name if op is not None and op.type == "Unpack" else None


def _stacked(group):
    """The small tensors ``group``, of one shape, as one ``[len(group), size]`` float32 block: the tensor they were
    unstacked from when they are all its slices, in order (no copy; its ``tf.unstack`` is then left unused), else
    their stack."""
    op = getattr(group[0], "op", None)
    whole = (
        op is not None
        and op.type == "Unpack"
        and len(op.outputs) == len(group)
        and all(t.op is op and t.value_index == j for j, t in enumerate(group))
    )
    stacked = op.inputs[0] if whole else group[0] if len(group) == 1 else tf.stack(group)  # a reshape stacks one
    return tf.reshape(tf.cast(stacked, tf.float32), [len(group), -1])


def stackable(tensor):
    """Whether ``tensor`` is small and of a static shape (``GROUPED_AT_MOST``): reduced, or subtracted
    (``probe.differences``), stacked with the others of its shape."""
    return tensor.shape.is_fully_defined() and tensor.shape.num_elements() <= GROUPED_AT_MOST


def _sometimes(full, blocks, bounds, measured):
    """The raw rows of ``blocks``: ``measured()`` when ``full`` holds, else their rows from one sum each
    (``_sum_rows``: ``UNMEASURED``, unless a NaN/Inf sends them to the careful path)."""
    return functional_cond(
        full,
        measured,
        lambda: _checked(tf.concat([_sum_rows(block) for block in blocks], 0), _carefully(blocks, bounds)),
    )


def _runs(indices, sometimes):
    """``indices`` cut into runs of ``LARGE_PER_COND``, each with ``sometimes``."""
    return [(indices[start : start + LARGE_PER_COND], sometimes) for start in range(0, len(indices), LARGE_PER_COND)]


def _checked(fast, careful):
    """Raw rows: ``fast`` (rows from plain reductions) when every value is finite, else ``careful()`` (``_carefully``)."""
    return functional_cond(tf.reduce_all(tf.math.is_finite(fast[:, _R["squares"]])), lambda: fast, careful)


def functional_cond(pred, true_fn, false_fn):
    """``tf.cond``, kept as one ``If`` op that calls the branch taken as a function, where TensorFlow would lower it to
    ``Switch`` and ``Merge`` ops in the step's graph: a graph with any such op runs every one of its ops under the
    executor's general propagator (frames, dead tensors), one without under a simpler and faster one, as ``fit``'s
    step does. A stack of 80 Dense layers, per step, in one process, 30 alternating fits of 100 steps each: 7.5 ms
    against 8.3 ms lowered, 5.9 ms with ``fit`` (wall time; CPU time 10.0 against 10.8 and 7.1 ms). The ``Diagnose``
    callback's cond in Keras's train function (whether this step runs its side pass) is kept so too: the MLP of the
    benchmarks, one process, 2 x 12 alternating fits of 285 steps, 2.50 ms per step against 2.63-2.75 ms lowered,
    2.12-2.16 ms with ``fit``."""
    rows = tf.cond(pred, true_fn, false_fn)
    keep = None if tf.executing_eagerly() else _keep_functional()
    if keep is not None:
        op = rows.op
        while op.type == "Identity":  # tf.cond returns an identity of the If op's output
            op = op.inputs[0].op
        if op.type in ("If", "StatelessIf"):
            keep(op, False)
    return rows


@functools.cache
def _keep_functional():
    """TensorFlow's setter of the attribute that keeps an ``If`` op from being lowered, or None where it moved (the
    conds are then lowered: slower, not wrong)."""
    try:
        from tensorflow.python.ops.control_flow_util_v2 import maybe_set_lowering_attr
    except ImportError:
        return None
    return maybe_set_lowering_attr


def _carefully(blocks, bounds, tensors=None):
    """The careful path's raw rows of ``blocks`` (``bounds``: the saturated range of each of their tensors), built only
    in the branch that takes it: one row per row of each block, or, with ``tensors`` (per block: the tensor each of its
    rows belongs to), one per tensor. Only the blocks themselves enter the branch, so that a step where every value
    is finite pays nothing per tensor for a path it does not take."""
    tensors = tensors or [None] * len(blocks)

    def careful():
        return tf.concat(
            [
                _careful()(block, tf.range(block.shape[0]) if rows is None else rows, *_bounds(block_bounds))
                for block, block_bounds, rows in zip(blocks, bounds, tensors)
            ],
            0,
        )

    return careful


def _bounds(bounds):
    """The saturated range of each row, as two ``[rows]`` constants (an infinite bound where there is none)."""
    low = tf.constant([b[0] if b else float("-inf") for b in bounds], tf.float32)
    high = tf.constant([b[1] if b else float("inf") for b in bounds], tf.float32)
    return low, high


def _fast(block, bounds, kind):
    """Every value finite: the raw row of each row of ``block`` from plain sums, minimum, maximum and counts (those
    that ``kind`` needs)."""
    count = tf.constant([float(block.shape[1])] * len(bounds))  # stacked tensors have a static shape
    saturated = None
    if any(b is not None for b in bounds):
        low, high = _bounds(bounds)
        saturated = _count((block <= low[:, None]) | (block >= high[:, None]))
    return _finite_rows(
        count,
        tf.reduce_sum(tf.square(block), axis=1),
        tf.reduce_sum(block, axis=1) if kind.sums else None,
        tf.reduce_min(block, axis=1) if kind.extremes else None,
        tf.reduce_max(block, axis=1) if kind.extremes else None,
        tf.reduce_sum(tf.abs(tf.sign(block)), axis=1) if kind.zeros else None,
        saturated,
    )


def _fast_groups(blocks, bounds, kinds):
    """``_fast`` for each block of stacked tensors, those of one tensor last (``statistics``), which are reduced together
    as a run is (``_fast_run``): each costs fewer ops so (the ``Diagnose`` callback's 13 tensors are 13 shapes)."""
    alone = sum(len(b) == 1 for b in bounds)
    several = len(blocks) - alone
    raws = [_fast(block, b, kind) for block, b, kind in zip(blocks[:several], bounds[:several], kinds[:several])]
    if alone:
        raws.append(_fast_run(blocks[several:], [b[0] for b in bounds[several:]], kinds[several:]))
    return raws[0] if len(raws) == 1 else tf.concat(raws, 0)


def _finite_rows(count, squares, total=None, minimum=None, maximum=None, nonzero=None, saturated=None):
    """The raw rows of tensors whose values are all finite (``_fast``, ``_narrow``, ``_fast_run``), from their counts
    and reductions (per tensor: ``nonzero`` values, ``saturated`` ones, none without a saturated range). A reduction
    not made (None) leaves its column 0; ``statistics`` makes what comes of it NaN."""
    zero = tf.zeros_like(count)

    def made(column):
        return zero if column is None else column

    columns = {
        "count": count,
        "finite": count,
        "sum": made(total),
        "squares": squares,
        "min": made(minimum),
        "max": made(maximum),
        "zeros": zero if nonzero is None else count - nonzero,
        "nans": zero,
        "infs": zero,
        "saturated": made(saturated),
        "scale": tf.ones_like(count),
    }
    return tf.stack([columns[name] for name in _RAW], axis=1)


def _narrow_width(tensor):
    """The number of values in each row (example) of ``tensor`` when it is statically known and at most
    ``NARROW_AT_MOST``, else None."""
    shape = tensor.shape
    if shape.rank is None or shape.rank < 1 or not shape[1:].is_fully_defined():
        return None
    width = shape[1:].num_elements()
    return width if 0 < width <= NARROW_AT_MOST else None


def _narrow(block, rows, tensor, bounds, kind):
    """``_fast`` for tensors of one row width and any number of rows each, concatenated (``block``: ``[rows, width]``;
    ``rows``: each tensor's number of rows; ``tensor``: the tensor each row belongs to): reduced along each row, then
    the rows' partial results by tensor (one segment per tensor, as long as its batch): a handful of ops for all of
    them instead of a handful each."""
    k = len(bounds)
    count = tf.cast(rows * block.shape[1], tf.float32)

    def per_tensor(segments, partial):  # the rows' partial results, reduced by tensor
        return segments(partial, tensor, k)

    saturated = None
    if any(b is not None for b in bounds):
        low, high = (tf.gather(edge, tensor)[:, None] for edge in _bounds(bounds))
        saturated = per_tensor(tf.math.unsorted_segment_sum, _count((block <= low) | (block >= high)))

    def reduced(segments, along_rows, needed=True):  # per tensor, or None where ``kind`` does not need it
        return per_tensor(segments, along_rows()) if needed else None

    return _finite_rows(
        count,
        reduced(tf.math.unsorted_segment_sum, lambda: tf.reduce_sum(tf.square(block), axis=1)),
        reduced(tf.math.unsorted_segment_sum, lambda: tf.reduce_sum(block, axis=1), kind.sums),
        reduced(tf.math.unsorted_segment_min, lambda: tf.reduce_min(block, axis=1), kind.extremes),
        reduced(tf.math.unsorted_segment_max, lambda: tf.reduce_max(block, axis=1), kind.extremes),
        reduced(tf.math.unsorted_segment_sum, lambda: tf.reduce_sum(tf.abs(tf.sign(block)), axis=1), kind.zeros),
        saturated,
    )


def _fast_run(blocks, bounds, kinds):
    """``_fast`` for a run of large tensors, or of small ones each alone in its shape (``blocks``: their values,
    ``[1, size]`` each; ``bounds``: the saturated range of each, or None; ``kinds``: the reductions of each):
    ``[len(blocks), len(_RAW)]`` raw rows. Each tensor is reduced whole by up to six ops (sum, squares, minimum,
    maximum, and the zeros from its signs), everything else is computed once for the run (a count known statically is
    a constant): these ops are traced and optimised with the step, whose first step they lengthen. MobileNetV2 at
    96x96 (274 such tensors): first step 12.4 and 12.6 s, against 14.4 and 15.9 s with a row of some 14 ops for each
    tensor (one process each, alternating)."""
    sizes = [b.shape.num_elements() for b in blocks]
    if None in sizes:
        count = tf.cast(tf.stack([tf.size(b) for b in blocks]), tf.float32)
    else:
        count = tf.constant(sizes, tf.float32)
    saturated = None
    if any(bounds):
        saturated = tf.concat(
            [_count((b <= bound[0]) | (b >= bound[1])) if bound else tf.zeros([1]) for b, bound in zip(blocks, bounds)],
            0,
        )

    def each(reduce, needed):  # a reduction of each tensor that needs it (0 for the others), or None for none
        if not any(needed):
            return None
        return tf.stack([reduce(b) if need else tf.constant(0.0) for b, need in zip(blocks, needed)])

    return _finite_rows(
        count,
        2.0 * tf.stack([tf.nn.l2_loss(b) for b in blocks]),
        each(tf.reduce_sum, [kind.sums for kind in kinds]),
        each(tf.reduce_min, [kind.extremes for kind in kinds]),
        each(tf.reduce_max, [kind.extremes for kind in kinds]),
        # 1 per value not 0: no boolean tensor, no cast
        each(lambda b: 2.0 * tf.nn.l2_loss(tf.sign(b)), [kind.zeros for kind in kinds]),
        saturated,
    )


#: The count of a row that was not measured in this step (see ``statistics``, ``full``).
UNMEASURED = -1.0


def _sum_rows(block):
    """The raw rows of a block's tensors (one per row) in a step that only checks them: each one's sum, in the
    ``squares`` column too (that is the column ``_checked`` tests: a NaN or Inf makes the sum one), and
    ``UNMEASURED`` as its count."""
    total = tf.reduce_sum(block, axis=1)
    zero = tf.zeros_like(total)
    columns = {name: zero for name in _RAW}
    columns.update(count=zero + UNMEASURED, finite=zero + 1.0, sum=total, squares=total, scale=zero + 1.0)
    return tf.stack([columns[name] for name in _RAW], axis=1)


def fill_unmeasured(block, last):
    """Replace, in ``block`` (``[steps, sites, STATS]`` on the host), each ``UNMEASURED`` row by the last measured row
    of its site (``last``: ``[sites, STATS]``, or None); returns the last measured rows after ``block``."""
    count = COLUMN["count"]
    for step in block:
        unmeasured = step[:, count] == UNMEASURED
        if last is not None and unmeasured.any():
            step[unmeasured] = last[unmeasured]
        last = step.copy()  # filled in: its unmeasured rows are now the last measured ones
    return last


def _count(mask):
    return tf.reduce_sum(tf.cast(mask, tf.float32), axis=1)


def _careful_rows(block, tensor, low, high):
    """Moments of the finite values only, NaN and Inf counted; large values scaled before squaring: a raw row per
    tensor, from the rows of ``block`` (``tensor``: the tensor each row belongs to; ``low``, ``high``: per tensor).

    This path runs only in steps that hold a NaN or Inf. Each block is reduced along its rows, then by tensor,
    with nothing of the size of a tensor that does not depend on its values: per-element index or bound tensors
    (a segmented reduction) are constant when the shapes are, and Grappler folded them into constants as large
    as every probed tensor together, kept in the compiled step (4 GB for a MobileNetV2 at 96x96).
    """
    k = tf.size(low)

    def per_tensor(segments, partial):  # the rows' partial results, reduced by tensor
        return segments(partial, tensor, k)

    def per_row(edge):  # a tensor's bound, for each of its rows
        return tf.gather(edge, tensor)[:, None]

    def counted(mask):
        return per_tensor(tf.math.unsorted_segment_sum, _count(mask))

    finite = tf.math.is_finite(block)
    minimum = per_tensor(tf.math.unsorted_segment_min, tf.reduce_min(tf.where(finite, block, float("inf")), axis=1))
    maximum = per_tensor(tf.math.unsorted_segment_max, tf.reduce_max(tf.where(finite, block, float("-inf")), axis=1))
    finite_count = counted(finite)
    any_finite = finite_count > 0
    scale = tf.maximum(tf.abs(minimum), tf.abs(maximum))
    scale = tf.where(any_finite & (scale > 0), scale, 1.0)
    values = tf.where(finite, block, 0.0)
    nans, infs = counted(tf.math.is_nan(block)), counted(tf.math.is_inf(block))
    columns = {
        "count": finite_count + nans + infs,
        "finite": finite_count,
        "sum": per_tensor(tf.math.unsorted_segment_sum, tf.reduce_sum(values, axis=1)),
        "squares": per_tensor(tf.math.unsorted_segment_sum, tf.reduce_sum(tf.square(values / per_row(scale)), axis=1)),
        "min": tf.where(any_finite, minimum, float("nan")),
        "max": tf.where(any_finite, maximum, float("nan")),
        "zeros": counted(tf.equal(block, 0.0)),
        "nans": nans,
        "infs": infs,
        "saturated": counted(finite & ((block <= per_row(low)) | (block >= per_row(high)))),
        "scale": scale,
    }
    return tf.stack([columns[name] for name in _RAW], axis=1)


_careful_function = None


def _careful():
    """``_careful_rows`` compiled once for blocks of any shape, and called (not inlined) from every ``tf.cond``: the
    careful path adds one op to a step's graph per cond instead of some forty, which the step would trace and
    Grappler would optimise at every first step."""
    global _careful_function
    if _careful_function is None:
        _careful_function = tf.function(
            _careful_rows,
            input_signature=[tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.int32)]
            + [tf.TensorSpec([None], tf.float32)] * 2,
            autograph=False,
            experimental_attributes={"_noinline": True},
        )
    return _careful_function


def _rows(raw):
    """The ``STATS`` rows of ``[tensors, len(_RAW)]`` raw rows."""
    column = dict(zip(_RAW, tf.unstack(raw, num=len(_RAW), axis=1)))  # one op, where slicing takes one per column
    count, scale, squares = column["count"], column["scale"], column["squares"]
    n = tf.maximum(column["finite"], 1.0)
    mean = column["sum"] / n
    spread = tf.maximum(squares / n - tf.square(mean / scale), 0.0)
    every = tf.maximum(count, 1.0)
    minimum, maximum = column["min"], column["max"]
    columns = {
        "count": count,
        "mean": mean,
        "std": scale * tf.sqrt(spread),
        "min": minimum,
        "max": maximum,
        "abs_max": tf.maximum(tf.abs(minimum), tf.abs(maximum)),
        "norm": scale * tf.sqrt(squares),
        "frac_zero": column["zeros"] / every,
        "frac_nan": column["nans"] / every,
        "frac_inf": column["infs"] / every,
        "frac_saturated": column["saturated"] / every,
    }
    return tf.stack([columns[name] for name in STATS], axis=1)


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
