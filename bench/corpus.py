"""The accuracy benchmark: dnn-instrument against what Keras users have today, on ``fixtures/corpus``.

For every case, buggy and fixed twin, two runs (cases in parallel, one per core):
- **dnn-instrument**: the script instrumented, run with ``DNN_INSTRUMENT_REPORT``; the JSON report says
  the verdict, the primary finding's layer and cause, and the iteration it was seen at;
- **Keras baseline**: the script as written, with ``TerminateOnNaN`` and ``EarlyStopping(monitor="loss")``
  added to its ``fit`` (``tests/corpus_harness.py --keras-baseline``).

Scores (see README): detected = verdict ``buggy`` on the buggy script (baseline: training terminated or
stopped early, or the final loss is NaN); localized = the primary finding names a labelled faulty layer,
or, for a fault with no single layer, the labelled cause (baseline: never, Keras names no layer); fix
correct = the primary finding's cause is the labelled cause; false alarm = ``buggy`` on a fixed twin.
"""

import concurrent.futures
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from corpus_checks import failed_checks  # noqa: E402 (the label checks the test suite uses)
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(command, cwd, env=None, timeout=600):
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env={**ENV, **(env or {})}, capture_output=True, text=True, timeout=timeout)
    return result, time.perf_counter() - start


def instrumented_run(script, folder):
    from dnn_instrument.transformer import instrument

    target = Path(folder) / script.name
    target.write_text(instrument(script.read_text(), str(script)).code)
    report = Path(folder) / "report.json"
    result, wall = _run(
        [sys.executable, str(target)], folder,
        {"DNN_INSTRUMENT_REPORT": str(report), "DNN_INSTRUMENT_DIR": str(Path(folder) / "runs")},
    )
    if not report.exists():
        return {"error": result.stderr[-1500:], "wall": wall}
    document = json.loads(report.read_text())
    first = document["findings"][0] if document["findings"] else {}
    return {
        "verdict": document["verdict"],
        "layer": first.get("layer"),
        "cause": first.get("cause"),
        "iteration": first.get("iteration"),
        "fit_seconds": sum(fit.get("seconds") or 0.0 for fit in document["fits"]),
        "wall": wall,
    }


def baseline_run(script, folder):
    record_path = Path(folder) / "baseline.json"
    result, wall = _run([sys.executable, str(ROOT / "tests" / "corpus_harness.py"), str(script), str(record_path), "--keras-baseline"], folder)
    record = json.loads(record_path.read_text())
    if record["error"] or not record["fits"]:
        return {"error": record["error"] or "no fit", "wall": wall}
    fit = record["fits"][-1]
    losses = fit["history"].get("loss", [])
    final_nan = bool(losses) and not isinstance(losses[-1], float)
    return {
        "detected": fit["stopped"] or final_nan,
        "fit_seconds": sum(f["seconds"] for f in record["fits"]),
        "wall": wall,
    }


def plain_run(script, folder, checks):
    """The script as written: its training time (the harness times every fit), for the overhead ratio, and
    whether its label holds with plain ``fit`` (the checks of ``fixtures/labels.json``)."""
    record_path = Path(folder) / "plain.json"
    _run([sys.executable, str(ROOT / "tests" / "corpus_harness.py"), str(script), str(record_path)], folder)
    record = json.loads(record_path.read_text())
    return sum(f["seconds"] for f in record["fits"]), failed_checks(record, checks)


def run_case(case, variant, ours_only=False):
    script = ROOT / "fixtures" / "corpus" / case["id"] / f"{variant}.py"
    with tempfile.TemporaryDirectory() as folder:
        ours = instrumented_run(script, folder)
        if ours_only:
            return {"id": case["id"], "variant": variant, "ours": ours, "baseline": {}, "plain_fit_seconds": None,
                    "label_failures": None}
        baseline = baseline_run(script, folder)
        plain, label_failures = plain_run(script, folder, case[f"expect_{variant}"])
    # overhead on the fixed twins only: they train to the end, while a buggy run stops at its first NaN
    return {"id": case["id"], "variant": variant, "ours": ours, "baseline": baseline,
            "plain_fit_seconds": plain if variant == "fixed" else None, "label_failures": label_failures}


