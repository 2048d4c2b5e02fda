"""The accuracy benchmark: dnn-instrument against what Keras users have today, on ``fixtures/corpus``.

A case is a buggy script and its fixed twin (``kind: pair``) or a healthy program that carries a smell
(``kind: healthy``); each belongs to the ``calibration`` or the ``holdout`` split (``fixtures/labels.json``),
and every score is given for each split separately. For every script, two runs (in parallel, one per core):
- **dnn-instrument**: the script instrumented, run with ``DNN_INSTRUMENT_REPORT``; the JSON report says
  the verdict, the primary finding's layer and cause, and the iteration it was seen at;
- **Keras baseline**: the script as written, with ``TerminateOnNaN`` and ``EarlyStopping(monitor="loss")``
  added to its ``fit`` (``tests/corpus_harness.py --keras-baseline``).

Scores (see README): detected = verdict ``buggy`` on the buggy script (baseline: training terminated or
stopped early, or the final loss is NaN); localized = the primary finding names a labelled faulty layer,
or, for a fault with no single layer, the labelled cause (baseline: never, Keras names no layer); fix
correct = the primary finding's cause is the labelled cause; false alarm = ``buggy`` on a fixed twin or a
healthy program. Verdicts are also counted by level (``buggy``, ``warnings``, ``ok``: whatever the reports
say). Consequences attached to their root: on the buggy scripts whose primary finding names the labelled
cause, the findings that the report marks as consequences of that primary finding (``consequence_of`` or
``caused_by`` on a finding, or a ``consequences`` list on the root); ``-`` where no report marks any.

``python bench/corpus.py --labels`` only proves the labels with plain ``fit`` (every script of a case in one
process, as ``tests/test_corpus.py`` does), without instrumenting anything.
"""

