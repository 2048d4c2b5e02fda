"""``transformer/positions.py`` drives libcst's code generation internals to compute positions lazily: every range
it gives must be the one libcst's own ``PositionProvider`` gives, on real programs of every shape we have."""

import libcst as cst
import pytest
from conftest import PROGRAMS
from libcst.metadata import MetadataWrapper, PositionProvider

from dnn_instrument.transformer import positions

ROOT = PROGRAMS.parent.parent
SOURCES = sorted(PROGRAMS.glob("*.py")) + sorted((ROOT / "tests" / "golden").rglob("*.py"))[:40]

EDGE_CASES = """\
import keras as k
if a:
    x = 1
elif b:  # an elif is written with its parent
    x = 2
else:
    x = 3


@decorator(1)
class Net(k.Model):
    def train_step(self, data):
        return {"loss": data}
# a comment between statements
def build(units=8, *, name=None):
    return k.Sequential([k.layers.Dense(units)])
m = build(); m.fit(x, y)\r
"""


def _parents(module):
    parents = {}

    class Visitor(cst.CSTVisitor):
        def on_visit(self, node):
            for child in node.children:
                parents[child] = node
            return True

    module.visit(Visitor())
    return parents


@pytest.mark.parametrize("source", [EDGE_CASES] + SOURCES, ids=lambda s: getattr(s, "name", "edge_cases"))
def test_lazy_positions_are_libcsts(source):
    text = source if isinstance(source, str) else source.read_text()
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    lazy = positions.positions(module, _parents(module))
    assert positions.LAZY, "this libcst no longer has what LazyPositions drives: the fallback is in use"
    different = [(type(n).__name__, expected[n], lazy[n]) for n in expected if n in lazy and lazy[n] != expected[n]]
    assert not different, different[:5]
    asked = [n for n in expected if n in lazy]
    assert len(asked) > len(expected) / 2  # most nodes answered (a def's body-less header is the exception)
