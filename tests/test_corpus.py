"""Corpus labels are real: with plain Keras ``fit``, the buggy script shows the fault it is labelled with,
its fixed twin trains to the stated accuracy or loss, and a healthy program (one that carries a smell) trains.

Checks are those of ``fixtures/labels.json`` in the language of ``corpus_checks.py``. The suite checks
one pair per cause and a sample of the Stack Overflow-style pairs and healthy programs (CI's time is
bounded); ``make bench`` checks every case the same way and prints how many labels hold
(``python bench/corpus.py --labels`` does only that).
"""

import json
import sys

import pytest
from conftest import FIXTURES, ROOT, halves, once_per_group, run_python
from corpus_checks import failed_checks

sys.path.insert(0, str(ROOT / "bench"))
import corpus  # noqa: E402  (bench/corpus.py: the benchmark's scoring, tested on made-up reports below)

LABELS = json.loads((FIXTURES / "labels.json").read_text())
CASES = {case["id"]: case for case in LABELS["cases"]}
CAUSES = {
    "learning_rate",
    "last_layer_activation",
    "loss_function",
    "weight_initialization",
    "input_normalization",
    "vanishing_gradient",
    "exploding_gradient",
    "dead_relu",
    "saturated_activation",
    "numerical_operation",
    "output_range",
    "label_format",
    "optimizer",
    "batch_size",
    "regularization",
    "architecture",
    "data",
    "frozen_model",
}
PAIRS = {case_id: case for case_id, case in CASES.items() if case["kind"] == "pair"}
HEALTHY = {case_id: case for case_id, case in CASES.items() if case["kind"] == "healthy"}


variants = corpus.variants


def test_labels_are_complete():
    assert LABELS["schema"] == 2
    assert len(PAIRS) >= 50 and len(HEALTHY) >= 10
    folders = {p.name for p in (FIXTURES / "corpus").iterdir() if p.is_dir()}
    assert folders == set(CASES)
    for case_id, case in CASES.items():
        assert case["kind"] in ("pair", "healthy"), case_id
        assert case["split"] in ("calibration", "holdout"), case_id
        assert case["description"] and case["source"], case_id
        scripts = {p.name for p in (FIXTURES / "corpus" / case_id).glob("*.py")}
        assert scripts == {f"{variant}.py" for variant in variants(case)}, case_id
        for variant in variants(case):
            assert case[f"expect_{variant}"], (case_id, variant)
        if case["kind"] == "pair":
            assert case["cause"] in CAUSES, case_id
            assert case["symptom"] and isinstance(case["faulty_layers"], list), case_id
        else:
            assert case["smell"] and "cause" not in case, case_id
    splits = [case["split"] for case in CASES.values()]
    assert splits.count("holdout") >= 10, "the holdout split must be large enough to judge on"


ONE_PER_CAUSE = sorted({case["cause"]: case_id for case_id, case in sorted(PAIRS.items(), reverse=True)}.values())
# the Stack Overflow-style additions: a huge learning rate killing standalone Activation('relu') layers (one
# per cause above already covers the frozen model), and healthy programs that carry a smell, in one process
HEALTHY_SAMPLE = [
    "h03_regression_accuracy_metric",
    "h05_activation_layers_rmsprop_default",
    "h14_gan_train_step_no_loss_key",
]


def run_in_one_process(case_ids, folder):
    """Every script of the cases, one after the other in one process (``corpus_harness.py``): ``{(case_id,
    variant): its record, or None where the harness wrote none}`` and the harness's stderr."""
    scripts = [
        (case_id, variant, FIXTURES / "corpus" / case_id / f"{variant}.py")
        for case_id in case_ids
        for variant in variants(CASES[case_id])
    ]
    paths = [folder / f"{case_id}-{variant}.json" for case_id, variant, _ in scripts]
    result = run_python(
        ROOT / "tests" / "corpus_harness.py", *[a for (_, _, s), p in zip(scripts, paths) for a in (s, p)]
    )
    records = {
        (case_id, variant): json.loads(path.read_text()) if path.exists() else None
        for (case_id, variant, _), path in zip(scripts, paths)
    }
    return records, result.stderr


def assert_labels_hold(case_ids, records, stderr):
    """Each script of the cases shows what its label says."""
    for case_id in case_ids:
        for variant in variants(CASES[case_id]):
            record = records[case_id, variant]
            assert record is not None, stderr[-3000:]
            failures = failed_checks(record, CASES[case_id][f"expect_{variant}"])
            assert not failures, f"{case_id}/{variant}: {failures}"
            if variant == "buggy" and CASES[case_id]["faulty_layers"]:
                layers = record["fits"][-1]["layers"]
                assert set(CASES[case_id]["faulty_layers"]) <= set(layers), (CASES[case_id]["faulty_layers"], layers)


