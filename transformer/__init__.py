"""The source-to-source rewrite: Keras ``fit`` calls -> an explicit GradientTape loop with probes.

``instrument(source, path)`` is the entry point; see ``instrument.py`` for the pipeline.
"""

from .instrument import AlreadyInstrumented, InstrumentError, InvalidSyntax, Result, instrument

__all__ = ["AlreadyInstrumented", "InstrumentError", "InvalidSyntax", "Result", "instrument"]
