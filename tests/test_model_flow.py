"""Model resolution follows the flow of the file (issue 11, items 3 and 4).

Each ``model.fit`` is decided by the bindings of ``model`` that reach it, not by every binding of the name
anywhere in the file; a model passed into a function is rewritten when the call is recognisably Keras.
"""

import libcst as cst
from libcst.metadata import MetadataWrapper

from dnn_instrument.transformer.fit_sites import find_fit_sites

HEADER = "import keras\nclass Own(keras.Model):\n    def train_step(self, data):\n        return super().train_step(data)\n\n"
SEQ = "keras.Sequential([keras.layers.Dense(1)])"
OWN = "Own(keras.Input((2,)), keras.layers.Dense(1)(keras.Input((2,))))"


def decisions(body):
    sites = find_fit_sites(MetadataWrapper(cst.parse_module(HEADER + body)))
    return [(site.action, site.reason) for site in sites]


def actions(body):
    return [action for action, _ in decisions(body)]


def test_each_fit_sees_the_binding_made_before_it():
    body = f"model = {SEQ}\nmodel.fit(x, y, epochs=1)\nmodel = {OWN}\nmodel.fit(x, y, epochs=1)\nmodel = {SEQ}\nmodel.fit(x, y, epochs=1)\n"
    assert decisions(body) == [
        ("rewrite", "sequential model"),
        ("callback", "Own defines its own train_step: fit kept, Diagnose callback attached"),
        ("rewrite", "sequential model"),
    ]


def test_a_binding_takes_effect_after_its_own_statement():
    body = f"model = {SEQ}\nmodel = model\nmodel.fit(x, epochs=1)\n"
    assert actions(body) == ["rewrite"]  # `model = model` reads the binding before it, not itself


def test_bindings_in_branches_all_reach_the_fit_after_them():
    both = f"model = {SEQ}\nif flag:\n    model = {OWN}\nmodel.fit(x, y, epochs=1)\n"
    assert actions(both) == ["callback"]  # the Own model may be the one trained: the cautious answer
    other_branch = f"if flag:\n    model = {OWN}\nelse:\n    model = {SEQ}\n    model.fit(x, y, epochs=1)\n"
    assert actions(other_branch) == ["rewrite"]
    with_block = f"model = {OWN}\nwith scope():\n    model = {SEQ}\nmodel.fit(x, y, epochs=1)\n"
    assert actions(with_block) == ["rewrite"]  # a with body always runs


def test_a_loop_carries_the_binding_of_its_previous_iteration():
    carried = f"model = {SEQ}\nfor i in range(2):\n    model.fit(x, y, epochs=1)\n    model = {OWN}\n"
    assert actions(carried) == ["callback"]
    rebuilt = f"for i in range(2):\n    model = {SEQ}\n    model.fit(x, y, epochs=1)\n    model = {OWN}\n"
    assert actions(rebuilt) == ["rewrite"]  # rebound before the fit on every iteration


def test_a_global_read_in_a_function_may_see_any_binding():
    body = f"model = {SEQ}\ndef train():\n    model.fit(x, y, epochs=1)\nmodel = {OWN}\n"
    assert actions(body) == ["callback"]


def test_a_builder_redefined_later_does_not_change_an_earlier_fit():
    body = (
        f"def build():\n    return {SEQ}\nmodel = build()\nmodel.fit(x, y, epochs=1)\n"
        f"def build():\n    return {OWN}\nmodel = build()\nmodel.fit(x, y, epochs=1)\n"
    )
    assert actions(body) == ["rewrite", "callback"]


def test_a_parameter_is_rewritten_when_the_call_is_recognisably_keras():
    body = (
        "def compile_and_fit(model, x, y):\n    model.compile(loss='mse')\n    return model.fit(x, y)\n"
        "def fit_more(net, x):\n    return net.fit(x, epochs=3)\n"
        "def train(clf, x, y):\n    clf.fit(x, y)\n"
    )
    assert decisions(body) == [
        ("rewrite", "'model' is a parameter of compile_and_fit()"),
        ("rewrite", "'net' is a parameter of fit_more()"),
        ("ignore", "not a Keras model.fit call (no Keras model or fit arguments found)"),
    ]


def test_a_parameter_rebound_in_its_function_follows_the_rebinding():
    body = f"def train(model, x):\n    model = {OWN}\n    model.fit(x, epochs=1)\n"
    assert actions(body) == ["callback"]
