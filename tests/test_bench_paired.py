"""``bench/paired.py``, the benchmarks' one-process steady-step measurement: what it runs and what it returns.

Two stand-in scripts print a ``STEP_SECONDS`` as the benchmark programs do, and log each run; the harness must run
them as ``__main__``, alternately (plain first in even rounds), and give each side's values and the ratio of their
medians. No timing is asserted: the values are the scripts' own.
"""

import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import paired  # noqa: E402  (bench/paired.py)

SCRIPT = """
import sys
steps = {steps}
with open({log!r}, "a") as log:
    log.write({side!r} + " " + __name__ + "\\n")
count = sum(1 for line in open({log!r}) if line.startswith({side!r}))
print("FIT_SECONDS 1.0", file=sys.stderr)
print(f"STEP_SECONDS {{steps[count - 1]}}", file=sys.stderr)
"""


def test_both_scripts_run_alternately_in_this_process_and_their_medians_give_the_ratio(tmp_path):
    log = tmp_path / "runs.log"
    plain, probed = tmp_path / "plain.py", tmp_path / "probed.py"
    plain.write_text(SCRIPT.format(steps=[0.002, 0.004, 0.003, 0.010], log=str(log), side="plain"))
    probed.write_text(SCRIPT.format(steps=[0.003, 0.003, 0.006, 0.005], log=str(log), side="probed"))

    result = paired.paired(str(plain), str(probed), rounds=4)

    assert log.read_text().split("\n")[:-1] == [
        "plain __main__",
        "probed __main__",
        "probed __main__",
        "plain __main__",
        "plain __main__",
        "probed __main__",
        "probed __main__",
        "plain __main__",
    ]
    assert result["plain"] == [0.002, 0.004, 0.003, 0.010]
    assert result["instrumented"] == [0.003, 0.003, 0.006, 0.005]
    assert result["step_seconds_ratio"] == pytest.approx(0.004 / 0.0035)


def test_a_script_that_prints_no_step_time_is_named_in_the_error(tmp_path):
    silent = tmp_path / "silent.py"
    silent.write_text("print('trained')\n")
    with pytest.raises(RuntimeError, match="silent.py printed no STEP_SECONDS"):
        paired.step_seconds(str(silent))


def test_the_values_a_program_prints_are_read_with_digits_in_their_names():
    printed = "FIT_SECONDS 1.5\nSTEP_Q25_SECONDS 0.002\nEpoch 1/3\nWEIGHTS nan-ish\nnot a value\n"
    assert paired.printed_values(printed) == {"FIT_SECONDS": 1.5, "STEP_Q25_SECONDS": 0.002}


def test_the_fast_epochs_step_is_the_lower_quartile_of_the_epochs():
    """``bench/scripts/common.py``: whole epochs run at one of two speeds; the lower quartile compares the fast ones."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_scripts_common", ROOT / "bench" / "scripts" / "common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    epochs = [6.3, 4.3, 4.4, 6.2, 4.2, 4.5, 6.4, 4.3]  # seconds, three of them slow
    assert common.lower_quartile(epochs) == 4.3
    clock = common.Clock(samples=100, batch=10)
    clock.epoch_seconds = [0.02, 0.05, 0.021, 0.019]
    assert clock.fast_step_seconds() == pytest.approx(0.002)
