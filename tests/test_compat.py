"""The supported Keras/TensorFlow range: one claim (pyproject.toml) that runtime/compat.py and ``make compat``
read, every private Keras name the runtime uses checked at start-up, and Keras 3.10's epoch iterator adapted."""

import ast
import re
import sys

import pytest
from conftest import ROOT, run_python

from dnn_instrument.runtime import compat
from dnn_instrument.runtime.record import fitting
from dnn_instrument.transformer import instrument

sys.path.insert(0, str(ROOT / "tools"))
import compat as make_compat  # noqa: E402  (tools/compat.py, what `make compat` runs)

OURS = {
    "self",
    "sys",
    "os",
    "session",
    "store",
    "origins",
    "wrapped",
    "probe",
    "graph",
    "monitor",
    "data",
    "other",
    "run",
    "stores",
}


#: The Keras boundary: the only modules that touch Keras's private names or import ``keras.src`` (the graph side and
#: the training side); compat.py names them only to check them.
BOUNDARY = {ROOT / "runtime" / "record" / "graph.py", ROOT / "runtime" / "record" / "fitting.py"}
#: libcst's code generation internals, used by transformer/positions.py alone (checked by tests/test_positions.py).
LIBCST_INTERNALS = {ROOT / "transformer" / "positions.py": {"_codegen", "_update_position", "_computed"}}
#: Private names that are not Keras's: our own marker, Python's, and IPython's (cells.py).
NOT_KERAS = {"_dnn_instrument", "_getframe", "_exit", "_current", "_filename_map"}
#: Read with a fallback where a supported Keras lacks it (graph.operation_for: Keras 3.10 has no such method).
OPTIONAL = {"_get_operation_for_node"}
#: Modules that name ``keras.src`` without touching it: compat.py checks the internals, keras_names.py recognises
#: ``keras.src`` imports in the user's code.
NAMES_ONLY = {"compat.py", "keras_names.py"}


def _private_names_in(path):
    """``._name`` attributes (and ``getattr(x, "_name")``) that a module or a template reads on objects not ours."""
    names = set()
    if path.suffix == ".j2":
        code = "\n".join(line.split("#")[0] for line in path.read_text().splitlines())
        return {m.group(2) for m in re.finditer(r"\b(\w+)\.(_[a-z]\w*)", code) if m.group(1) not in OURS} - NOT_KERAS
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) > 1
        ):
            name = node.args[1]
            if (
                isinstance(name, ast.Constant)
                and isinstance(name.value, str)
                and re.fullmatch(r"_[a-z]\w*", name.value)
            ):
                names.add(name.value)
        if isinstance(node, ast.Attribute) and re.fullmatch(r"_[a-z]\w*", node.attr):
            receiver = node.value
            if isinstance(receiver, ast.Name) and receiver.id in OURS:
                continue
            if (
                isinstance(receiver, ast.Attribute)
                and isinstance(receiver.value, ast.Name)
                and receiver.value.id == "self"
            ):
                if receiver.attr in ("function", "_function", "model", "train", "layer"):  # Keras objects we hold
                    names.add(node.attr)
                continue
            names.add(node.attr)
    return names - NOT_KERAS


def _sources():
    """Every module of the package and the generated code's templates."""
    for folder in ("runtime", "transformer", "dnn_instrument"):
        yield from sorted((ROOT / folder).rglob("*.py"))
    yield from sorted((ROOT / "transformer" / "templates").glob("*.j2"))


def _private_names():
    """``._name`` attributes the runtime and the generated loop read on objects that are not ours."""
    return set().union(*(_private_names_in(path) - LIBCST_INTERNALS.get(path, set()) for path in _sources()))


def test_only_the_boundary_touches_keras_internals():
    """Private Keras names and ``keras.src`` only in record/graph.py and record/fitting.py (compat.py lists them)."""
    outside = {}
    for path in _sources():
        if path in BOUNDARY:
            continue
        text = path.read_text()
        found = set() if path.name in NAMES_ONLY else _private_names_in(path) - LIBCST_INTERNALS.get(path, set())
        if "keras.src" in text and path.name not in NAMES_ONLY:
            found.add("keras.src")
        if found:
            outside[str(path.relative_to(ROOT))] = found
    assert outside == {}
    assert {"_loss_tracker", "_nodes_by_depth", "_distribute_strategy", "_keras_history"} <= _private_names()


def test_every_private_keras_name_used_is_checked_at_start_up():
    listed = {re.split(r"[.(]", name.rstrip(")"))[-1] for _, name in compat.REQUIRED_KERAS_INTERNALS}
    used = _private_names()
    assert "_loss_tracker" in used and "_nodes_by_depth" in used  # the search finds them
    assert used - listed - OPTIONAL == set()


def test_every_keras_src_import_is_checked():
    listed = {(module, name.split(".")[0]) for module, name in compat.REQUIRED_KERAS_INTERNALS}
    imported = set()
    for path in BOUNDARY:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras.src"):
                for alias in node.names:
                    imported.add((node.module, alias.name))
    modules = {module for module, _ in compat.REQUIRED_KERAS_INTERNALS}
    for module, name in imported:  # `from keras.src import tree`: a module, checked through its names
        assert (module, name) in listed or f"{module}.{name}" in modules, (module, name)


