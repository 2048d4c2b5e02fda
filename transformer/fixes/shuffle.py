"""Data order: ``shuffle=False`` removed from ``fit``; arrays shuffled before ``fit`` takes its
``validation_split`` (which Keras carves off the end, before any shuffling); a ``tf.data`` pipeline that
batches without shuffling given ``.shuffle(10000, seed=0)`` before its ``.batch``."""

import libcst as cst

from .scaling import fit_arrays
from .source import argument, insert_after, line_of, literal, remove_argument


def candidates(source, finding, findings=()):
    fit = source.fit_call(line_of(finding.get("fit")))
    if fit is None:
        return []
    made = []
    shuffle = argument(fit, "shuffle", 8)
    if shuffle is not None and literal(shuffle.value) is False and shuffle.keyword is not None:
        made.append(
            (
                "shuffle=False removed from fit (Keras shuffles each epoch)",
                source.apply({fit: remove_argument(fit, "shuffle")}),
            )
        )
    x = argument(fit, "x", 0)
    if (
        x is not None
        and isinstance(x.value, cst.Name)
        and not any(
            c.func.attr.value == "shuffle" for c in source.method_calls("shuffle") if source.line(c) <= source.line(fit)
        )
    ):
        statement = source.assignment_before(x.value.value, source.line(fit))
        batches = [
            c
            for c in source.method_calls("batch")
            if statement is not None and source.line(c) == source.line(statement)
        ]
        if batches:
            batch = batches[0]
            shuffled = cst.Call(
                func=cst.Attribute(value=batch.func.value, attr=cst.Name("shuffle")),
                args=[
                    cst.Arg(cst.Integer("10000")),
                    cst.Arg(
                        cst.Integer("0"),
                        keyword=cst.Name("seed"),
                        equal=cst.AssignEqual(
                            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
                        ),
                    ),
                ],
            )
            made.append(
                (
                    f"{x.value.value} shuffled before it is batched (.shuffle(10000, seed=0))",
                    source.apply({batch: batch.with_changes(func=batch.func.with_changes(value=shuffled))}),
                )
            )
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
            made.append(
                (
                    f"{x} and {y} shuffled together before fit (its validation_split takes the end)",
                    source.apply({last: insert_after(last, *lines)}),
                )
            )
    return made
