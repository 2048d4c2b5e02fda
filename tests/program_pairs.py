"""Run a training program as written and instrumented, and compare what both runs saved.

Shared by the equivalence tests (``tests/test_equivalence.py``, ``tests/test_real_programs.py``) and
``make bench`` (``bench/real_programs.py``). A program saves each model's final weights and History with
``tests/programs/_save.py`` (``save(name, model, history)``) under the prefix ``$EQ_OUT``; the plain run
writes ``a.<name>.*``, the instrumented one ``b.<name>.*``. A program's ``# says: TEXT`` lines are messages
the rewrite or the instrumented run must give (a fallback names its reason): ``assert_said``.
"""

import json
import re
from dataclasses import dataclass, field

import numpy as np
import pytest
from conftest import PROGRAMS, once_per_group, run_python
from generated_programs import run_in_turn

from dnn_instrument.transformer import instrument

WEIGHTS_TOLERANCE = 1e-5
HISTORY_TOLERANCE = 1e-4


@dataclass
class Pair:
    result: object  # the transformer's Result (rewritten / with_callback counts, messages)
    original: object  # CompletedProcess of the program as written
    rewritten: object  # CompletedProcess of the instrumented program
    report: object  # path of the instrumented run's JSON report


@dataclass
class Comparison:
    name: str  # the name the program saved a model under
    max_weight_diff: float
    max_history_diff: float  # inf when the History keys or lengths differ
    weight_count: tuple = field(default=(0, 0))  # arrays saved by each run

    @property
    def same(self):
        return (
            self.weight_count[0] == self.weight_count[1]
            and self.max_weight_diff <= WEIGHTS_TOLERANCE
            and self.max_history_diff <= HISTORY_TOLERANCE
        )


def run_both(source_path, folder, timeout=300, original=None):
    """Instrument ``source_path`` into ``folder`` and run both versions there (same seed, CPU); ``original``: the
    result of the program as written when it has already run (``run_as_written_in_turn``)."""
    source = source_path.read_text()
    result = instrument(source, str(source_path))
    instrumented = folder / source_path.name
    instrumented.write_text(result.code)
    report = folder / "report.json"
    env = {"PYTHONPATH": str(PROGRAMS)}
    if original is None:
        original = run_python(source_path, env={**env, "EQ_OUT": str(folder / "a")}, cwd=folder, timeout=timeout)
    rewritten = run_python(
        instrumented,
        env={
            **env,
            "EQ_OUT": str(folder / "b"),
            "DNN_INSTRUMENT_REPORT": str(report),
            "DNN_INSTRUMENT_VIEWS": "none",  # what is compared is the training (the views are tested elsewhere)
            "DNN_INSTRUMENT_DIR": str(folder / "runs"),
        },
        cwd=folder,
        timeout=timeout,
    )
    return Pair(result, original, rewritten, report)


@dataclass
class Ran:
    """What ``run_both`` reads of a program's run: its exit status and stderr."""

    returncode: int
    stderr: str


# A program that sets what holds for the whole process (logical devices for a tf.distribute strategy, a global
# dtype policy) cannot share one with others: it runs in a process of its own.
PROCESS_WIDE = re.compile(r"tf\.distribute|mixed_precision|set_logical_device_configuration")


def shares_a_process(source_path):
    return not PROCESS_WIDE.search(source_path.read_text())


def run_as_written_in_turn(source_paths, folders):
    """Each program as written, in turn in one process (``generated_programs.run_in_turn``: Keras cleared in
    between, the program's own seed), saving under ``FOLDER/a`` as ``run_both`` does: a ``Ran`` per program."""
    requests = [
        {"path": path, "cwd": folder, "env": {"EQ_OUT": str(folder / "a")}, "path_entries": [str(PROGRAMS)]}
        for path, folder in zip(source_paths, folders)
    ]
    replies, stderr = run_in_turn(requests)
    return [Ran(0, "") if reply["ok"] else Ran(1, reply["error"] + "\n" + stderr[-3000:]) for reply in replies]


