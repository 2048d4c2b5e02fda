"""Severity and the causal chain: which findings are faults, and which follow from which.

A *fault* is a failure of training the trace shows (NaN/Inf, a loss that does not fall, accuracy at the base
rate, dead or saturated layers, weights that never change, nothing to train) or a configuration that provably
cannot learn. A *smell* (``WARNING``) is a risk while training still progresses: it becomes a fault only when
a failure it explains follows it in the trace.

``EXPLAINS`` is the causal graph of symptoms: ``cause -> symptoms it produces``. A finding B is a consequence
of A when an edge leads from A's symptom to B's (directly or through other symptoms) and A is seen no later
than B (by iteration, then by the phase's place in the iteration). A consequence names its root's cause and carries no fix of its own: fixing the root removes it.
"""

from .. import vocabulary

#: Symptoms that are risks, not failures: warnings unless a failure they explain follows them.
WARNING = {
    "unnormalized_input",
    "missing_activation",
    "initialization_too_large",
    "regularization_too_strong",
    "tiny_gradient_clipping",
    "meaningless_metric",
    "frozen_by_design",
    "accuracy_at_base_rate",
}

#: Symptoms that show training failing (what promotes a smell that explains them to a fault).
FAILURES = {
    "numerical_error",
    "dead_relu",
    "saturated_activation",
    "vanishing_gradient",
    "exploding_gradient",
    "loss_not_decreasing",
    "oscillating_loss",
    "accuracy_not_increasing",
    "loss_at_chance_level",
    "validation_mismatch",
    "unchanged_weights",
    "learning_rate_too_low",
    "updates_vanish",
}

#: Symptoms that say the run is too short to judge (when the rule itself calls them a warning): the failures of
#: progress they explain are what a short run shows, so those stay warnings and do not make their root a fault.
INCONCLUSIVE = {"too_few_updates"}

_STUCK = (
    "loss_not_decreasing",
    "oscillating_loss",
    "accuracy_not_increasing",
    "loss_at_chance_level",
    "too_few_updates",
)
_CONFIGURATION = (
    "output_activation_mismatch",
    "loss_mismatch",
    "label_range",
    "target_out_of_range",
    "target_shape_mismatch",
)

#: cause symptom -> the symptoms it produces (edges of the causal graph; it has no cycle).
EXPLAINS = {
    # the learning rate: steps as large as the weights push units out of their working range, then no
    # gradient flows back, then the loss stops falling; or the values overflow
    "learning_rate_too_high": (
        "dead_relu",
        "saturated_activation",
        "exploding_gradient",
        "numerical_error",
        "vanishing_gradient",
        "unchanged_weights",
        *_STUCK,
    ),
    "learning_rate_too_low": _STUCK,
    "updates_vanish": _STUCK,
    "optimizer_misconfigured": ("numerical_error", "learning_rate_too_high", "learning_rate_too_low", *_STUCK),
    "tiny_gradient_clipping": ("learning_rate_too_low", *_STUCK),
    # inputs of order 100 make pre-activations 100x larger than the initialisation assumes
    "unnormalized_input": (
        "saturated_activation",
        "dead_relu",
        "exploding_gradient",
        "numerical_error",
        "learning_rate_too_high",
        "vanishing_gradient",
        *_STUCK,
    ),
    # initialisation: too large amplifies at every layer; all-equal units never break symmetry
    "initialization_too_large": (
        "exploding_gradient",
        "numerical_error",
        "saturated_activation",
        "dead_relu",
        "learning_rate_too_high",
        "vanishing_gradient",
        *_STUCK,
    ),
    "identical_units": _STUCK,
    "regularization_too_strong": ("dead_relu", "vanishing_gradient", "learning_rate_too_low", *_STUCK),
    # a dead or saturated layer passes (almost) no gradient to the layers below it
    # ... and layers that receive no gradient make no update: the late steps look like a learning rate too low
    "dead_relu": ("vanishing_gradient", "unchanged_weights", "learning_rate_too_low", *_STUCK),
    "saturated_activation": ("vanishing_gradient", "learning_rate_too_low", *_STUCK),
    "vanishing_gradient": ("learning_rate_too_low", *_STUCK),
    "exploding_gradient": ("numerical_error", *_STUCK),
    "missing_activation": _STUCK,
    "unshuffled_data": ("validation_mismatch", *_STUCK),
    # a short run has not converged yet: its loss is still high, and its late window is noise
    "too_few_updates": ("loss_not_decreasing", "oscillating_loss", "accuracy_not_increasing", "loss_at_chance_level"),
    "loss_not_decreasing": ("accuracy_not_increasing", "loss_at_chance_level"),
    "oscillating_loss": ("accuracy_not_increasing", "loss_at_chance_level"),
    "loss_at_chance_level": ("accuracy_not_increasing",),
    "nothing_to_train": ("loss_not_decreasing", "accuracy_not_increasing", "loss_at_chance_level", "unchanged_weights"),
    # a configuration that cannot learn explains every failure of progress, and NaN (log of a value <= 0)
    **{
        symptom: ("numerical_error", "dead_relu", "saturated_activation", "vanishing_gradient", *_STUCK)
        for symptom in _CONFIGURATION
    },
}


