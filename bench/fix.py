"""The repair benchmark: ``dnn-instrument fix`` on every case of ``fixtures/corpus``.

For each buggy script: ``dnn-instrument fix buggy.py -o patched.py`` (its default budget); whether a
verified patch was written, whether it compiles, and whether the patched script passes the case's own label
check with plain ``fit`` (``expect_fixed`` of ``fixtures/labels.json``, run by ``tests/corpus_harness.py``, as
``bench/corpus.py`` proves labels): "it trains like the fixed twin". For each fixed twin and each healthy
program: ``fix`` must write no patch (the best outcome is "nothing to fix"; a fault claimed without a patch is
counted apart). Prints the table, the totals and the time; each finished case is also printed as it ends
(``--progress``) so that a long run can be followed and resumed (``--skip-done``).

    python bench/fix.py [--only TEXT] [--workers N] [--json PATH]   (also part of `make bench`; `BENCH=fix make bench`)
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from corpus_checks import failed_checks  # noqa: E402 (the label checks the test suite uses)
from writers import wait_for_writers  # noqa: E402 (bench/, beside this file)

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def fix(script, folder, output=None):
    command = [sys.executable, "-m", "dnn_instrument", "fix", "--color=never"]
    command += ["-o", str(output)] if output else []
    env = {**ENV, "DNN_INSTRUMENT_DIR": str(Path(folder) / "runs")}
    result = subprocess.run(
        [*command, str(script)], cwd=script.parent, env=env, capture_output=True, text=True, timeout=1800
    )
    wait_for_writers(env["DNN_INSTRUMENT_DIR"])  # the run's views: written before its folder goes
    return result


def label_check(script, folder, checks):
    record_path = Path(folder) / "plain.json"
    subprocess.run(
        [sys.executable, str(ROOT / "tests" / "corpus_harness.py"), str(script), str(record_path)],
        cwd=folder,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if not record_path.exists():
        return ["the label check wrote no record"]
    return failed_checks(json.loads(record_path.read_text()), checks)


def clean_outcome(script, folder):
    """``fix`` on a script that must get no patch: "nothing to fix", "no patch" (a fault claimed, nothing
    written) or "PATCH" (a patch written: a failure of the benchmark)."""
    output = Path(folder) / f"{script.stem}-patched.py"
    result = fix(script, folder, output)
    if output.exists():
        return "PATCH", result
    return ("nothing to fix" if result.returncode == 0 else "no patch"), result


def _record(folder, stem):
    records = sorted(Path(folder, "runs").glob(f"{stem}-*/fix.json"))
    return json.loads(records[-1].read_text()) if records else {}


def run_pair(case, twins=True):
    folder_of = ROOT / "fixtures" / "corpus" / case["id"]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        patched = Path(folder) / "patched.py"  # corpus scripts read no files: they run from anywhere
        result = fix(folder_of / "buggy.py", folder, patched)
        written = patched.exists()
        compiles, label_failures = None, None
        if written:
            try:
                compile(patched.read_text(), str(patched), "exec", dont_inherit=True)
                compiles = True
            except SyntaxError:
                compiles = False
            label_failures = label_check(patched, folder, case["expect_fixed"]) if compiles else ["does not compile"]
        record = _record(folder, "buggy")
        twin, twin_result = clean_outcome(folder_of / "fixed.py", folder) if twins else (None, None)
    tried = record.get("candidates", [])
    chosen = record.get("verified")
    return {
        "id": case["id"],
        "kind": "pair",
        "cause": case["cause"],
        "exit": result.returncode,
        "verified": written and result.returncode == 0,
        "compiles": compiles,
        "label_holds": bool(written and not label_failures),
        "label_failures": label_failures,
        "found_cause": (record.get("finding") or {}).get("cause"),
        "tried": len(tried),
        "tries": [{"description": c["description"], "shown": c["shown"], "verified": c["verified"]} for c in tried],
        "patch": tried[chosen]["description"] if chosen is not None else "",
        "diff": tried[chosen]["diff"] if chosen is not None else "",
        "outcome": record.get("outcome") or (result.stderr.strip().splitlines() or [""])[-1],
        "printed": result.stderr,
        "twin": twin,
        "twin_said": (twin_result.stderr.strip().splitlines() or [""])[-1] if twin_result else "",
        "seconds": time.perf_counter() - start,
    }


def run_healthy(case):
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        outcome, result = clean_outcome(ROOT / "fixtures" / "corpus" / case["id"] / "healthy.py", folder)
    return {
        "id": case["id"],
        "kind": "healthy",
        "twin": outcome,
        "said": (result.stderr.strip().splitlines() or [""])[-1],
        "seconds": time.perf_counter() - start,
    }


def run_twin(case):
    """The fixed twin alone (``--part clean``): its row has no buggy side."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        outcome, result = clean_outcome(ROOT / "fixtures" / "corpus" / case["id"] / "fixed.py", folder)
    return {
        "id": case["id"],
        "kind": "twin",
        "twin": outcome,
        "said": (result.stderr.strip().splitlines() or [""])[-1],
        "seconds": time.perf_counter() - start,
    }


def run_case(case, part="all"):
    """``part``: "all" (buggy script, label check, fixed twin; healthy programs), "buggy" (pairs' buggy side
    only) or "clean" (fixed twins and healthy programs only): a long run in two passes."""
    if case.get("kind") == "healthy":
        return run_healthy(case)
    if part == "clean":
        return run_twin(case)
    return run_pair(case, twins=part == "all")