def score(cases, runs):
    by_key = {(r["id"], r["variant"]): r for r in runs}
    rows, totals = [], {"cases": len(cases)}
    for case in cases:
        buggy, fixed = by_key[(case["id"], "buggy")], by_key[(case["id"], "fixed")]
        ours = buggy["ours"]
        detected = ours.get("verdict") == "buggy"
        labelled_layers = set(case["faulty_layers"])
        localized = detected and (
            (ours.get("layer") in labelled_layers) if labelled_layers else ours.get("cause") == case["cause"]
        )
        rows.append(
            {
                "id": case["id"],
                "cause": case["cause"],
                "detected": detected,
                "localized": localized,
                "fix_correct": detected and ours.get("cause") == case["cause"],
                "false_alarm": fixed["ours"].get("verdict") == "buggy",
                "iteration": ours.get("iteration") if detected else None,
                "found": f"{ours.get('layer') or '-'} / {ours.get('cause') or '-'}" if detected else "",
                "baseline_detected": bool(buggy["baseline"].get("detected")),
                "baseline_false_alarm": bool(fixed["baseline"].get("detected")),
                "errors": [f"{v}/{k}: {r[k]['error'][-300:]}" for v, r in (("buggy", buggy), ("fixed", fixed)) for k in ("ours", "baseline") if "error" in r[k]]
                + [f"{v}: label does not hold with plain fit: {r['label_failures']}" for v, r in (("buggy", buggy), ("fixed", fixed)) if r["label_failures"]],
                "label_proven": None if buggy["label_failures"] is None else not (buggy["label_failures"] or fixed["label_failures"]),
            }
        )
    for key in ("detected", "localized", "fix_correct", "false_alarm", "baseline_detected", "baseline_false_alarm"):
        totals[key] = sum(bool(row[key]) for row in rows)
    totals["labels_proven"] = sum(bool(row["label_proven"]) for row in rows)
    iterations = [row["iteration"] for row in rows if row["iteration"] is not None]
    totals["median_iterations_to_detection"] = statistics.median(iterations) if iterations else None
    fixed = [r for r in runs if r["plain_fit_seconds"]]
    instrumented = sum(r["ours"].get("fit_seconds", 0.0) for r in fixed)
    plain = sum(r["plain_fit_seconds"] for r in fixed)
    totals["overhead_ratio"] = instrumented / plain if plain else math.nan
    return rows, totals


def run(workers=2, ours_only=False, only=None):
    labels = json.loads((ROOT / "fixtures" / "labels.json").read_text())
    cases = [case for case in labels["cases"] if only is None or only in case["id"]]
    jobs = [(case, variant) for case in cases for variant in ("buggy", "fixed")]
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        runs = list(pool.map(lambda job: run_case(*job, ours_only=ours_only), jobs))
    return score(cases, runs)


def table(rows, totals):
    lines = [
        f"{'case':<42} {'cause':<22} {'det':>4} {'loc':>4} {'fix':>4} {'FA':>3} {'iter':>5} | {'keras det':>9} {'keras FA':>8}  found (layer / cause)"
    ]
    mark = lambda value: "yes" if value else "-"
    for row in rows:
        lines.append(
            f"{row['id']:<42} {row['cause']:<22} {mark(row['detected']):>4} {mark(row['localized']):>4} "
            f"{mark(row['fix_correct']):>4} {mark(row['false_alarm']):>3} {row['iteration'] if row['iteration'] is not None else '-':>5} | "
            f"{mark(row['baseline_detected']):>9} {mark(row['baseline_false_alarm']):>8}  {row['found']}"
        )
        for error in row["errors"]:
            lines.append(f"    error: {error}")
    n = totals["cases"]
    lines += [
        "",
        f"{'':<28} {'dnn-instrument':>15} {'Keras (TerminateOnNaN + EarlyStopping)':>40}",
        f"{'detected (of %d buggy)' % n:<28} {totals['detected']:>15} {totals['baseline_detected']:>40}",
        f"{'localized':<28} {totals['localized']:>15} {0:>40}",
        f"{'fix names the cause':<28} {totals['fix_correct']:>15} {'-':>40}",
        f"{'false alarms (of %d fixed)' % n:<28} {totals['false_alarm']:>15} {totals['baseline_false_alarm']:>40}",
        f"{'median iterations to detect':<28} {str(totals['median_iterations_to_detection']):>15} {'-':>40}",
        f"training time, instrumented / plain fit, over the {len(rows)} fixed twins: {totals['overhead_ratio']:.2f}x",
        f"labels that hold with plain fit (buggy shows its fault, fixed twin trains): {totals['labels_proven']} of {n}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # calibration: dnn-instrument's side alone, optionally on some cases
    import argparse

    parser = argparse.ArgumentParser(description="Run the corpus with dnn-instrument only (no Keras baseline).")
    parser.add_argument("--only", help="run the cases whose id contains this text")
    arguments = parser.parse_args()
    print(table(*run(ours_only=True, only=arguments.only)))
