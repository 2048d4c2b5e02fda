"""A fast, deterministic slice of ``bench/sweep.py``: real files of the installed keras and tensorflow.

``python bench/sweep.py`` runs the transformer over every ``.py`` file of both packages (a million
lines); here, a sample of them runs in this process, on one core, in well under a minute:

- every k-th file (sorted by path) among those of at most ``MAX_LINES`` lines, ``SAMPLE`` of them;
- every keras file with a ``.fit(`` call, of at most ``MAX_LINES`` lines (where the rewrite happens).

No file may crash; untouched files come back byte for byte; instrumented ones compile. A handful then
go through the real command line, for its exit codes (0, 1, 2) and the absence of any traceback.
"""

import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

sys.path.insert(0, str(ROOT / "bench"))
import sweep  # noqa: E402  (bench/sweep.py)

# one xdist worker runs this module's tests (`make test` uses --dist loadgroup), so that its module-scoped
# fixture (a real run) runs once
pytestmark = pytest.mark.xdist_group("sweep")

SAMPLE = 150
MAX_LINES = 400
FIT_CALL = re.compile(rb"\.fit\(")


def _lines(path):
    return sweep.count_lines(path.read_bytes())


@pytest.fixture(scope="module")
def chosen():
    """``(sampled, keras_fit_files)``: the deterministic selection (paths)."""
    files = sweep.package_files()
    assert len(files) > 1000, "keras and tensorflow should be installed in this environment"
    small = [path for path in files if _lines(path) <= MAX_LINES]
    sampled = sweep.sample(small, SAMPLE)
    keras_dirs = tuple(str(folder) for folder in sweep.package_dirs(("keras",)))
    fitting = [path for path in small if str(path).startswith(keras_dirs) and FIT_CALL.search(path.read_bytes())]
    assert len(fitting) > 20
    return sampled, fitting


@pytest.fixture(scope="module")
def result(chosen):
    sampled, fitting = chosen
    paths = sorted(set(sampled) | set(fitting))
    return sweep.sweep(paths, workers=1)


def test_sample_is_deterministic(chosen):
    sampled, _ = chosen
    assert sampled == sweep.sample(sorted(sampled), len(sampled))
    assert len(sampled) == SAMPLE


def test_no_file_crashes(result):
    assert result["crashed"] == 0, sweep.summary(result)
    assert result["files"] == result["instrumented"] + result["untouched"] + result["refused"]


def test_some_files_are_instrumented(result):
    # The keras tests call fit on Sequential and functional models: some of them must be rewritten.
    assert result["instrumented"] >= 5, sweep.summary(result)
    assert result["fit_calls_rewritten"] >= 5


def test_outcomes_hold(result):
    """Re-check each outcome independently of ``check_file``'s own verdict."""
    from dnn_instrument.transformer import instrument

    instrumented = [r for r in result["outcomes"] if r["outcome"] == "instrumented"]
    untouched = [r for r in result["outcomes"] if r["outcome"] == "untouched"]
    for record in instrumented[:5] + untouched[:20]:
        data = Path(record["path"]).read_bytes()
        produced = instrument(data.decode("utf-8"), record["path"])
        if record["outcome"] == "untouched":
            assert not produced.changed
            assert produced.code.encode("utf-8") == data
        else:
            assert produced.changed
            compile(produced.code, record["path"], "exec")
    for record in result["outcomes"]:
        if record["outcome"] == "refused":
            assert re.match(rf"{re.escape(record['path'])}:\d+:\d+: ", record["detail"])


def test_sweep_reports_crashes(tmp_path, monkeypatch):
    """A crash is recorded with its path and traceback, and the command exits 1."""
    import dnn_instrument.transformer as transformer

    source = tmp_path / "any.py"
    source.write_text("import keras\n")

    def broken(source, path="<stdin>", callback_only=False):
        raise ZeroDivisionError("deliberate")

    monkeypatch.setattr(transformer, "instrument", broken)
    found = sweep.sweep([source], workers=1)
    assert found["crashed"] == 1
    assert found["crashes"][0]["path"] == str(source)
    assert "ZeroDivisionError: deliberate" in found["crashes"][0]["traceback"]
    assert sweep.main([str(source)]) == 1


def test_sweep_refuses_like_the_cli(tmp_path):
    binary, latin, broken, plain = (tmp_path / name for name in ("b.py", "l.py", "s.py", "p.py"))
    binary.write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00")
    latin.write_bytes("# caf\xe9\n".encode("latin-1"))
    broken.write_text("def f(:\n")
    plain.write_text("print('hello')\n")
    found = {Path(r["path"]).name: r for r in sweep.sweep([binary, latin, broken, plain], workers=1)["outcomes"]}
    assert found["b.py"]["outcome"] == "refused" and "binary data" in found["b.py"]["detail"]
    assert found["l.py"]["outcome"] == "refused" and "not UTF-8" in found["l.py"]["detail"]
    assert found["s.py"]["outcome"] == "refused" and found["s.py"]["detail"].startswith(f"{broken}:1:")
    assert found["p.py"]["outcome"] == "untouched"


def _assert_clean(completed):
    assert "Traceback" not in completed.stderr, completed.stderr
    assert "internal error" not in completed.stderr, completed.stderr


def test_cli_on_sampled_files(result, tmp_path):
    records = result["outcomes"]
    instrumented = [r for r in records if r["outcome"] == "instrumented"][:2]
    untouched = [r for r in records if r["outcome"] == "untouched"][:2]
    assert len(instrumented) == 2 and len(untouched) == 2
    for n, record in enumerate(instrumented):
        out = tmp_path / f"instrumented_{n}.py"
        completed = run_cli(record["path"], "-o", out)
        _assert_clean(completed)
        assert completed.returncode == 0, completed.stderr
        compile(out.read_text(encoding="utf-8"), str(out), "exec")
    for n, record in enumerate(untouched):
        out = tmp_path / f"untouched_{n}.py"
        completed = run_cli(record["path"], "-o", out)
        _assert_clean(completed)
        assert completed.returncode == 1, completed.stderr
        assert "nothing to instrument" in completed.stderr
        assert not out.exists()
    # A real file cut in the middle of a statement: refused with path:line:col, exit 2.
    text = Path(instrumented[0]["path"]).read_text(encoding="utf-8")
    broken = tmp_path / "cut.py"
    broken.write_text(text + "\nmodel.fit(x,\n")
    out = tmp_path / "cut_out.py"
    completed = run_cli(broken, "-o", out)
    _assert_clean(completed)
    assert completed.returncode == 2, completed.stderr
    assert re.match(rf"{re.escape(str(broken))}:\d+:\d+: syntax error", completed.stderr), completed.stderr
    assert not out.exists()
