"""``--strip``: instrument then strip gives back the original byte for byte; an edited file is refused."""

import re
from pathlib import Path

import pytest
from conftest import FIXTURES, PROGRAMS

from dnn_instrument.transformer import instrument
from dnn_instrument.transformer.strip import CannotRestore, NotInstrumented, strip

GOLDEN = Path(__file__).parent / "golden" / "before"
ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*GOLDEN.glob("*.py"), *FIXTURES.rglob("*.py"), *PROGRAMS.glob("*.py")])


def round_trip(source, name, callback_only=False):
    result = instrument(source, name, callback_only=callback_only)
    assert result.changed, "nothing was instrumented"
    assert strip(result.code, name) == source
    return result


def test_every_source_is_covered():
    assert (
        len(SOURCES) > 100 and any("buggy.py" in p.name for p in SOURCES) and any("fixed.py" in p.name for p in SOURCES)
    )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_round_trip(path):
    source = path.read_text()
    result = instrument(source, path.name)
    if not result.changed:  # then there is nothing to undo, and strip says so
        with pytest.raises(NotInstrumented):
            strip(result.code, path.name)
        return
    assert strip(result.code, path.name) == source


@pytest.mark.parametrize("path", [*GOLDEN.glob("*.py"), *PROGRAMS.glob("eq_*.py")], ids=lambda p: p.name)
def test_round_trip_callback_only(path):
    round_trip(path.read_text(), path.name, callback_only=True)


CUSTOM = (
    "import keras\nclass M(keras.Model):\n    def train_step(self, d):\n        pass\nm = M()\nm.compile(loss='mse')\n"
)
SEQUENTIAL = "import keras\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.compile(loss='mse')\n"

# Spellings where what the rewrite adds looks like text the user could have written, or where whitespace
# moves between libcst nodes when the instrumented file is parsed again.
TRICKY = {
    "callbacks list, space before bracket": CUSTOM + "m.fit(x, y, callbacks=[a, ])\nm.fit(x, y, callbacks=[a])\n",
    "empty callbacks list": CUSTOM + "m.fit(x, y, callbacks=[])\nm.fit(x, y, callbacks=[],)\nm.fit(callbacks=[])\n",
    "trailing commas": CUSTOM + "m.fit(x, y,)\nm.fit(x, y,  )\nm.fit()\nm.fit(\n    x,\n    y,\n)\n",
    "space before the parenthesis": CUSTOM + "m.fit( x , y )\nm.fit(\n    x,\n    y  # last\n)\n",
    "callbacks across lines": CUSTOM
    + "m.fit(x, callbacks=[a  # mine\n])\nm.fit(x, callbacks = [ ] )\nm.fit(x, callbacks=cb)\n",
    "crlf line ends": SEQUENTIAL.replace("\n", "\r\n") + "model.fit(x, y)\r\n",
    "no final newline, docstring, future import, loop name taken": '"""doc"""\nfrom __future__ import annotations\n'
    + SEQUENTIAL
    + "instrumented_fit = 1\nmodel.fit(x, y)",
    "form feed and non-ASCII": SEQUENTIAL.replace("\n", "  # café\n\x0c\n", 1) + "model.fit( x , y )\nmodel.fit()\n",
    "a generator as the only argument": SEQUENTIAL + "model.fit(b for b in x)\nmodel.fit((b for b in x))\n",
    "byte order mark": "\ufeff" + SEQUENTIAL + "model.fit(x, y)\n",
    "text around the dot": SEQUENTIAL
    + "(model\n  .fit(x, y))\nh = (model  # c\n    .fit())\nmodel \\\n  .fit(x)\nmodel . fit (x)\n",
}


@pytest.mark.parametrize("case", sorted(TRICKY))
@pytest.mark.parametrize("callback_only", [False, True])
def test_tricky_spellings_round_trip(case, callback_only):
    round_trip(TRICKY[case], "t.py", callback_only)


def test_rewrite_keeps_the_lines_and_comments_around_the_dot():
    source = SEQUENTIAL + "h = (model  # the model\n     .fit(x))\n"
    code = instrument(source, "t.py").code
    assert "h = (instrumented_fit('t.py:4', model  # the model\n     , x))\n" in code


@pytest.fixture
def instrumented():
    source = (GOLDEN / "several_fits.py").read_text()
    return source, instrument(source, "several_fits.py").code


@pytest.mark.parametrize(
    "edit",
    [
        lambda code: code.replace("(0.1, 0.01)", "(0.1,)"),  # a user line
        lambda code: code.replace("net, x, y, epochs=1)", "net, x, y, epochs=2)"),  # a rewritten call
        lambda code: code.replace("\n\n", "\n", 1),  # a line removed: the line map no longer fits
        lambda code: code + "print('added')\n",
        lambda code: re.sub(r"sha256 [0-9a-f]{16}", "sha256 " + "0" * 16, code),  # another fingerprint
    ],
    ids=["user line", "rewritten call", "line removed", "line added", "fingerprint"],
)
def test_edited_file_is_refused(instrumented, edit):
    _, code = instrumented
    edited = edit(code)
    assert edited != code
    with pytest.raises(CannotRestore) as refused:
        strip(edited, "x.py")
    assert str(refused.value) == "x.py:1:1: the file was edited after instrumenting; cannot restore exactly"


def test_edits_of_the_generated_loop_alone_do_not_matter(instrumented):
    source, code = instrumented
    assert strip(code.replace("probe.loss(loss)", "pass"), "x.py") == source


def test_not_instrumented_and_no_fingerprint(instrumented):
    source, code = instrumented
    with pytest.raises(NotInstrumented):
        strip(source, "x.py")
    old_header = code.replace(code.splitlines()[1].split("  # original")[1], "", 1).replace("  # original", "", 1)
    with pytest.raises(CannotRestore, match="no fingerprint"):
        strip(old_header, "x.py")
