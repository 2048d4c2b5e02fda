"""Rules that turn a trace into findings, and their ranking.

Each rule is a function ``view -> list of findings`` in a module named after what it looks at
(``static``: the model and compile configuration; ``numerical``: NaN and Inf; ``training``: activations,
gradients, updates and progress). ``RULES`` lists them in order of precedence: when several fire, the
earlier rule names the more likely root cause (a wrong output activation explains a stuck loss; a learning
rate explains NaN in every layer). Thresholds are in ``thresholds.py``.
"""

from ..safety import failed
from . import numerical, static, training
from .view import TraceView

RULES = (
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
)


def analyse(trace):
    """All findings for one ``fit``'s trace, most likely root cause first."""
    view = TraceView(trace)
    findings = []
    for rule in RULES:
        try:
            findings.extend(rule(view))
        except Exception as error:  # one broken rule must not cost the rest of the diagnosis
            failed(f"the analysis rule {rule.__name__}", error, "its symptom is not checked")
    return findings
