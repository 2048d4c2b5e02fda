"""Summary statistics of tensors, computed inside the compiled train step.

A probe never ships a full tensor to Python. Every tensor it watches in one step is reduced to the
row of numbers named in ``STATS``; all the rows of one step are computed together, with a constant
number of TensorFlow ops whatever the number of layers (the tensors are flattened into one vector
and reduced by segment), so that probing a deep model costs about as much graph overhead as probing
a shallow one.

NaN and Inf are counted, then left out of the moments, so one bad value does not hide the rest.
"""

import tensorflow as tf

#: The columns of a statistics row, in order.
STATS = (
    "count",  # number of elements
    "mean",  # mean of the finite elements
    "std",  # standard deviation of the finite elements
    "min",  # smallest finite element
    "max",  # largest finite element
    "abs_max",  # largest |finite element|
    "norm",  # L2 norm of the finite elements
    "frac_zero",  # fraction of elements exactly 0 (dead ReLU units, zero gradients)
    "frac_nan",
    "frac_inf",
    "frac_saturated",  # fraction in the saturated range of the layer's activation (see SATURATION)
)
COLUMN = {name: i for i, name in enumerate(STATS)}

#: Saturated ranges (low, high) by activation: an element is saturated when it is <= low or >= high.
#: sigmoid/softmax saturate towards 0 and 1, tanh towards -1 and 1; 1% from the bound is where the
#: derivative has fallen below about 1% of its peak (sigmoid'(x) = y(1-y) ~ 0.0099 at y = 0.99).
SATURATION = {
    "sigmoid": (0.01, 0.99),
    "hard_sigmoid": (0.01, 0.99),
    "softmax": (0.01, 0.99),
    "tanh": (-0.99, 0.99),
}
NO_SATURATION = (float("-inf"), float("inf"))


def statistics(tensors, saturation=None):
    """Reduce each tensor of ``tensors`` to a row of ``STATS``; returns a ``[len(tensors), len(STATS)]`` tensor.

    ``saturation`` gives, per tensor, the ``(low, high)`` saturated range (``NO_SATURATION`` for none).
    """
    n = len(tensors)
    if n == 0:
        return tf.zeros([0, len(STATS)], tf.float32)
    saturation = saturation or [NO_SATURATION] * n
    flat = [tf.reshape(tf.cast(t, tf.float32), [-1]) for t in tensors]
    sizes = tf.stack([tf.size(f) for f in flat])
    x = tf.concat(flat, axis=0)
    ids = tf.repeat(tf.range(n), sizes)

    def total(values):
        return tf.math.unsorted_segment_sum(values, ids, n)

    def fraction(mask):
        return total(tf.cast(mask, tf.float32)) / tf.maximum(count, 1.0)

    count = tf.cast(sizes, tf.float32)
    finite = tf.math.is_finite(x)
    finite_count = tf.maximum(total(tf.cast(finite, tf.float32)), 1.0)
    xf = tf.where(finite, x, 0.0)
    mean = total(xf) / finite_count
    centred = tf.where(finite, xf - tf.gather(mean, ids), 0.0)
    std = tf.sqrt(total(tf.square(centred)) / finite_count)
    minimum = tf.math.unsorted_segment_min(tf.where(finite, x, float("inf")), ids, n)
    maximum = tf.math.unsorted_segment_max(tf.where(finite, x, float("-inf")), ids, n)
    abs_max = tf.maximum(tf.abs(minimum), tf.abs(maximum))
    # Scale by abs_max before squaring so that the norm of large (exploding) values does not overflow.
    scale = tf.where(abs_max > 0, abs_max, 1.0)
    norm = scale * tf.sqrt(total(tf.square(xf / tf.gather(scale, ids))))
    low = tf.gather(tf.constant([s[0] for s in saturation], tf.float32), ids)
    high = tf.gather(tf.constant([s[1] for s in saturation], tf.float32), ids)
    saturated = finite & ((x <= low) | (x >= high))
    columns = {
        "count": count,
        "mean": mean,
        "std": std,
        "min": minimum,
        "max": maximum,
        "abs_max": abs_max,
        "norm": norm,
        "frac_zero": fraction(tf.equal(x, 0.0)),
        "frac_nan": fraction(tf.math.is_nan(x)),
        "frac_inf": fraction(tf.math.is_inf(x)),
        "frac_saturated": fraction(saturated),
    }
    return tf.stack([columns[name] for name in STATS], axis=1)
