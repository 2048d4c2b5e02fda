"""The real-programs suite, both ways, as a table: ``python bench/real_programs.py [NAME ...]``.

Each ``tests/programs/real_*.py`` (training programs in the styles of public tutorials, keras-io examples
and books; see ``tests/test_real_programs.py``) is instrumented and run as written and instrumented, with
the harness of the equivalence tests (``tests/program_pairs.py``). One row per program: the ``fit`` calls
rewritten into the loop and those given the callback, the largest weight difference over the models it
saves, whether every History matches, dnn-instrument's diagnosis of the run (these programs are cut to seconds:
most make a few dozen updates: too few to judge, which the diagnosis says as a warning), and the training verdict: ``same`` (weights within 1e-5, History within 1e-4), ``DIFFERS``,
or ``CRASH`` (which run exited non-zero, and its last line). As in the tests, the instrumented
runs are strict (``DNN_INSTRUMENT_STRICT=1``, set by ``tests/conftest.py``): a failure of ours shows as a
crash here instead of being switched off with a warning.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from program_pairs import HISTORY_TOLERANCE, compare_saved, run_both  # noqa: E402 (the tests' folder, above)

PROGRAMS = ROOT / "tests" / "programs"


def _last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:100] if lines else ""


def run_one(path):
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        pair = run_both(path, Path(folder), timeout=600)
        row = {
            "program": path.stem,
            "rewritten": pair.result.rewritten,
            "callback": pair.result.with_callback,
            "seconds": round(time.perf_counter() - start, 1),
            "max_weight_diff": None,
            "history_match": None,
        }
        for name, process in (("plain", pair.original), ("instrumented", pair.rewritten)):
            if process.returncode != 0:
                row["verdict"] = f"CRASH ({name}): {_last_line(process.stderr)}"
                return row
        comparisons = compare_saved(Path(folder))
        if not comparisons:
            row["verdict"] = "CRASH: the program saved nothing"
            return row
        row["max_weight_diff"] = max(c.max_weight_diff for c in comparisons)
        row["history_match"] = all(c.max_history_diff <= HISTORY_TOLERANCE for c in comparisons)
        row["verdict"] = "same" if all(c.same for c in comparisons) else "DIFFERS"
        row["diagnosis"] = json.loads(pair.report.read_text())["verdict"] if pair.report.exists() else None
        return row


def run(names=None):
    paths = sorted(PROGRAMS.glob("real_*.py"))
    if names:
        paths = [p for p in paths if p.stem in names or p.stem.removeprefix("real_") in names]
    return [run_one(path) for path in paths]


def table(rows):
    lines = [
        f"  {'program':<32} {'rewritten':>9} {'callback':>8} {'max |dw|':>9} {'History':>8} {'diagnosis':>9}  training"
    ]
    for row in rows:
        dw = "-" if row["max_weight_diff"] is None else f"{row['max_weight_diff']:.1e}"
        history = "-" if row["history_match"] is None else ("match" if row["history_match"] else "DIFFERS")
        diagnosis = row.get("diagnosis") or "-"
        lines.append(
            f"  {row['program']:<32} {row['rewritten']:>9} {row['callback']:>8} {dw:>9} {history:>8} {diagnosis:>9}  {row['verdict']}"
        )
    same = sum(row["verdict"] == "same" for row in rows)
    lines.append(
        f"  {same} of {len(rows)} programs train the same both ways; "
        f"{sum(r['rewritten'] for r in rows)} fit calls rewritten, {sum(r['callback'] for r in rows)} given the callback; "
        f"diagnosed buggy: {sum(r.get('diagnosis') == 'buggy' for r in rows)} (runs cut to seconds: often too few updates for the loss to converge)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(run(sys.argv[1:])))
