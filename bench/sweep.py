"""Robustness sweep: the transformer over every ``.py`` file of the installed ``keras`` and ``tensorflow``.

Thousands of real files, most without any ``fit``: the rewrite must never crash on them. Each file ends
in exactly one outcome:

- ``instrumented``: something was rewritten, and the output compiles (``compile()``);
- ``untouched``: nothing to instrument, and the returned code is the input, byte for byte;
- ``refused``: unusable input, refused cleanly with a ``path:line:col: message`` (an ``InstrumentError``,
  or a binary / non-UTF-8 file refused the way the CLI's ``read_source`` refuses it);
- ``crash``: anything else (another exception, an untouched result that differs from the input, an
  output that does not compile, a refusal without ``path:line:col:``): path and traceback recorded.

The files are only parsed and rewritten, never imported or executed, and TensorFlow is not imported:
the packages are located with ``importlib.util.find_spec``.

    python bench/sweep.py [--sample N] [--workers W] [--json out.json]

exits 1 if any file crashed. ``sweep(paths, workers)`` is the same, as a function returning a dict.
"""

import argparse
import importlib.util
import json
import os
import re
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUTCOMES = ("instrumented", "untouched", "refused", "crash")
LOCATED = re.compile(r"^(?P<path>.+):(?P<line>\d+):(?P<column>\d+): \S")


def package_dirs(names=("keras", "tensorflow")):
    """The source folders of the installed packages ``names`` (found, not imported)."""
    folders = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        folders.extend(Path(location) for location in spec.submodule_search_locations)
    return folders


def package_files(names=("keras", "tensorflow")):
    """Every ``.py`` file under the installed packages ``names``, sorted by path."""
    files = set()
    for folder in package_dirs(names):
        files.update(path for path in folder.rglob("*.py") if path.is_file())
    return sorted(files)


def sample(paths, n):
    """About ``n`` of ``paths`` (sorted), deterministically: every k-th one."""
    paths = sorted(paths)
    if n is None or n >= len(paths):
        return paths
    step = len(paths) / max(n, 1)
    return [paths[int(i * step)] for i in range(n)]


def count_lines(data):
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def check_file(path):
    """Instrument one file in this process; a record with its outcome (never raises)."""
    from dnn_instrument.files import read_source
    from dnn_instrument.transformer import InstrumentError, instrument

    path = str(path)
    record = {
        "path": path,
        "lines": 0,
        "outcome": None,
        "seconds": 0.0,
        "cpu_seconds": 0.0,
        "rewritten": 0,
        "with_callback": 0,
        "detail": "",
    }
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        with open(path, "rb") as f:
            data = f.read()
        record["lines"] = count_lines(data)
        try:
            source = read_source(path)  # exactly the CLI's checks: binary data, non-UTF-8 text
        except OSError as error:
            _refusal(record, path, str(error))
            return record
        try:
            result = instrument(source, path)
        except InstrumentError as error:
            _refusal(record, path, str(error))
            return record
        record["rewritten"], record["with_callback"] = result.rewritten, result.with_callback
        if result.changed:
            compile(result.code, path, "exec")  # instrument() checks it too: this checks that it did
            record["outcome"] = "instrumented"
        elif result.code.encode("utf-8", "surrogatepass") == data:
            record["outcome"] = "untouched"
        else:
            record["outcome"] = "crash"
            record["detail"] = "nothing to instrument, but the returned code differs from the input"
    except BaseException as error:  # noqa: BLE001 - a sweep records every failure, whatever it is
        if isinstance(error, KeyboardInterrupt):
            raise
        record["outcome"] = "crash"
        record["detail"] = f"{type(error).__name__}: {error}"[:2000]
        record["traceback"] = traceback.format_exc()[-6000:]
    finally:
        record["seconds"] = time.perf_counter() - start
        record["cpu_seconds"] = time.process_time() - cpu_start  # the same, less the time other processes took
    return record


def _refusal(record, path, message):
    match = LOCATED.match(message)
    if match and match.group("path") == path:
        record["outcome"], record["detail"] = "refused", message
    else:
        record["outcome"], record["detail"] = "crash", f"refused without a '{path}:line:col:' message: {message!r}"