def test_this_keras_has_them_all_and_a_missing_one_is_refused_clearly(monkeypatch):
    assert compat.missing_internals() == []
    compat.check_versions()
    monkeypatch.setattr(
        compat,
        "REQUIRED_KERAS_INTERNALS",
        compat.REQUIRED_KERAS_INTERNALS
        + (
            ("keras.src.trainers.trainer", "Trainer.self._not_in_any_keras"),
            ("keras.src.models.functional", "no_such_function"),
        ),
    )
    with pytest.raises(
        compat.UnsupportedVersion,
        match=r"lacks keras\.src\.trainers\.trainer\.Trainer\.self\._not_in_any_keras, "
        r"keras\.src\.models\.functional\.no_such_function, which the training loop needs",
    ):
        compat.check_versions()


def _keras_reports(monkeypatch, text):
    real = compat._version
    monkeypatch.setattr(
        compat, "_version", lambda name, *others: (text, (3, 8)) if name == "keras" else real(name, *others)
    )


def test_a_version_outside_the_range_is_refused_with_what_to_install(monkeypatch, capsys):
    _keras_reports(monkeypatch, "3.8.0")
    with pytest.raises(compat.UnsupportedVersion) as refused:
        compat.check_versions()
    low, high = compat.SUPPORTED["keras"]
    wanted = f"keras>={low[0]}.{low[1]},<{high[0]}.{high[1]}"
    assert (
        str(refused.value)
        == refused.value.code
        == (
            f"dnn-instrument: keras 3.8.0 is not supported (the training loop is proven on {wanted}); nothing was trained. "
            f"Install a supported version (pip install '{wanted}'), or run the original (uninstrumented) script."
        )
    )
    # tools/compat.py --pair tries a candidate: the range check is lifted with a warning, the internals still checked
    monkeypatch.setenv("DNN_INSTRUMENT_ANY_VERSION", "1")
    compat.check_versions()
    assert f"keras 3.8.0 is outside the supported range ({wanted}); training anyway" in capsys.readouterr().err


FAKED_KERAS = """import importlib.metadata, runpy, sys
real = importlib.metadata.version
importlib.metadata.version = lambda name: "3.8.0" if name == "keras" else real(name)
runpy.run_path(sys.argv[1], run_name="__main__")
"""
PROGRAM = """import numpy as np
import keras

model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
print("built")
model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=1, verbose=0)
print("trained")
"""


def test_an_instrumented_program_on_an_unsupported_keras_stops_before_training_without_a_traceback(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(instrument(PROGRAM, "train.py").code)
    (tmp_path / "faked.py").write_text(FAKED_KERAS)
    result = run_python(tmp_path / "faked.py", script, cwd=tmp_path, env={"DNN_INSTRUMENT_DIR": str(tmp_path / "runs")})
    assert (result.returncode, result.stdout) == (1, "built\n"), result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("dnn-instrument: keras 3.8.0 is not supported")
    assert not (tmp_path / "runs").exists()  # no run was started


def test_the_claim_is_read_from_pyproject_by_both():
    ranges = make_compat.supported()
    as_tuples = {
        package: tuple(tuple(int(p) for p in v.split(".")) for v in bounds) for package, bounds in ranges.items()
    }
    assert as_tuples == {"keras": compat.SUPPORTED["keras"], "tensorflow-cpu": compat.SUPPORTED["tensorflow"]}
    pairs = make_compat.pairs()
    low_keras, low_tf = ranges["keras"][0], ranges["tensorflow-cpu"][0]
    assert sorted(pairs["oldest"]) == sorted([f"keras~={low_keras}.0", f"tensorflow-cpu~={low_tf}.0"])


def test_make_compat_takes_candidate_pairs_outside_the_range():
    names, wanted, extra, pytest_args = make_compat.parse(
        ["newest", "--pair", "tf2.15=tensorflow-cpu~=2.15.0,keras==3.10.0", "--", "-x"]
    )
    assert (names, extra, pytest_args) == (["newest", "tf2.15"], {"tf2.15"}, ["-x"])
    assert (
        wanted["tf2.15"] == ["tensorflow-cpu~=2.15.0", "keras==3.10.0"]
        and wanted["newest"] == make_compat.pairs()["newest"]
    )
    assert make_compat.parse([])[0] == ["oldest", "newest"]
    for wrong in (["--pair", "oldest=keras==3.9.0"], ["--pair", "k3.9"], ["latest"]):
        with pytest.raises(SystemExit, match="--pair NAME=REQUIREMENT|unknown pair"):
            make_compat.parse(wrong)


def test_keras_3_10_epoch_items_are_adapted():
    iterator = object()
    assert fitting._steps_of((4, iterator), 1) == (4, 4, iterator)  # Keras 3.10: (step, iterator)
    assert fitting._steps_of((4, iterator), 3) == (4, 6, iterator)
    assert fitting._steps_of((4, 6, iterator), 3) == (4, 6, iterator)  # Keras 3.11 and later
