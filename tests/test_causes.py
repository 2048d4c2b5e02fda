"""The causal graph (runtime/analysis/causes.py): one test per edge, severity, promotion of smells, verdicts."""

import pytest

from dnn_instrument.runtime.analysis import causes

EDGES = sorted((cause, effect) for cause, effects in causes.EXPLAINS.items() for effect in effects)


def finding(symptom, iteration, cause=None, severity=None):
    made = {
        "symptom": symptom,
        "iteration": iteration,
        "cause": cause or f"cause_of_{symptom}",
        "fix": f"fix {symptom}",
        "evidence": f"seen {symptom}",
        "layer": None,
    }
    if severity:
        made["severity"] = severity
    return made


def test_graph_has_no_cycle():
    for cause, effect in EDGES:
        assert not causes.explains(effect, cause), (cause, effect)


@pytest.mark.parametrize("cause, effect", EDGES)
def test_edge_makes_the_later_symptom_a_consequence(cause, effect):
    # given in the "wrong" order (the effect's rule ranked first): evidence decides, not the list
    ordered = causes.attribute([finding(effect, 7), finding(cause, 2)])
    assert [f["symptom"] for f in ordered] == [cause, effect]
    root, consequence = ordered
    assert root.get("consequence_of") is None and root["fix"] == f"fix {cause}"
    assert consequence["consequence_of"] == 0 and consequence["fix"] == "" and consequence["cause"] == root["cause"]


@pytest.mark.parametrize("cause, effect", EDGES[::7])
def test_edge_does_not_run_backwards_in_time(cause, effect):
    """A symptom seen before its would-be cause is not explained by it."""
    ordered = causes.attribute([finding(cause, 9), finding(effect, 3)])
    assert all(f.get("consequence_of") is None for f in ordered)


def test_unrelated_findings_stay_separate_roots():
    ordered = causes.attribute([finding("validation_mismatch", 5), finding("unchanged_weights", 1)])
    assert [f.get("consequence_of") for f in ordered] == [None, None]
    assert [f["symptom"] for f in ordered] == ["unchanged_weights", "validation_mismatch"]  # earlier onset first


def test_chain_root_first_and_every_link_to_the_root():
    """learning rate -> dead ReLU -> vanishing gradient -> loss stuck: one root, three consequences."""
    found = [
        finding("loss_not_decreasing", 30),
        finding("vanishing_gradient", 7),
        finding("dead_relu", 5),
        finding("learning_rate_too_high", 0, cause="learning_rate"),
    ]
    ordered = causes.attribute(found)
    assert [f["symptom"] for f in ordered] == [
        "learning_rate_too_high",
        "dead_relu",
        "vanishing_gradient",
        "loss_not_decreasing",
    ]
    assert [f.get("consequence_of") for f in ordered] == [None, 0, 0, 0]
    assert {f["cause"] for f in ordered} == {"learning_rate"}


def test_a_smell_alone_is_a_warning():
    ordered = causes.attribute([finding("unnormalized_input", 0), finding("missing_activation", 0)])
    assert {f["severity"] for f in ordered} == {"warning"}
    assert causes.verdict(ordered) == "warnings"


def test_a_smell_followed_by_a_failure_it_explains_is_a_fault():
    ordered = causes.attribute([finding("unnormalized_input", 0), finding("loss_at_chance_level", 20)])
    assert ordered[0]["severity"] == "fault" and "training fails" in ordered[0]["evidence"]
    assert causes.verdict(ordered) == "buggy"


def test_a_smell_beside_an_unrelated_failure_stays_a_warning():
    ordered = causes.attribute([finding("missing_activation", 0), finding("validation_mismatch", 20)])
    assert [(f["symptom"], f["severity"]) for f in ordered] == [
        ("validation_mismatch", "fault"),
        ("missing_activation", "warning"),
    ]


def test_faults_come_before_warnings():
    ordered = causes.attribute([finding("initialization_too_large", 0), finding("nan_in_data", 4)])
    assert [f["symptom"] for f in ordered] == ["nan_in_data", "initialization_too_large"]


@pytest.mark.parametrize(
    "severities, verdict", [([], "ok"), (["warning"], "warnings"), (["warning", "fault"], "buggy")]
)
def test_verdict(severities, verdict):
    assert causes.verdict([{"severity": s} for s in severities]) == verdict


def test_a_rule_can_set_the_severity():
    ordered = causes.attribute([finding("unchanged_weights", 0, severity="warning")])
    assert ordered[0]["severity"] == "warning"


def test_a_symptom_at_the_first_forward_pass_is_not_the_learning_rates():
    """Saturated from the very first forward pass (iteration 0): no update had been applied yet."""
    saturated = {**finding("saturated_activation", 0), "phase": "forward"}
    rate = {**finding("learning_rate_too_high", 0), "phase": "update"}
    ordered = causes.attribute([rate, saturated])
    assert [(f["symptom"], f.get("consequence_of")) for f in ordered] == [
        ("saturated_activation", None),
        ("learning_rate_too_high", None),
    ]
    later = {**finding("saturated_activation", 1), "phase": "forward"}
    assert (
        causes.attribute([later, {**finding("learning_rate_too_high", 0), "phase": "update"}])[1]["consequence_of"] == 0
    )


def test_report_puts_every_fits_faults_before_warnings_and_repoints_consequences():
    from dnn_instrument.runtime.report import document as report

    first_fit = [{**finding("missing_activation", 0, severity="warning"), "fit_index": 0}]
    second_fit = causes.attribute([finding("learning_rate_too_high", 0), finding("dead_relu", 4)])
    ordered = report._ordered([first_fit, second_fit[:2]])
    assert [(f["symptom"], f.get("consequence_of")) for f in ordered] == [
        ("learning_rate_too_high", None),
        ("dead_relu", 0),
        ("missing_activation", None),
    ]


def test_a_run_too_short_to_judge_is_no_failure():
    """A short run's loss is still near chance level: that follows from the few updates, and stays a warning."""
    short = [finding("loss_at_chance_level", 15), finding("too_few_updates", 0, severity="warning")]
    ordered = causes.attribute(short)
    assert [f["symptom"] for f in ordered] == ["too_few_updates", "loss_at_chance_level"]
    assert [f["severity"] for f in ordered] == ["warning", "warning"]
    assert causes.verdict(ordered) == "warnings"
    # the same failure under the full-batch fault (the rule's severity: fault) stays a failure
    full_batch = causes.attribute([finding("loss_at_chance_level", 15), finding("too_few_updates", 0)])
    assert causes.verdict(full_batch) == "buggy"
