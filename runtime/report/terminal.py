"""The report of a run as the short text printed at the end of each ``fit`` (stderr) and by ``dnn-instrument report``."""

#: How the files of each view are named in the text.
FILES = {"html": "report.html", "tensorboard": "tensorboard/"}


def render(document, folder, files=("report.html", "report.json"), later=()):
    """A short plain-text report for stderr; ``files``: those the run folder holds; ``later``: the views (``html``,
    ``tensorboard``) a detached process writes there once the script has ended."""
    lines = [f"\ndnn-instrument: {document['iterations']} iterations recorded; verdict: {document['verdict'].upper()}"]
    findings, named = document["findings"], False
    for finding in findings:
        where = f"layer {finding['layer']!r}" if finding["layer"] else "the model"
        if finding.get("source"):
            where += f" ({finding['source']})"
        at = f"{where}, {finding['phase']} phase, iteration {finding['iteration']}"
        if finding.get("consequence_of") is not None:  # follows from a root above: no fix of its own
            lines.append(f"    consequence: {finding['symptom']} in {at}")
            lines.append(f"         {finding['evidence']}")
            continue
        severity = finding.get("severity", "fault")
        lead = ("  also:  " if named else "  cause: ") if severity == "fault" else "  warning: "
        named = named or severity == "fault"
        lines.append(f"{lead}{finding.get('cause') or finding['symptom']} (symptom: {finding['symptom']} in {at})")
        lines.append(f"         {finding['evidence']}")
        lines.append(f"    fix: {finding['fix']}")
    fit = document["fits"][-1]
    if fit["stopped"]:
        lines.append(f"  training stopped early: {fit['stopped']}")
    distribution = fit.get("distribution") or {}
    if "fault_replica" in distribution:
        site = distribution["fault_site"]
        lines.append(
            f"  under {distribution['strategy']} ({distribution['replicas']} replicas): the first NaN/Inf appeared on"
            f" replica {distribution['fault_replica']}, {site['phase']} phase{' of ' + site['layer'] if site['layer'] else ''}"
            f" (replicas that saw it in that iteration: {', '.join(map(str, distribution['fault_replicas']))})"
        )
    if fit["unseen"]:
        lines.append(f"  not visible to the {fit['mechanism']} (fit at {fit['site']}): {'; '.join(fit['unseen'])}")
    if fit["summary"]:
        lines.append(f"  per layer, last iteration before any NaN/Inf (fit at {fit['site']}):")
        lines.append(
            f"    {'layer':<24} {'out mean':>10} {'out std':>10} {'zero':>6} {'grad norm':>10} {'upd/weight':>10}"
        )
        for row in fit["summary"]:
            lines.append(
                f"    {_clip(row['layer'] or '(model)', 24):<24} {_fmt(row.get('output_mean')):>10} {_fmt(row.get('output_std')):>10}"
                f" {_fmt(row.get('output_zero'), '.0%'):>6} {_fmt(row.get('gradient_norm')):>10} {_fmt(row.get('update_ratio')):>10}"
            )
    written = ", ".join(files)
    if later:
        written += f"; {' and '.join(FILES[view] for view in later)} written in the background when the script ends"
    lines.append(f"  run folder: {folder} ({written})\n")
    return "\n".join(_printable(line) for line in lines) + "\n"


def _printable(text):
    """``text`` with control characters (a layer or file name could hold terminal escape sequences) escaped."""
    return "".join(c if c.isprintable() or c == "\n" else ascii(c)[1:-1] for c in str(text))


def _clip(text, width):
    text = _printable(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _fmt(value, spec=".3g"):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return format(value, spec)
