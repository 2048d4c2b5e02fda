"""The batch size: ``batch_size=32`` (Keras's default) on ``fit`` when the finding blames a batch of one or a
whole dataset in a few steps."""

from .source import argument, line_of, literal, set_argument


def candidates(source, finding, findings=()):
    fit = source.fit_call(line_of(finding.get("fit")))
    if fit is None:
        return []
    current = argument(fit, "batch_size", 2)
    if current is not None and literal(current.value) == 32:
        return []
    return [("batch_size=32 in fit", source.apply({fit: set_argument(fit, "batch_size", "32", 2)}))]
