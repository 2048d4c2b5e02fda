"""Optimizer settings outside their range: ``beta_1``/``beta_2``/``momentum`` >= 1 back to Keras's default,
and a learning-rate schedule that decays the rate away replaced by its initial rate."""

import libcst as cst

from .learning_rate import optimizer_of
from .source import argument, literal, set_argument

DEFAULTS = {"beta_1": "0.9", "beta_2": "0.999", "momentum": "0.9"}


def candidates(source, finding, findings=()):
    optimizer = optimizer_of(source, finding)
    if optimizer is None or not isinstance(optimizer[0], cst.Call):
        return []
    node = optimizer[0]
    made = []
    bad = {
        k: v
        for k, v in DEFAULTS.items()
        if argument(node, k) is not None
        and isinstance(literal(argument(node, k).value), (int, float))
        and literal(argument(node, k).value) >= 1
    }
    if bad:
        new = node
        for keyword, value in bad.items():
            new = set_argument(new, keyword, value)
        made.append(
            (
                ", ".join(f"{k}={v}" for k, v in bad.items()) + f" in the {optimizer[1]} optimizer",
                source.apply({node: new}),
            )
        )
    rate = argument(node, "learning_rate", 0)
    schedule = rate.value if rate is not None else None
    if isinstance(schedule, cst.Name):
        statement = source.assignment_before(schedule.value, source.line(node) + 1)
        values = [s.value for s in (statement.body if statement else []) if isinstance(s, cst.Assign)]
        schedule = values[0] if values else None
    if isinstance(schedule, cst.Call) and "schedules" in (source.keras(schedule) or ""):
        initial = argument(schedule, "initial_learning_rate", 0)
        if initial is not None:
            made.append(
                (
                    f"a constant learning rate ({source.text(initial.value)}) instead of the decaying schedule",
                    source.apply({rate.value: initial.value}),
                )
            )
    return made
