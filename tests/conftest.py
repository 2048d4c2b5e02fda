import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("DNN_INSTRUMENT_STRICT", "1")  # a failure of ours raises in tests instead of being switched off
# report.json alone: the views (report.html, the TensorBoard events) cost their writer seconds of CPU per run, and a
# writer's failure is seen only by a test that looks at them; those tests ask for them (VIEWS_ON)
os.environ.setdefault("DNN_INSTRUMENT_VIEWS", "none")
VIEWS_ON = {"DNN_INSTRUMENT_VIEWS": "html,tensorboard"}

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "tests" / "programs"
FIXTURES = ROOT / "fixtures"


def run_python(script, *args, env=None, cwd=None, timeout=300, stdin=None, preexec_fn=None):
    """Run ``script`` with this interpreter in a quiet TensorFlow environment; return the CompletedProcess."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        preexec_fn=preexec_fn,
    )


def ops_that_ran(run):
    """``run()``'s result, and the types of the ops that ran in the compiled functions it called, after Grappler (the
    branches of the conds taken included): where a ``Switch`` or ``Merge`` would show that a cond was lowered."""
    from tensorflow.python.eager import context

    ctx = context.context()
    ctx.enable_run_metadata()
    try:
        result = run()
        graphs = ctx.export_run_metadata().function_graphs
        return result, [node.op for graph in graphs for node in graph.post_optimization_graph.node]
    finally:
        ctx.disable_run_metadata()


def run_cli(*args, cwd=None, stdin=None, env=None):
    """Run ``python -m dnn_instrument ARGS``."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dnn_instrument", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=stdin,
        env=full_env,
        timeout=120,
    )


def halves(items, name):
    """``{item: "NAME-0" or "NAME-1"}``, alternately: two xdist groups that share the work of ``items``, each run on
    the worker that gets it (TensorFlow starts in seconds: programs that can share a process run in turn in one)."""
    return {item: f"{name}-{i % 2}" for i, item in enumerate(items)}


_shared = {}


def once_per_group(group, make):
    """``make()``, called by the first test of the xdist ``group`` in this process and shared with the others."""
    if group not in _shared:
        _shared[group] = make()
    return _shared[group]


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A fresh run (session) writing under tmp_path, as a new script run would."""
    from dnn_instrument.runtime import session

    folder = tmp_path / "runs"
    monkeypatch.setenv("DNN_INSTRUMENT_DIR", str(folder))
    monkeypatch.setattr(session, "_current", None)
    return folder


def pytest_collection_modifyitems(items):
    """Long work first: the tests that train (``slow``) or share a run (``xdist_group``) are handed out before the
    quick ones, so that under ``-n 2`` the quick tests fill the gaps at the end instead of one worker waiting
    for a long test started last. The order within each kind is the collection order."""
    items.sort(key=lambda item: not (item.get_closest_marker("slow") or item.get_closest_marker("xdist_group")))
