"""The batch size: 32 (Keras's default) when the finding blames a batch of one or a whole dataset in a few
steps: ``batch_size=32`` on ``fit`` for arrays, or the ``.batch(...)`` of the ``tf.data`` pipeline ``fit``
trains on (``fit`` ignores ``batch_size`` for a dataset)."""

import libcst as cst

from .source import argument, line_of, literal, set_argument


def dataset_batch(source, fit):
    """The ``.batch(...)`` call of the pipeline assigned to ``fit``'s ``x`` (its last assignment), or None."""
    x = argument(fit, "x", 0)
    if x is None or not isinstance(x.value, cst.Name):
        return None
    statement = source.assignment_before(x.value.value, source.line(fit))
    batches = [c for c in source.method_calls("batch") if statement is not None and source.statement_of(c) is statement]
    return batches[-1] if batches else None


def candidates(source, finding, findings=()):
    fit = source.fit_call(line_of(finding.get("fit")))
    if fit is None:
        return []
    batch = dataset_batch(source, fit)
    if batch is not None and batch.args:
        if literal(batch.args[0].value) == 32:
            return []
        return [
            (
                "batch(32) in the tf.data pipeline fit trains on",
                source.apply({batch: set_argument(batch, "batch_size", "32", 0)}),
            )
        ]
    current = argument(fit, "batch_size", 2)
    if current is not None and literal(current.value) == 32:
        return []
    return [("batch_size=32 in fit", source.apply({fit: set_argument(fit, "batch_size", "32", 2)}))]
