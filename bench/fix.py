"""The repair benchmark: ``dnn-instrument fix`` on every case of ``fixtures/corpus``.

For each buggy script: ``dnn-instrument fix buggy.py -o patched.py`` (its default budget); whether a
verified patch was written, whether it compiles, and whether the patched script passes the case's own label
check with plain ``fit`` (``expect_fixed`` of ``fixtures/labels.json``, run by ``tests/corpus_harness.py``, as
``bench/corpus.py`` proves labels): "it trains like the fixed twin". For each fixed twin: ``fix`` must find
nothing to fix and write nothing. Prints the table, the totals and the time.

    python bench/fix.py [--only TEXT] [--workers N]      (also part of `make bench`; `BENCH=fix make bench`)
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from corpus_checks import failed_checks  # noqa: E402 (the label checks the test suite uses)

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def fix(script, folder, output=None):
    command = [sys.executable, "-m", "dnn_instrument", "fix", "--color=never"]
    command += ["-o", str(output)] if output else []
    env = {**ENV, "DNN_INSTRUMENT_DIR": str(Path(folder) / "runs")}
    return subprocess.run([*command, str(script)], cwd=script.parent, env=env, capture_output=True, text=True, timeout=1800)


def label_check(script, folder, checks):
    record_path = Path(folder) / "plain.json"
    subprocess.run([sys.executable, str(ROOT / "tests" / "corpus_harness.py"), str(script), str(record_path)],
                   cwd=folder, env=ENV, capture_output=True, text=True, timeout=1800)
    return failed_checks(json.loads(record_path.read_text()), checks)


def run_case(case):
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
        twin = fix(folder_of / "fixed.py", folder)
        records = sorted(Path(folder, "runs").glob("buggy-*/fix.json"))
        record = json.loads(records[0].read_text()) if records else {}
    tried = record.get("candidates", [])
    return {
        "id": case["id"], "cause": case["cause"], "exit": result.returncode, "verified": written and result.returncode == 0,
        "compiles": compiles, "label_holds": written and not label_failures, "label_failures": label_failures,
        "found_cause": (record.get("finding") or {}).get("cause"), "tried": len(tried),
        "patch": tried[record["verified"]]["description"] if record.get("verified") is not None else "",
        "outcome": record.get("outcome") or result.stderr.strip().splitlines()[-1:],
        "twin_patched": twin.returncode != 0 or bool(twin.stdout.strip()), "twin_said": twin.stderr.strip().splitlines()[-1:],
        "seconds": time.perf_counter() - start,
    }


def table(rows, seconds):
    mark = lambda value: "yes" if value else "-"
    lines = [f"{'case':<40} {'cause':<22} {'verified':>8} {'label':>5} {'tries':>5} {'twin':>5}  patch"]
    for row in rows:
        lines.append(f"{row['id']:<40} {row['cause']:<22} {mark(row['verified']):>8} {mark(row['label_holds']):>5} "
                     f"{row['tried']:>5} {'PATCH' if row['twin_patched'] else 'ok':>5}  {row['patch'] or row['outcome']}")
    n = len(rows)
    written = [r for r in rows if r["compiles"] is not None]
    lines += [
        "",
        f"verified patches: {sum(r['verified'] for r in rows)} of {n} buggy scripts",
        f"patched script passes the case's label check (trains like the fixed twin): {sum(r['label_holds'] for r in rows)} of {n}",
        f"written patches that compile: {sum(bool(r['compiles']) for r in written)} of {len(written)}",
        f"fixed twins patched (must be 0): {sum(r['twin_patched'] for r in rows)} of {n}",
        f"time: {seconds:.0f} s ({seconds / max(n, 1):.0f} s per case)",
    ]
    return "\n".join(lines)


def run(only=None, workers=2):
    labels = json.loads((ROOT / "fixtures" / "labels.json").read_text())
    cases = [c for c in labels["cases"] if not only or any(text in c["id"] for text in only.split(","))]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(run_case, cases))
    return rows, time.perf_counter() - start


def main_with(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="the cases whose id contains one of these comma-separated texts")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the rows to this file")
    arguments = parser.parse_args(argv)
    rows, seconds = run(arguments.only, arguments.workers)
    print(table(rows, seconds))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({"rows": rows, "seconds": seconds}, indent=1, default=str))
    return rows, seconds


if __name__ == "__main__":
    main_with()
