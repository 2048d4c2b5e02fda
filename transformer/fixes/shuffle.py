"""Data order: ``shuffle=False`` removed from ``fit``, and arrays shuffled before ``fit`` takes its
``validation_split`` (which Keras carves off the end, before any shuffling)."""

from .scaling import fit_arrays
from .source import argument, insert_after, line_of, literal, remove_argument


def candidates(source, finding, findings=()):
    fit = source.fit_call(line_of(finding.get("fit")))
    if fit is None:
        return []
    made = []
    shuffle = argument(fit, "shuffle", 8)
    if shuffle is not None and literal(shuffle.value) is False and shuffle.keyword is not None:
        made.append(("shuffle=False removed from fit (Keras shuffles each epoch)", source.apply({fit: remove_argument(fit, "shuffle")})))
    arrays = fit_arrays(source, finding)
    y = argument(fit, "y", 1)
    numpy = source.numpy()
    if arrays and y is not None and hasattr(y.value, "value") and isinstance(y.value.value, str) and numpy:
        x, y = arrays[1], y.value.value
        statements = [s for s in (source.assignment_before(n, source.line(fit)) for n in (x, y)) if s is not None]
        if statements:
            last = max(statements, key=source.line)
            order = f"{numpy}.random.default_rng(0).permutation(len({x}))"
            lines = [f"shuffled = {order}", f"{x}, {y} = {x}[shuffled], {y}[shuffled]"]
            made.append((f"{x} and {y} shuffled together before fit (its validation_split takes the end)",
                         source.apply({last: insert_after(last, *lines)})))
    return made
