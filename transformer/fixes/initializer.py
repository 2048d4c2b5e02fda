"""Initialisers: a kernel initialiser that breaks training (zeros, a constant, a huge ``stddev``) back to
Keras's default (or ``he_normal`` for ReLU layers), a bias initialiser that kills or saturates the units back
to zeros, a recurrent initialiser back to ``orthogonal``. Every layer of the file written with the same
initialiser text gets the same edit (they were all made the same way)."""

from .source import argument, layers_named, literal, remove_argument, set_argument, with_same_argument

KEYWORDS = {
    "weight_initialization": ["kernel_initializer"],
    "exploding_gradient": ["kernel_initializer", "recurrent_initializer"],
    "dead_relu": ["bias_initializer", "kernel_initializer"],
    "saturated_activation": ["bias_initializer", "kernel_initializer"],
    "vanishing_gradient": ["kernel_initializer"],
}


def candidates(source, finding, findings=()):
    named = layers_named(source, finding, findings)
    made = []
    for keyword in KEYWORDS.get(finding.get("cause"), []):
        texts, same = with_same_argument(source, named, keyword)
        if not same:
            continue
        made.append(
            (
                f"{keyword} {' / '.join(sorted(texts))} removed (Keras's default) in {len(same)} layer(s)",
                source.apply({c: remove_argument(c, keyword) for c in same}),
            )
        )
        if keyword == "kernel_initializer":
            relu = [
                c
                for c in same
                if argument(c, "activation", 1) is not None and literal(argument(c, "activation", 1).value) == "relu"
            ]
            if relu:
                made.append(
                    (
                        f"kernel_initializer='he_normal' in {len(relu)} ReLU layer(s)",
                        source.apply({c: set_argument(c, keyword, source.string("he_normal")) for c in relu}),
                    )
                )
    return made
