"""The learning rate: a new value in the optimizer object's ``learning_rate``, or a string optimizer
(``"adam"``) turned into the object with that rate, spelled as the file imports Keras.

Candidate values (AUTOTRAINER-style, a few steps): the rate the finding suggests from the measured
update/weight ratio ("from 0.01 to about 0.0001"), then powers of ten towards it from the current rate."""

import re

import libcst as cst

from .source import OPTIMIZER_CLASSES, argument, line_of, literal, set_argument

NUMBER = r"([0-9][0-9.]*(?:e[-+]?[0-9]+)?)"


def optimizer_of(source, finding):
    """``(node, class name, learning rate or None, compile call)`` of the optimizer the fit trains with."""
    fit = source.fit_call(line_of(finding.get("fit")))
    compile_call = source.compile_call(fit)
    if compile_call is None:
        return None
    arg = argument(compile_call, "optimizer", 0)
    if arg is None:
        return None
    node = arg.value
    if isinstance(node, cst.Name):  # optimizer = keras.optimizers.SGD(...) earlier
        statement = source.assignment_before(node.value, source.line(compile_call) + 1)
        values = [s.value for s in (statement.body if statement else []) if isinstance(s, cst.Assign)]
        node = values[0] if values else node
    if isinstance(node, cst.SimpleString):
        known = OPTIMIZER_CLASSES.get(str(literal(node)).lower())
        return (node, known[0], known[1], compile_call) if known else None
    if isinstance(node, cst.Call) and (source.keras(node) or "").startswith("optimizers."):
        name = source.keras(node).rsplit(".", 1)[-1]
        rate = argument(node, "learning_rate", 0) or argument(node, "lr")
        defaults = dict(OPTIMIZER_CLASSES.values())
        value = literal(rate.value) if rate is not None else defaults.get(name, 0.001)
        if not isinstance(value, (int, float)):
            value = None  # a schedule or a variable: no single rate to scale
        return node, name, value, compile_call
    return None


def with_settings(source, optimizer, **settings):
    """``{old: new}`` making ``optimizer`` (from ``optimizer_of``) carry ``settings`` (keyword -> source text)."""
    node, name, rate, _ = optimizer
    if isinstance(node, cst.SimpleString):
        spelled = source.spelling(f"optimizers.{name}")
        if spelled is None:
            return None
        settings = {"learning_rate": repr(rate), **settings}
        text = ", ".join(f"{k}={v}" for k, v in settings.items())
        return {node: cst.parse_expression(f"{spelled}({text})")}
    new = node
    for keyword, value in settings.items():
        position = 0 if keyword == "learning_rate" else None
        if (
            keyword == "learning_rate"
            and argument(node, "lr") is not None
            and argument(node, "learning_rate", 0) is None
        ):
            keyword = "lr"
        new = set_argument(new, keyword, value, position)
    return {node: new}


def rates(current, finding, default=None):
    """The learning rates to try, most likely first. The direction: the rate the finding suggests ("to about
    0.05"), else its words ("lower", "raise"), else (both or neither said) the rate itself: below 1e-3 up,
    from 0.1 down, in between both ways. Up without a suggestion starts at the optimizer's default rate."""
    text = f"{finding.get('fix', '')} {finding.get('evidence', '')}"
    suggested = re.search(r"to about " + NUMBER, text)
    start = float(suggested.group(1)) if suggested else None
    down = bool(re.search(r"\b(lower|reduce|smaller|decrease)\b", text))
    up = bool(re.search(r"\b(raise|increase|larger|higher)\b", text))
    if start:
        lower = start < current
    elif down != up:
        lower = down
    else:
        lower = True if current >= 0.1 else False if current < 1e-3 else None
    if lower is None:  # a middling rate and no direction: one step each way, then further down
        values = [current / 10, current * 10, current / 100]
    elif lower:  # the suggestion from the measured ratio first, then further down
        values = [start, start / 10, start / 100] if start else [current / 10, current / 100, current / 1000]
        values = [v for v in values if v < current]
    else:
        base = start or (default if default and default > current else None)
        values = [base, base * 10, base / 10] if base else [current * 10, current * 100, current * 1000]
        values = [v for v in values if v > current]
    seen = []
    for value in values:
        value = float(f"{value:.0e}")
        if value not in seen:
            seen.append(value)
    return seen[:3]


def candidates(source, finding, findings=()):
    optimizer = optimizer_of(source, finding)
    if optimizer is None or optimizer[2] is None:
        return []
    made = []
    default = dict(OPTIMIZER_CLASSES.values()).get(optimizer[1])
    for rate in rates(float(optimizer[2]), finding, default):
        replacements = with_settings(source, optimizer, learning_rate=repr(rate))
        if replacements:
            made.append(
                (
                    f"learning_rate={rate!r} (was {optimizer[2]!r}) in the {optimizer[1]} optimizer",
                    source.apply(replacements),
                )
            )
    return made
