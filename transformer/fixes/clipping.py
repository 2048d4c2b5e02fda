"""Gradient clipping: ``clipnorm=1.0`` on the optimizer (added, or replacing a clip so small that it
stops every update)."""

from .learning_rate import optimizer_of, with_settings


def candidates(source, finding, findings=()):
    optimizer = optimizer_of(source, finding)
    if optimizer is None:
        return []
    replacements = with_settings(source, optimizer, clipnorm="1.0")
    return [(f"clipnorm=1.0 in the {optimizer[1]} optimizer", source.apply(replacements))] if replacements else []
