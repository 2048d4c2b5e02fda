"""The overhead of the instrumented loop against ``fit`` under the same MirroredStrategy (two logical CPUs).

``bench/overhead_program.py`` with ``BENCH_STRATEGY=mirrored`` (the MLP on the digits) runs as written and
instrumented, alternately, ``--repeats`` times each; the ratio is median(instrumented) / median(plain), as for
the single-device rows. ``make bench`` prints it after those; alone: ``.venv/bin/python bench/distributed.py``.
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def overhead(repeats, epochs):
    from run import overhead as timed

    return timed(repeats, epochs, models=("mlp",), strategy="mirrored")


def table(rows):
    lines = [
        f"\ntraining overhead under MirroredStrategy, 2 logical CPUs ({len(rows[0]['fit_seconds'])} runs each, "
        "alternating, median):",
        f"  {'model':<6} {'epochs':>6} {'fit s':>8} {'instrumented s':>15} {'ratio':>7}",
    ]
    for row in rows:
        lines.append(
            f"  {row['model']:<6} {row['epochs']:>6} {statistics.median(row['fit_seconds']):>8.2f} "
            f"{statistics.median(row['instrumented_seconds']):>15.2f} {row['ratio']:>6.2f}x"
        )
        lines.append(
            f"         runs, in order: fit {', '.join(f'{t:.1f}' for t in row['fit_seconds'])}; "
            f"instrumented {', '.join(f'{t:.1f}' for t in row['instrumented_seconds'])}"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    arguments = parser.parse_args()
    print(table(overhead(arguments.repeats, arguments.epochs)))


if __name__ == "__main__":
    main()