def in_halves(cases, halves):
    """``cases`` as test parameters, each of ``halves`` (``conftest.halves``) on the worker of its half."""
    return [pytest.param(c, marks=pytest.mark.xdist_group(halves[c])) if c in halves else c for c in cases]


def as_written(case, halves, tmp_path_factory, tmp_path):
    """The run of program ``case`` as written and the folder it saved in: the programs of its half
    (``halves``: ``conftest.halves``) run in turn in one process, the first time one of them is asked for. A case
    outside ``halves`` (it must run alone): ``(None, tmp_path)``, and ``run_both`` runs it there."""
    if case not in halves:
        return None, tmp_path

    def run_half():
        cases = [c for c in halves if halves[c] == halves[case]]
        folders = [tmp_path_factory.mktemp(c) for c in cases]
        return dict(zip(cases, zip(run_as_written_in_turn([PROGRAMS / f"{c}.py" for c in cases], folders), folders)))

    return once_per_group(halves[case], run_half)[case]


def assert_said(pair, source):
    """Every ``# says: TEXT`` line of ``source`` is in the rewrite's messages or the instrumented run's stderr."""
    said = "\n".join(message.text for message in pair.result.messages) + "\n" + pair.rewritten.stderr
    for expected in re.findall(r"^# says: (.+)$", source, re.MULTILINE):  # a fallback names its reason
        assert expected in said, (expected, said[-3000:])


def _load(prefix, name):
    weights = np.load(f"{prefix}.{name}.npz")
    with open(f"{prefix}.{name}.json") as f:
        history = json.load(f)
    return [weights[k] for k in weights.files], history


def _max_diff(a, b):
    """max |a - b|, a NaN in both at the same place counting as equal."""
    a, b = np.atleast_1d(np.asarray(a, dtype=np.float64)), np.atleast_1d(np.asarray(b, dtype=np.float64))
    diff = np.abs(a - b)
    diff[np.isnan(a) & np.isnan(b)] = 0.0
    return float(np.max(diff)) if diff.size else 0.0


def compare_saved(folder):
    """One ``Comparison`` per model the plain run saved, against what the instrumented run saved."""
    names = sorted({p.name.split(".")[1] for p in folder.glob("a.*.npz")})
    comparisons = []
    for name in names:
        weights_a, history_a = _load(folder / "a", name)
        try:
            weights_b, history_b = _load(folder / "b", name)
        except FileNotFoundError:
            comparisons.append(Comparison(name, float("inf"), float("inf"), (len(weights_a), 0)))
            continue
        pairs = list(zip(weights_a, weights_b))
        shapes = all(a.shape == b.shape for a, b in pairs)
        worst = max((_max_diff(a, b) for a, b in pairs), default=0.0) if shapes else float("inf")
        history = float("inf")
        if sorted(history_a) == sorted(history_b) and all(len(history_a[k]) == len(history_b[k]) for k in history_a):
            history = max((_max_diff(history_a[k], history_b[k]) for k in history_a if history_a[k]), default=0.0)
        comparisons.append(Comparison(name, worst, history, (len(weights_a), len(weights_b))))
    return comparisons


def assert_same_training(folder):
    """Every model saved by the plain run was saved by the instrumented run with the same weights and History."""
    comparisons = compare_saved(folder)
    assert comparisons, "the program saved nothing"
    for c in comparisons:
        assert c.weight_count[0] == c.weight_count[1], (
            f"{c.name}: {c.weight_count[0]} weight arrays plain, {c.weight_count[1]} instrumented"
        )
        assert c.max_weight_diff <= WEIGHTS_TOLERANCE, f"{c.name}: weights differ by {c.max_weight_diff}"
        assert c.max_history_diff <= HISTORY_TOLERANCE, (
            f"{c.name}: History differs by {c.max_history_diff} (or in its keys/epochs)"
        )
    return comparisons