def merge(rows):
    """One row per pair from a "buggy" pass and a "clean" pass (the twin's outcome joins its pair's row)."""
    latest = {}
    for row in rows:  # a case run again: its last row of each kind counts
        latest[(row["id"], row["kind"])] = row
    merged = []
    for (case, kind), row in latest.items():
        twin = latest.get((case, "twin"))
        if kind == "pair" and twin is not None:
            row = dict(row, twin=twin["twin"], twin_said=twin["said"], seconds=row["seconds"] + twin["seconds"])
        elif kind == "twin" and (case, "pair") in latest:
            continue
        merged.append(row)
    return merged


def table(rows, seconds):
    mark = lambda value: "yes" if value else "-"
    pairs = [r for r in rows if r["kind"] == "pair"]
    healthy = [r for r in rows if r["kind"] == "healthy"]
    lines = [f"{'case':<40} {'cause':<22} {'verified':>8} {'label':>5} {'tries':>5} {'twin':>14}  patch"]
    twins = [r for r in rows if r["kind"] == "twin"]  # a clean pass whose buggy side did not run
    pairs = pairs + [
        dict(
            r,
            kind="pair",
            cause="(fixed twin only)",
            verified=False,
            label_holds=False,
            compiles=None,
            tried=0,
            patch="",
            outcome="buggy side not run",
        )
        for r in twins
    ]
    for row in pairs:
        lines.append(
            f"{row['id']:<40} {row['cause']:<22} {mark(row['verified']):>8} {mark(row['label_holds']):>5} "
            f"{row['tried']:>5} {row['twin'] or 'not run':>14}  {row['patch'] or row['outcome']}"
        )
    for row in healthy:
        lines.append(f"{row['id']:<40} {'(healthy)':<22} {'':>8} {'':>5} {'':>5} {row['twin']:>14}  {row['said'][:90]}")
    buggy = [r for r in pairs if r.get("outcome") != "buggy side not run"]
    checked = [r for r in pairs if r["twin"] is not None]
    written = [r for r in pairs if r["compiles"] is not None]
    lines += [
        "",
        f"verified patches: {sum(r['verified'] for r in buggy)} of {len(buggy)} buggy scripts",
        f"patched script passes the case's label check (trains like the fixed twin): {sum(r['label_holds'] for r in buggy)} of {len(buggy)}",
        f"written patches that compile: {sum(bool(r['compiles']) for r in written)} of {len(written)}",
        f"fixed twins patched (must be 0): {sum(r['twin'] == 'PATCH' for r in checked)} of {len(checked)} "
        f"(a fault claimed but no patch: {sum(r['twin'] == 'no patch' for r in checked)})",
    ]
    if healthy:
        lines.append(
            f"healthy programs patched (must be 0): {sum(r['twin'] == 'PATCH' for r in healthy)} of {len(healthy)} "
            f"(a fault claimed but no patch: {sum(r['twin'] == 'no patch' for r in healthy)})"
        )
    lines.append(
        f"time: {seconds:.0f} s wall-clock for this pass; {sum(r['seconds'] for r in rows):.0f} s of case time in all "
        f"({sum(r['seconds'] for r in rows) / max(len(rows), 1):.0f} s per case; cases run side by side)"
    )
    return "\n".join(lines)


def run(only=None, workers=2, progress=None, skip=(), part="all"):
    labels = json.loads((ROOT / "fixtures" / "labels.json").read_text())
    cases = [
        c
        for c in labels["cases"]
        if (not only or any(text in c["id"] for text in only.split(",")))
        and c["id"] not in skip
        and not (part == "buggy" and c.get("kind") == "healthy")
    ]
    lock = threading.Lock()

    def one(case):
        row = run_case(case, part)
        if progress:
            with lock, open(progress, "a", encoding="utf-8") as f:
                f.write(json.dumps(row, default=str) + "\n")
        print(
            f"  {row['id']}: {row.get('patch') or row.get('outcome') or ''} twin={row['twin']} ({row['seconds']:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
        return row

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(one, cases))
    return rows, time.perf_counter() - start


def _covered(row, part):
    """Whether a row of an earlier pass covers ``part`` of its case."""
    if part == "buggy":
        return row["kind"] == "pair"
    if part == "clean":
        return row["kind"] in ("twin", "healthy") or (row["kind"] == "pair" and row.get("twin") is not None)
    return True


def main_with(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="the cases whose id contains one of these comma-separated texts")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="write the rows to this file (default bench/results/fix-<timestamp>.json)")
    parser.add_argument("--progress", help="append each finished case to this JSON-lines file as it ends")
    parser.add_argument(
        "--skip-done", metavar="JSONL", help="skip the cases already in this --progress file and count them in"
    )
    parser.add_argument(
        "--part",
        choices=("all", "buggy", "clean"),
        default="all",
        help="all (default); buggy: the pairs' buggy side only; clean: fixed twins and healthy programs only",
    )
    arguments = parser.parse_args(argv)
    done = []
    if arguments.skip_done and Path(arguments.skip_done).exists():
        done = [json.loads(line) for line in Path(arguments.skip_done).read_text().splitlines() if line.strip()]
    skip = {r["id"] for r in done if _covered(r, arguments.part)}
    rows, seconds = run(arguments.only, arguments.workers, arguments.progress, skip, arguments.part)
    rows = merge(done + rows)
    order = [c["id"] for c in json.loads((ROOT / "fixtures" / "labels.json").read_text())["cases"]]
    rows.sort(key=lambda r: order.index(r["id"]))
    print(table(rows, seconds))
    path = (
        Path(arguments.json)
        if arguments.json
        else ROOT / "bench" / "results" / f"fix-{datetime.datetime.now():%Y%m%d-%H%M%S}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": rows, "seconds": seconds}, indent=1, default=str))
    print(f"written: {path}")
    return rows, seconds


if __name__ == "__main__":
    main_with()