import concurrent.futures
import json
import math
import os
import re
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
from writers import wait_for_writers  # noqa: E402 (bench/, beside this file)

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(command, cwd, env=None, timeout=600):
    start = time.perf_counter()
    result = subprocess.run(
        command, cwd=cwd, env={**ENV, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )
    return result, time.perf_counter() - start


def instrumented_run(script, folder):
    from dnn_instrument.transformer import instrument

    target = Path(folder) / script.name
    target.write_text(instrument(script.read_text(), str(script)).code)
    report = Path(folder) / "report.json"
    result, wall = _run(
        [sys.executable, str(target)],
        folder,
        {"DNN_INSTRUMENT_REPORT": str(report), "DNN_INSTRUMENT_DIR": str(Path(folder) / "runs")},
    )
    after_exit = wait_for_writers(Path(folder) / "runs")  # its views: written before the folder goes
    if not report.exists():
        return {"error": result.stderr[-1500:], "wall": wall, "after_exit": after_exit}
    document = json.loads(report.read_text())
    first = document["findings"][0] if document["findings"] else {}
    return {
        "verdict": document["verdict"],
        "layer": first.get("layer"),
        "cause": first.get("cause"),
        "iteration": first.get("iteration"),
        "consequences": consequences(document["findings"]),
        "fit_seconds": sum(fit.get("seconds") or 0.0 for fit in document["fits"]),
        "wall": wall,
        "after_exit": after_exit,
    }


CONSEQUENCE_KEYS = ("consequence_of", "caused_by")


def _finding_index(findings, reference):
    """The index of the finding ``reference`` names: an index, a finding's ``id``, or its symptom/cause."""
    if isinstance(reference, dict):
        for key in ("index", "finding", "id", "symptom"):
            if reference.get(key) is not None:
                return _finding_index(findings, reference[key])
        return None
    if isinstance(reference, bool):
        return None
    if isinstance(reference, int):
        return reference if 0 <= reference < len(findings) else None
    for key in ("id", "symptom", "cause"):
        for index, finding in enumerate(findings):
            if finding.get(key) == reference:
                return index
    return None


def consequences(findings):
    """How many findings are consequences of the primary (root) finding, and how many are consequences of
    any finding; ``None`` when the report has no causal chain at all (the field is absent)."""
    marked = any(key in finding for finding in findings for key in CONSEQUENCE_KEYS + ("consequences",))
    if not marked:
        return None
    roots = [
        _finding_index(findings, finding[key])
        for finding in findings
        for key in CONSEQUENCE_KEYS
        if finding.get(key) is not None
    ]
    if not any(key in finding for finding in findings for key in CONSEQUENCE_KEYS):  # the chain kept on the roots
        roots = [index for index, finding in enumerate(findings) for _ in finding.get("consequences") or []]
    return {"of_root": sum(root == 0 for root in roots), "total": len(roots)}


def baseline_run(script, folder):
    record_path = Path(folder) / "baseline.json"
    result, wall = _run(
        [sys.executable, str(ROOT / "tests" / "corpus_harness.py"), str(script), str(record_path), "--keras-baseline"],
        folder,
    )
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


def variants(case):
    """The scripts of a case: a buggy script and its fixed twin, or one healthy program."""
    return ("healthy",) if case.get("kind") == "healthy" else ("buggy", "fixed")


def run_case(case, variant, ours_only=False):
    script = ROOT / "fixtures" / "corpus" / case["id"] / f"{variant}.py"
    with tempfile.TemporaryDirectory() as folder:
        ours = instrumented_run(script, folder)
        if ours_only:
            return {
                "id": case["id"],
                "variant": variant,
                "ours": ours,
                "baseline": {},
                "plain_fit_seconds": None,
                "label_failures": None,
            }
        baseline = baseline_run(script, folder)
        plain, label_failures = plain_run(script, folder, case[f"expect_{variant}"])
    # overhead on the scripts that train (fixed twins, healthy programs): a buggy run stops at its first NaN
    return {
        "id": case["id"],
        "variant": variant,
        "ours": ours,
        "baseline": baseline,
        "plain_fit_seconds": plain if variant != "buggy" else None,
        "label_failures": label_failures,
    }


LEVELS = ("buggy", "warnings", "ok")


def score(cases, runs):
    by_key = {(r["id"], r["variant"]): r for r in runs}
    rows = []
    for case in cases:
        scripts = {variant: by_key[(case["id"], variant)] for variant in variants(case)}
        errors = [
            f"{v}/{k}: {r[k]['error'][-300:]}"
            for v, r in scripts.items()
            for k in ("ours", "baseline")
            if "error" in r[k]
        ]
        errors += [
            f"{v}: label does not hold with plain fit: {r['label_failures']}"
            for v, r in scripts.items()
            if r["label_failures"]
        ]
        label_proven = (
            None
            if any(r["label_failures"] is None for r in scripts.values())
            else not any(r["label_failures"] for r in scripts.values())
        )
        row = {
            "id": case["id"],
            "kind": case.get("kind", "pair"),
            "split": case.get("split", "calibration"),
            "cause": case.get("cause") or f"({case.get('smell', 'healthy')})",
            "errors": errors,
            "label_proven": label_proven,
            "verdicts": {variant: r["ours"].get("verdict") for variant, r in scripts.items()},
        }
        if row["kind"] == "healthy":
            healthy = scripts["healthy"]
            row.update(
                detected=None,
                localized=None,
                fix_correct=None,
                iteration=None,
                consequences=None,
                false_alarm=healthy["ours"].get("verdict") == "buggy",
                found=_found(healthy["ours"]) if healthy["ours"].get("verdict") == "buggy" else "",
                baseline_detected=None,
                baseline_false_alarm=bool(healthy["baseline"].get("detected")),
            )
        else:
            buggy, fixed = scripts["buggy"], scripts["fixed"]
            ours = buggy["ours"]
            detected = ours.get("verdict") == "buggy"
            labelled_layers = set(case["faulty_layers"])
            localized = detected and (
                (ours.get("layer") in labelled_layers) if labelled_layers else ours.get("cause") == case["cause"]
            )
            fix_correct = detected and ours.get("cause") == case["cause"]
            chain = ours.get("consequences")
            row.update(
                detected=detected,
                localized=localized,
                fix_correct=fix_correct,
                false_alarm=fixed["ours"].get("verdict") == "buggy",
                iteration=ours.get("iteration") if detected else None,
                found=(_found(ours) if detected else "")
                + (f"; fixed: {_found(fixed['ours'])}" if fixed["ours"].get("verdict") == "buggy" else ""),
                # consequences count as attached to their root only under a root that is the labelled cause
                consequences=None
                if chain is None
                else {"of_root": chain["of_root"] if fix_correct else 0, "total": chain["total"]},
                baseline_detected=bool(buggy["baseline"].get("detected")),
                baseline_false_alarm=bool(fixed["baseline"].get("detected")),
            )
        rows.append(row)
    totals = {split: _totals([row for row in rows if row["split"] == split]) for split in ("calibration", "holdout")}
    totals["all"] = _totals(rows)
    fixed = [r for r in runs if r["plain_fit_seconds"]]
    instrumented = sum(r["ours"].get("fit_seconds", 0.0) for r in fixed)
    plain = sum(r["plain_fit_seconds"] for r in fixed)
    totals["all"]["overhead_ratio"] = instrumented / plain if plain else math.nan
    totals["all"]["overhead_scripts"] = len(fixed)
    return rows, totals


def _found(ours):
    return f"{ours.get('layer') or '-'} / {ours.get('cause') or '-'}"


def _totals(rows):
    pairs = [row for row in rows if row["kind"] == "pair"]
    healthy = [row for row in rows if row["kind"] == "healthy"]
    totals = {"cases": len(rows), "pairs": len(pairs), "healthy": len(healthy)}
    for key in ("detected", "localized", "fix_correct", "baseline_detected"):
        totals[key] = sum(bool(row[key]) for row in pairs)
    totals["false_alarm_fixed"] = sum(bool(row["false_alarm"]) for row in pairs)
    totals["false_alarm_healthy"] = sum(bool(row["false_alarm"]) for row in healthy)
    totals["false_alarm"] = totals["false_alarm_fixed"] + totals["false_alarm_healthy"]
    totals["baseline_false_alarm"] = sum(bool(row["baseline_false_alarm"]) for row in rows)
    for variant in ("buggy", "fixed", "healthy"):
        counts = {}
        for row in rows:
            if variant in row["verdicts"]:
                level = row["verdicts"][variant] or "error"
                counts[level] = counts.get(level, 0) + 1
        totals[f"verdicts_{variant}"] = counts
    chains = [row["consequences"] for row in pairs if row["consequences"] is not None]
    totals["consequences"] = (
        {"of_root": sum(c["of_root"] for c in chains), "total": sum(c["total"] for c in chains)} if chains else None
    )
    totals["labels_proven"] = sum(bool(row["label_proven"]) for row in rows)
    totals["plain_run"] = any(row["label_proven"] is not None for row in rows)
    iterations = [row["iteration"] for row in pairs if row["iteration"] is not None]
    totals["median_iterations_to_detection"] = statistics.median(iterations) if iterations else None
    return totals


def select(only=None, split=None):
    """The labelled cases whose id matches the regular expression ``only`` (None: all; plain text matches the ids
    that contain it) and that belong to ``split`` (None: all)."""
    labels = json.loads((ROOT / "fixtures" / "labels.json").read_text())
    return [
        case
        for case in labels["cases"]
        if (only is None or re.search(only, case["id"]))
        and (split is None or case.get("split", "calibration") == split)
    ]


def run(workers=2, ours_only=False, only=None, split=None):
    cases = select(only, split)
    jobs = [(case, variant) for case in cases for variant in variants(case)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        runs = list(pool.map(lambda job: run_case(*job, ours_only=ours_only), jobs))
    return score(cases, runs)


def _levels(counts):
    """``3 / 1 / 5``: the counts of ``buggy``, ``warnings`` and ``ok``, then any other verdict the reports gave
    (``error``: no report) by name."""
    others = sorted(set(counts) - set(LEVELS))
    return " / ".join([str(counts.get(name, 0)) for name in LEVELS] + [f"{name} {counts[name]}" for name in others])


def table(rows, totals):
    mark = lambda value: "·" if value is None else ("yes" if value else "-")
    lines = [
        f"{'case':<44} {'split':<11} {'cause (healthy: smell)':<26} {'det':>4} {'loc':>4} {'fix':>4} {'FA':>3} {'iter':>5} "
        f"{'chain':>5} | {'keras det':>9} {'keras FA':>8}  verdicts; found (layer / cause)"
    ]
    for row in rows:
        chain = row["consequences"]
        verdicts = ",".join(f"{variant[0]}:{verdict or 'error'}" for variant, verdict in row["verdicts"].items())
        lines.append(
            f"{row['id']:<44} {row['split']:<11} {row['cause']:<26} {mark(row['detected']):>4} {mark(row['localized']):>4} "
            f"{mark(row['fix_correct']):>4} {mark(row['false_alarm']):>3} {row['iteration'] if row['iteration'] is not None else '-':>5} "
            f"{'-' if chain is None else '%d/%d' % (chain['of_root'], chain['total']):>5} | "
            f"{mark(row['baseline_detected']):>9} {mark(row['baseline_false_alarm']):>8}  {verdicts}; {row['found']}"
        )
        for error in row["errors"]:
            lines.append(f"    error: {error}")
    columns = [(name, totals[name]) for name in ("calibration", "holdout", "all") if totals[name]["cases"]]
    header = f"{'':<44}" + "".join(f"{name:>26}" for name, _ in columns)
    lines += ["", "dnn-instrument, by split:", header]

    def line(title, cell):
        lines.append(f"{title:<44}" + "".join(f"{cell(t):>26}" for _, t in columns))

    line("cases (pairs + healthy)", lambda t: f"{t['pairs']} + {t['healthy']}")
    line("verdicts on buggy scripts (buggy/warn/ok)", lambda t: _levels(t["verdicts_buggy"]))
    line("verdicts on fixed twins (buggy/warn/ok)", lambda t: _levels(t["verdicts_fixed"]))
    line("verdicts on healthy programs (buggy/warn/ok)", lambda t: _levels(t["verdicts_healthy"]))
    line("detected (buggy verdict on a buggy script)", lambda t: f"{t['detected']} of {t['pairs']}")
    line("localized", lambda t: f"{t['localized']} of {t['pairs']}")
    line("fix names the labelled cause", lambda t: f"{t['fix_correct']} of {t['pairs']}")
    line("false alarms on fixed twins", lambda t: f"{t['false_alarm_fixed']} of {t['pairs']}")
    line("false alarms on healthy programs", lambda t: f"{t['false_alarm_healthy']} of {t['healthy']}")
    line(
        "consequences attached to their root",
        lambda t: (
            "-"
            if t["consequences"] is None
            else "%d of %d" % (t["consequences"]["of_root"], t["consequences"]["total"])
        ),
    )
    line(
        "median iterations to detect",
        lambda t: "-" if t["median_iterations_to_detection"] is None else str(t["median_iterations_to_detection"]),
    )
    everything = totals["all"]
    if everything["plain_run"]:
        line("labels that hold with plain fit", lambda t: f"{t['labels_proven']} of {t['cases']}")
    if not everything["plain_run"]:  # dnn-instrument's side alone
        return "\n".join(lines)
    lines += [
        "",
        f"Keras (TerminateOnNaN + EarlyStopping): detected {everything['baseline_detected']} of {everything['pairs']} buggy scripts, "
        f"localized 0, false alarms {everything['baseline_false_alarm']} of {everything['pairs'] + everything['healthy']} fixed twins and healthy programs",
        f"training time, instrumented / plain fit, over the {everything['overhead_scripts']} fixed twins and healthy programs: "
        f"{everything['overhead_ratio']:.2f}x",
        "(split 'holdout': cases never used to tune a threshold; its numbers are the ones to trust for unseen programs)",
    ]
    return "\n".join(lines)


def prove_labels(cases, workers=2):
    """Every script of every case with plain ``fit`` (one process per case, as ``tests/test_corpus.py``
    runs them): ``{case id: {variant: [failed checks]}}``."""

    def prove(case):
        with tempfile.TemporaryDirectory() as folder:
            scripts = {v: ROOT / "fixtures" / "corpus" / case["id"] / f"{v}.py" for v in variants(case)}
            records = {v: Path(folder) / f"{v}.json" for v in scripts}
            result, _ = _run(
                [
                    sys.executable,
                    str(ROOT / "tests" / "corpus_harness.py"),
                    *[str(a) for v in scripts for a in (scripts[v], records[v])],
                ],
                folder,
            )
            failures = {}
            for variant, path in records.items():
                if not path.exists():
                    failures[variant] = [f"no record: {result.stderr[-500:]}"]
                    continue
                failures[variant] = failed_checks(json.loads(path.read_text()), case[f"expect_{variant}"])
            return case["id"], failures

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(prove, cases))


if __name__ == "__main__":  # calibration: dnn-instrument's side alone, optionally on some cases
    import argparse

    parser = argparse.ArgumentParser(description="Run the corpus with dnn-instrument only (no Keras baseline).")
    parser.add_argument(
        "--only", help="run the cases whose id matches this regular expression (e.g. a text it contains)"
    )
    parser.add_argument("--split", choices=("calibration", "holdout"), help="run the cases of this split only")
    parser.add_argument("--labels", action="store_true", help="only prove the labels with plain fit")
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    if arguments.labels:
        cases = select(arguments.only, arguments.split)
        proven = prove_labels(cases, arguments.workers)
        for case_id, failures in proven.items():
            print(f"{case_id:<44} " + "  ".join(f"{v}: {'holds' if not f else f}" for v, f in failures.items()))
        held = sum(not any(failures.values()) for failures in proven.values())
        print(f"labels that hold with plain fit: {held} of {len(proven)}")
        sys.exit(0 if held == len(proven) else 1)
    print(table(*run(workers=arguments.workers, ours_only=True, only=arguments.only, split=arguments.split)))
