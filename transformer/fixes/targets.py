"""Target range (``output_range``): regression targets outside what the output activation can give, scaled
into its range where they are built, ``y = y / N``, ``N`` the largest magnitude of the targets the finding
measured ("targets from -310 to 290"), else the divisor its fix names ("divide by 290"); the validation
targets (``validation_data=(x, y)``) too. The other repair, a linear output, is ``output``'s."""

import re

import libcst as cst

from .source import argument, insert_after, line_of


def candidates(source, finding, findings=()):
    fit = source.fit_call(line_of(finding.get("fit")))
    factor = _factor(finding)
    if fit is None or factor is None:
        return []
    names = []
    y = argument(fit, "y", 1)
    if y is not None and isinstance(y.value, cst.Name):
        names.append(y.value.value)
    validation = argument(fit, "validation_data", 7)
    if validation is not None and isinstance(validation.value, cst.Tuple) and len(validation.value.elements) > 1:
        second = validation.value.elements[1].value
        if isinstance(second, cst.Name):
            names.append(second.value)
    statements = [source.assignment_before(name, source.line(fit)) for name in names]
    if not names or any(s is None for s in statements):
        return []
    last = max(statements, key=source.line)
    lines = [f"{name} = {name} / {factor}" for name in names]
    return [
        (
            f"{', '.join(names)} divided by {factor} (into the output's range)",
            source.apply({last: insert_after(last, *lines)}),
        )
    ]


NUMBER = r"(-?[0-9.]+(?:e[+-]?[0-9]+)?)"


def _factor(finding):
    """The divisor as source text, or None."""
    measured = re.search(rf"targets from {NUMBER} to {NUMBER}", finding.get("evidence", ""))
    if measured:
        largest = max(abs(float(measured.group(1))), abs(float(measured.group(2))))
        return format(largest, "g") if largest > 0 else None
    named = re.search(rf"divide by {NUMBER}", finding.get("fix", ""))
    return named.group(1) if named and float(named.group(1)) > 0 else None