LABEL_SAMPLE = ONE_PER_CAUSE + ["c01_sgd_lr_kills_relu_activation_layers"]
HALVES = halves(LABEL_SAMPLE, "corpus-labels")  # two processes for the sample, not one per case


@pytest.mark.slow
@pytest.mark.parametrize(
    "case_id", [pytest.param(case_id, marks=pytest.mark.xdist_group(HALVES[case_id])) for case_id in LABEL_SAMPLE]
)
def test_label_is_real(case_id, tmp_path_factory):
    """The buggy script and its fixed twin (in one process with half of the sample)."""
    half = HALVES[case_id]
    cases = [c for c in LABEL_SAMPLE if HALVES[c] == half]
    assert_labels_hold(
        [case_id], *once_per_group(half, lambda: run_in_one_process(cases, tmp_path_factory.mktemp(half)))
    )


@pytest.mark.slow
def test_healthy_programs_train(tmp_path):
    """Healthy programs with a smell (accuracy on a regression, standalone Activation layers with RMSprop's
    default, a GAN whose logs have no ``loss``) train as their labels say."""
    assert_labels_hold(HEALTHY_SAMPLE, *run_in_one_process(HEALTHY_SAMPLE, tmp_path))


def _record(history, weights_finite=True):
    return {"error": None, "fits": [{"history": history, "weights_finite": weights_finite, "layers": []}]}


def test_checks_for_healthy_programs():
    """``loss_drop_at_least`` and ``finite``: a model that learns, and a run whose logs have no ``loss``."""
    learns = _record({"loss": [1.0, 0.4], "accuracy": [0.0, 0.0]})
    assert not failed_checks(learns, [{"loss_drop_at_least": 0.5}])
    assert failed_checks(learns, [{"loss_drop_at_least": 0.7}])
    gan = _record({"d_loss": [1.4, 1.3], "g_loss": [0.7, 0.6]})
    assert not failed_checks(gan, [{"finite": True}, {"metric": "d_loss", "final_at_least": 0.5}])
    assert failed_checks(_record({"d_loss": [1.4, "nan"], "g_loss": [0.7, 0.6]}), [{"finite": True}])
    assert failed_checks(_record({"d_loss": [1.4, 1.3]}, weights_finite=False), [{"finite": True}])


def test_bench_scores_splits_false_alarms_and_chains():
    """``bench/corpus.py`` on made-up reports: splits apart, a ``buggy`` verdict on a healthy program is a false
    alarm, ``warnings`` on a fixed twin is not, and consequences count only where reports carry them."""
    chain = [
        {"symptom": "dead_relu", "cause": "learning_rate"},
        {"symptom": "vanishing_gradient", "consequence_of": 0},
        {"symptom": "loss_not_decreasing", "consequence_of": "vanishing_gradient"},
    ]
    assert corpus.consequences(chain) == {"of_root": 1, "total": 2}
    assert corpus.consequences([{"symptom": "dead_relu", "consequences": [{"symptom": "vanishing_gradient"}]}]) == {
        "of_root": 1,
        "total": 1,
    }
    assert corpus.consequences([{"symptom": "dead_relu"}]) is None
    cases = [
        CASES["c01_sgd_lr_kills_relu_activation_layers"],
        CASES["c02_adam_lr_one_tanh"],
        CASES["h01_digits_0_255_convnet"],
    ]
    assert [case["split"] for case in cases] == ["calibration", "holdout", "holdout"]
    verdicts = {"buggy": "buggy", "fixed": "warnings", "healthy": "buggy"}
    runs = [
        {
            "id": case["id"],
            "variant": variant,
            "baseline": {},
            "plain_fit_seconds": None,
            "label_failures": None,
            "ours": {
                "verdict": verdicts[variant],
                "layer": None,
                "cause": "learning_rate",
                "iteration": 4,
                "consequences": corpus.consequences(chain)
                if variant == "buggy" and case["split"] == "calibration"
                else None,
            },
        }
        for case in cases
        for variant in corpus.variants(case)
    ]
    rows, totals = corpus.score(cases, runs)
    calibration, holdout = totals["calibration"], totals["holdout"]
    assert (calibration["detected"], calibration["localized"], calibration["false_alarm"]) == (1, 1, 0)
    assert (holdout["detected"], holdout["false_alarm_fixed"], holdout["false_alarm_healthy"]) == (1, 0, 1)
    assert calibration["verdicts_fixed"] == {"warnings": 1} and holdout["verdicts_healthy"] == {"buggy": 1}
    assert calibration["consequences"] == {"of_root": 1, "total": 2} and holdout["consequences"] is None
    text = corpus.table(rows, totals)
    assert "consequences attached to their root" in text and "h01_digits_0_255_convnet" in text
