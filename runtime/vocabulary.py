"""The words every wing of the runtime shares, declared once (no TensorFlow, no numpy: the analysis and
``dnn-instrument report`` read them without either).

- ``STATISTICS``: the row one recorded tensor is reduced to in the train step, column by column
  (``record/stats.py`` computes them, in this order), and how two rows of one site merge when a long run is
  compacted (``record/trace.py``, ``merge_rows``).
- ``PHASES``: where in a training step a site is recorded, in the order its values are born within an
  iteration, what the analysis cannot see in a trace without it (``report/document.py``, ``unseen``: the
  phases that a rule ``needs`` and the trace lacks; None: both mechanisms record it whenever it exists (the
  loss, the weights and their updates), or no rule needs it alone (the backward pass)), and which statistics of
  its row are measured: those that the analysis and the reports read (the others are NaN, "not measured": each
  costs a pass over every tensor of the phase in every step).
"""

from collections import namedtuple

Statistic = namedtuple("Statistic", "name meaning merge")

#: How two rows of a site merge, weighted by the iterations each stands for: ``mean``; ``rms`` (root mean
#: square); ``min``/``max`` (the extreme, a NaN ignored); ``worst`` (the larger, so that a fault stays visible).
MERGES = ("mean", "rms", "min", "max", "worst")

STATISTICS = (
    Statistic("count", "number of elements", "mean"),
    Statistic("mean", "mean of the finite elements", "mean"),
    Statistic("std", "standard deviation of the finite elements", "rms"),
    Statistic("min", "smallest finite element", "min"),
    Statistic("max", "largest finite element", "max"),
    Statistic("abs_max", "largest |finite element|", "max"),
    Statistic("norm", "L2 norm of the finite elements", "rms"),
    Statistic("frac_zero", "fraction of elements exactly 0 (dead ReLU units)", "mean"),
    Statistic("frac_nan", "fraction of NaN elements", "worst"),
    Statistic("frac_inf", "fraction of infinite elements", "worst"),
    Statistic("frac_saturated", "fraction in the saturated range of the layer's activation (stats.SATURATION)", "mean"),
)
#: The columns of a statistics row, in order, and each one's index.
STATS = tuple(statistic.name for statistic in STATISTICS)
COLUMN = {name: i for i, name in enumerate(STATS)}

Phase = namedtuple("Phase", "name records unseen measures")

#: The statistics of a gradient, an update or an output's gradient that anything reads: their size (norms:
#: vanishing and exploding gradients, the update/weight ratio, unchanged weights) and NaN/Inf. A weight's mean, spread
#: and extremes are read too (before training: ``analysis/training.py``, ``initialization``). The other statistics of
#: these phases are not measured (NaN): each costs one more pass over every tensor of the phase in every step.
NORMS = ("count", "norm", "frac_nan", "frac_inf")
WEIGHT = NORMS + ("mean", "std", "min", "max", "abs_max")

#: Within one iteration values are born in this order: the batch, the forward pass layer by layer, the loss, the
#: backward pass from the last layer down, then the optimizer's update of each weight.
PHASES = (
    Phase("input", "the batch's inputs (x)", "unnormalized inputs", STATS),
    Phase(
        "target",
        "the batch's targets (y)",
        "labels outside the loss's range, targets outside the output's range",
        STATS,
    ),
    Phase(
        "forward",
        "a layer's output",
        "dead or saturated units, activations exploding, where a NaN is born in the forward pass",
        STATS,
    ),
    Phase("loss", "the loss", None, STATS),
    Phase("backward", "the gradient of the loss with respect to a layer's output", None, NORMS),
    Phase(
        "gradient",
        "a weight's gradient",
        "vanishing and exploding gradients, where a NaN is born in the backward pass",
        NORMS,
    ),
    Phase("update", "the change the optimizer made to a weight", None, NORMS),
    Phase("weight", "a weight after the update", None, WEIGHT),
)
PHASE_ORDER = {phase.name: i for i, phase in enumerate(PHASES)}
PHASE = {phase.name: phase for phase in PHASES}


def measures_of(sites):
    """The ``STATS`` each of ``sites`` measures: its phase's."""
    return [PHASE[site["phase"]].measures for site in sites]


def unmeasured(measures):
    """``[len(measures)][len(STATS)]``: whether each row leaves each column out (NaN), from what it measures (None:
    every statistic)."""
    return [[m is not None and name not in m for name in STATS] for m in measures]


def needs(*phases):
    """Declare the phases an analysis rule reads (``rule.needs``): a trace without one cannot show its symptom."""
    unknown = set(phases) - set(PHASE)
    if unknown:
        raise ValueError(f"unknown phases {sorted(unknown)}")

    def declare(rule):
        rule.needs = phases
        return rule

    return declare
