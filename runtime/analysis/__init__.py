"""Rules that turn a trace into findings, and their ranking.

Each rule is a function ``view -> list of findings`` in a module named after what it looks at
(``static``: the model and compile configuration; ``numerical``: NaN and Inf; ``training``: activations,
gradients, updates and progress). ``causes.py`` then gives each finding its severity (fault or warning) and
links the findings by the causal graph of symptoms and their onsets: a later symptom that an earlier one
explains is its consequence. ``RULES``' order only breaks ties between unrelated findings seen at the same
iteration. Thresholds are in ``thresholds.py``.
"""

from ..safety import failed
from . import causes, numerical, static, training
from .view import TraceView

RULES = (
    training.nothing_to_train,
    static.output_activation_and_loss,
    static.target_shape,
    static.optimizer_settings,
    static.regularization,
    static.missing_activation,
    training.input_scale,
    training.data_order,
    training.initialization,
    numerical.numerical_error,
    training.dead_relu,
    training.saturation,
    training.vanishing_gradient,
    training.exploding_gradient,
    training.learning_rate,
    training.unchanged_weights,
    training.validation_gap,
    training.too_few_updates,
    training.oscillating_loss,
    training.loss_not_decreasing,
    training.accuracy_not_increasing,
    training.loss_at_chance_level,
)


def analyse(trace):
    """All findings for one ``fit``'s trace: faults first, each root cause followed by its consequences."""
    view = TraceView(trace)
    findings = []
    for rule in RULES:
        try:
            findings.extend(rule(view))
        except Exception as error:  # one broken rule must not cost the rest of the diagnosis
            failed(f"the analysis rule {rule.__name__}", error, "its symptom is not checked")
    return causes.attribute(findings)
