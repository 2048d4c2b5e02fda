"""The expectation language of ``fixtures/labels.json``: what a corpus script's plain ``fit`` must show.

A pair case has ``expect_buggy`` and ``expect_fixed``, a healthy case ``expect_healthy``: each a list of
checks, all of which must hold for the *last* ``fit`` call the script made (as recorded by
``corpus_harness.py``). A check is one of:

- ``{"nan": true}``: a loss value is NaN/Inf, or the weights are not finite after ``fit``.
- ``{"metric": M, "final_at_most": v}`` / ``{"metric": M, "final_at_least": v}``: the last epoch's
  value of history key ``M`` (``loss``, ``accuracy``, ``val_accuracy``, ``mae`` ...).
- ``{"metric": M, "best_at_most": v}``: no epoch ever reached more than ``v`` (e.g. accuracy stuck at base rate).
- ``{"loss_drop_at_most": r}``: ``(first - last) / |first|`` of ``loss`` is at most ``r`` (training stuck).
- ``{"loss_drop_at_least": r}``: the same drop is at least ``r`` (the model learns, whatever its metrics say).
- ``{"finite": true}``: every value in the history is finite and so are the weights after ``fit`` (for a
  model whose own ``train_step`` logs other keys than ``loss``).
"""

import math


def _values(fit, metric):
    values = fit["history"].get(metric)
    if values is None:
        raise AssertionError(f"history has no key {metric!r}; keys: {sorted(fit['history'])}")
    return [v if isinstance(v, float) else float("nan") for v in values]


def failed_checks(record, checks):
    """Return a list of human-readable failures (empty when every check holds)."""
    if record.get("error"):
        return [f"script raised:\n{record['error']}"]
    if not record["fits"]:
        return ["script never called fit"]
    fit = record["fits"][-1]
    failures = []
    for check in checks:
        if check.get("nan"):
            losses = _values(fit, "loss")
            if fit["weights_finite"] and all(math.isfinite(v) for v in losses):
                failures.append(f"expected NaN/Inf, losses {losses}")
        elif check.get("finite"):
            bad = sorted(key for key in fit["history"] if not all(math.isfinite(v) for v in _values(fit, key)))
            if bad or not fit["weights_finite"]:
                failures.append(f"expected finite values, not finite: {bad or 'the weights'}")
        elif "loss_drop_at_most" in check or "loss_drop_at_least" in check:
            losses = _values(fit, "loss")
            drop = (losses[0] - losses[-1]) / abs(losses[0]) if losses[0] else 0.0
            if "loss_drop_at_most" in check and not drop <= check["loss_drop_at_most"]:
                failures.append(f"loss dropped by {drop:.3f} > {check['loss_drop_at_most']} ({losses})")
            if "loss_drop_at_least" in check and not drop >= check["loss_drop_at_least"]:
                failures.append(f"loss dropped by {drop:.3f} < {check['loss_drop_at_least']} ({losses})")
        else:
            values = _values(fit, check["metric"])
            final, best_high = values[-1], max(values)
            if "final_at_most" in check and not final <= check["final_at_most"]:
                failures.append(f"{check['metric']} ends at {final:.4f} > {check['final_at_most']}")
            if "final_at_least" in check and not final >= check["final_at_least"]:
                failures.append(f"{check['metric']} ends at {final:.4f} < {check['final_at_least']}")
            if "best_at_most" in check and not best_high <= check["best_at_most"]:
                failures.append(f"{check['metric']} reached {best_high:.4f} > {check['best_at_most']}")
    return failures