def explains(cause, effect):
    """Whether ``cause`` leads to ``effect`` in the graph, directly or through other symptoms."""
    seen, frontier = set(), [cause]
    while frontier:
        for following in EXPLAINS.get(frontier.pop(), ()):
            if following == effect:
                return True
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return False


#: Within an iteration: the configuration and the initial weights, then the batch, the forward pass, the loss,
#: the backward pass, the update. An update-phase symptom at iteration t acts from the next forward pass on:
#: a layer saturated at the very first forward pass was not saturated by the learning rate.
PHASE_ORDER = {**vocabulary.PHASE_ORDER, "static": -1, "weight": -1}


def _onset(finding):
    return finding["iteration"], PHASE_ORDER.get(finding.get("phase", "static"), 0)


def attribute(findings):
    """Severity, root causes and order: faults first, each root followed by its consequences.

    ``findings`` come in the rules' order of precedence (``analysis.RULES``); that order breaks ties only.
    Each finding gets ``severity``; a consequence gets ``consequence_of`` (the index of its root in the
    returned list), the root's ``cause``, and an empty ``fix``.
    """
    for finding in findings:
        finding.setdefault("severity", "warning" if finding["symptom"] in WARNING else "fault")
    precedence = {id(f): i for i, f in enumerate(findings)}
    parent = {}
    for effect in findings:
        candidates = [
            cause
            for cause in findings
            if cause is not effect
            and cause["symptom"] != effect["symptom"]
            and _onset(cause) <= _onset(effect)
            and explains(cause["symptom"], effect["symptom"])
        ]
        if candidates:  # the earliest explanation; among equals the more direct (no other candidate explains it)
            parent[id(effect)] = min(
                candidates,
                key=lambda c: (
                    _onset(c),
                    any(explains(o["symptom"], c["symptom"]) for o in candidates),
                    precedence[id(c)],
                ),
            )

    def root(finding):
        seen = set()
        while id(finding) in parent and id(finding) not in seen:
            seen.add(id(finding))
            finding = parent[id(finding)]
        return finding

    roots = [f for f in findings if root(f) is f]
    followers = {id(r): [f for f in findings if f is not r and root(f) is r] for r in roots}
    for r in roots:  # a smell that a failure follows is the fault's root: it becomes a fault
        if r["severity"] == "warning" and r["symptom"] in INCONCLUSIVE:
            for follower in followers[id(r)]:
                follower["severity"] = "warning"
            continue
        failures = [f for f in followers[id(r)] if f["severity"] == "fault"]
        if r["severity"] == "warning" and failures:
            r["severity"] = "fault"
            failure = failures[0]
            r["evidence"] += f"; and training fails: {failure['symptom'].replace('_', ' ')}"
    promoted = {r["symptom"] for r in roots if r["severity"] == "fault"}
    for r in roots:  # the same smell in other layers is part of the same fault
        if r["severity"] == "warning" and r["symptom"] in promoted and r["symptom"] in WARNING:
            r["severity"] = "fault"
    roots.sort(key=lambda r: (r["severity"] != "fault", _onset(r), precedence[id(r)]))
    ordered = []
    for r in roots:
        start = len(ordered)
        ordered.append(r)
        for follower in sorted(followers[id(r)], key=lambda f: (_onset(f), precedence[id(f)])):
            follower.update(consequence_of=start, cause=r["cause"], fix="")
            ordered.append(follower)
    return ordered


def verdict(findings):
    """``buggy`` (a fault), ``warnings`` (only warnings) or ``ok``."""
    if any(f.get("severity", "fault") == "fault" for f in findings):
        return "buggy"
    return "warnings" if findings else "ok"
