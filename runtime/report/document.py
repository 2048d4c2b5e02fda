"""The report of a run as a JSON document (schema in ``report.schema.json``): findings, history, layer summary."""

import math

from .. import analysis
from ..vocabulary import COLUMN, PHASES

SCHEMA_VERSION = 2


def build(script, stores):
    """The report document for the ``fit`` calls of one script run."""
    fits, groups = [], []
    for index, store in enumerate(stores):
        fit_findings = analysis.analyse(store) if store.closed else []
        for finding in fit_findings:
            finding["fit"] = store.site
            finding["fit_index"] = index
            if finding.get("consequence_of") is None:
                groups.append([finding])
            else:
                groups[-1].append(finding)  # analyse lists each root followed by its consequences
        fits.append(
            {
                "site": store.site,
                "iterations": store.iterations,
                "epochs": len(store.epoch_logs),
                "seconds": store.seconds,
                "mechanism": store.mechanism,
                "stopped": store.stopped,
                "unseen": unseen(store),
                "history": store.epoch_logs,
                "layers": store.layers,
                "summary": _layer_summary(store),
            }
        )
        if store.distribution is not None:
            fits[-1]["distribution"] = store.distribution
    findings = _ordered(groups)
    return {
        "schema": SCHEMA_VERSION,
        "script": script,
        "verdict": analysis.causes.verdict(findings),
        "checks": [rule.__name__ for rule in analysis.RULES],
        "findings": findings,
        "iterations": sum(fit["iterations"] for fit in fits),
        "fits": fits,
    }


def _ordered(groups):
    """The findings of every fit, the groups (a root and its consequences) of faults first; ``consequence_of``
    re-pointed to the root's index in the report's list."""
    findings = []
    for group in sorted(groups, key=lambda g: g[0].get("severity") != "fault"):  # stable: fits keep their order
        root = len(findings)
        for finding in group:
            if finding.get("consequence_of") is not None:
                finding["consequence_of"] = root
            findings.append(finding)
    return findings


def unseen(store):
    """The symptom groups a trace cannot show: those of the phases the rules need (``vocabulary.needs``) that its
    sites lack (the callback without a sample), and for the callback the order of the batches, which it never
    sees (its sample is fixed)."""
    if not store.sites:
        return []
    phases = {site["phase"] for site in store.sites}
    needed = {phase for rule in analysis.RULES for phase in getattr(rule, "needs", ())}
    missing = [phase.unseen for phase in PHASES if phase.name in needed and phase.name not in phases and phase.unseen]
    if store.mechanism == "callback":
        missing.append("batches holding a single label (unshuffled data): the callback does not see the batches")
    return missing


def _finite(value):
    value = float(value)
    return value if math.isfinite(value) else str(value)


def _layer_summary(store):
    """Per layer, at the last iteration before any NaN/Inf: output mean/std, zeros, gradient norm, update ratio."""
    healthy = analysis.TraceView(store).values
    if healthy.shape[0] == 0:
        return []
    last = healthy[-1]
    rows = {}
    for site, row in zip(store.sites, last):
        if site["layer_index"] is None and site["phase"] != "forward":
            continue
        entry = rows.setdefault(site["layer_index"], {"layer_index": site["layer_index"], "layer": site["layer"]})
        if site["phase"] == "forward":
            entry["output_mean"] = _finite(row[COLUMN["mean"]])
            entry["output_std"] = _finite(row[COLUMN["std"]])
            entry["output_zero"] = _finite(row[COLUMN["frac_zero"]])
            entry["output_saturated"] = _finite(row[COLUMN["frac_saturated"]])
        elif site["phase"] in ("gradient", "weight", "update"):
            key = {"gradient": "gradient_norm", "weight": "weight_norm", "update": "update_norm"}[site["phase"]]
            entry[key] = entry.get(key, 0.0) + float(row[COLUMN["norm"]]) ** 2
    for entry in rows.values():
        for key in ("gradient_norm", "weight_norm", "update_norm"):
            if key in entry:
                entry[key] = _finite(math.sqrt(entry[key]))
        if isinstance(entry.get("update_norm"), float) and isinstance(entry.get("weight_norm"), float):
            entry["update_ratio"] = entry["update_norm"] / entry["weight_norm"] if entry["weight_norm"] else None
    return list(rows.values())