def sweep(paths, workers=None):
    """Instrument each of ``paths`` (in ``workers`` processes; 1 runs them in this process).

    Returns ``{"files", "lines", "instrumented", "untouched", "refused", "crashed", "crashes",
    "fit_calls_rewritten", "fit_calls_with_callback", "wall_seconds", "transform_seconds",
    "seconds_per_1000_lines", "cpu_seconds_per_1000_lines", "workers", "slowest", "outcomes"}``:
    ``crashes`` lists the crash records (path, detail, traceback); ``outcomes`` every file's record;
    ``seconds_per_1000_lines`` is transform time (summed over files) per 1,000 lines, independent of ``workers``;
    ``cpu_seconds_per_1000_lines`` the same in CPU time, which a busy machine does not inflate.
    """
    paths = [str(p) for p in paths]
    workers = max(1, workers or os.cpu_count() or 1)
    start = time.perf_counter()
    if workers == 1 or len(paths) < 2:
        records = [check_file(path) for path in paths]
    else:
        # Largest first, one at a time: a few huge generated files must not end up last in one worker.
        by_size = sorted(paths, key=_size, reverse=True)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            records = list(pool.map(check_file, by_size, chunksize=1 if len(paths) < 200 else 4))
        records.sort(key=lambda r: r["path"])
    wall = time.perf_counter() - start
    lines = sum(r["lines"] for r in records)
    transform = sum(r["seconds"] for r in records)
    cpu = sum(r["cpu_seconds"] for r in records)
    counts = {outcome: sum(r["outcome"] == outcome for r in records) for outcome in OUTCOMES}
    return {
        "files": len(records),
        "lines": lines,
        "instrumented": counts["instrumented"],
        "untouched": counts["untouched"],
        "refused": counts["refused"],
        "crashed": counts["crash"],
        "crashes": [r for r in records if r["outcome"] == "crash"],
        "fit_calls_rewritten": sum(r["rewritten"] for r in records),
        "fit_calls_with_callback": sum(r["with_callback"] for r in records),
        "wall_seconds": wall,
        "transform_seconds": transform,
        "seconds_per_1000_lines": 1000 * transform / lines if lines else 0.0,
        "cpu_seconds_per_1000_lines": 1000 * cpu / lines if lines else 0.0,
        "workers": workers,
        "slowest": sorted(records, key=lambda r: r["seconds"], reverse=True)[:5],
        "outcomes": records,
    }


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def summary(result):
    """A few lines for a human: counts, timing, the slowest files, every crash."""
    out = [
        f"files {result['files']}, lines {result['lines']:,}: instrumented {result['instrumented']}, "
        f"untouched {result['untouched']}, refused {result['refused']}, crashes {result['crashed']}",
        f"fit calls: {result['fit_calls_rewritten']} rewritten, {result['fit_calls_with_callback']} given the callback",
        f"time: {result['seconds_per_1000_lines']:.3f} s per 1,000 lines (transform, summed over files; "
        f"CPU {result['cpu_seconds_per_1000_lines']:.3f} s); "
        f"wall {result['wall_seconds']:.1f} s with {result['workers']} worker(s)",
        "slowest: "
        + ", ".join(f"{_short(r['path'])} ({r['lines']:,} lines, {r['seconds']:.2f} s)" for r in result["slowest"][:3]),
    ]
    refusals = [r for r in result["outcomes"] if r["outcome"] == "refused"]
    for record in refusals[:10]:
        out.append(f"refused: {record['detail']}")
    groups = {}  # one traceback per distinct error, then the files it hit
    for record in result["crashes"]:
        groups.setdefault(record["detail"], []).append(record)
    for detail, records in groups.items():
        out.append(f"CRASH x{len(records)}: {detail}")
        if records[0].get("traceback"):
            out.append("    " + records[0]["traceback"].rstrip().replace("\n", "\n    "))
        out += [f"    in {record['path']}" for record in records]
    return "\n".join(out)


def _short(path):
    parts = Path(path).parts
    return str(Path(*parts[parts.index("site-packages") + 1 :])) if "site-packages" in parts else path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, help="only about N files, every k-th by path (deterministic)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="processes (default: CPU count)")
    parser.add_argument("--json", help="write the full result (every file's record) here")
    parser.add_argument("paths", nargs="*", help="files to sweep instead of the installed keras and tensorflow")
    arguments = parser.parse_args(argv)
    paths = [Path(p) for p in arguments.paths] or package_files()
    paths = sample(paths, arguments.sample)
    result = sweep(paths, arguments.workers)
    print(summary(result))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(result, indent=1))
    return 1 if result["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main())
