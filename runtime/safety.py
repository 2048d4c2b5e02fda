"""dnn-instrument must never take the user's training down.

A probe, the analyser or the report writer that fails is switched off with one clear warning, and
training goes on exactly as it would without it. ``DNN_INSTRUMENT_STRICT=1`` raises instead (our tests
run that way, so that a failure of ours is never hidden).
"""

import functools
import os
import sys

_warned = set()


def strict():
    return os.environ.get("DNN_INSTRUMENT_STRICT", "").lower() not in ("", "0", "false", "no")


def failed(what, error, consequence):
    """Report a failure of dnn-instrument itself: raise it in strict mode, else warn once per ``what``."""
    if strict():
        raise error
    if what not in _warned:
        _warned.add(what)
        sys.stderr.write(
            f"dnn-instrument: {what} failed ({type(error).__name__}: {error}); {consequence}. "
            "Training goes on; set DNN_INSTRUMENT_STRICT=1 to raise instead, and please report it.\n"
        )


def guarded(what, consequence="recording is off for the rest of this fit", default=None):
    """Decorate a method of an object with a ``disabled`` flag: a failure disables the object.

    Once disabled, the method returns ``default()`` (when callable) or ``default`` without running.
    """

    def decorate(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            if not getattr(self, "disabled", False):
                try:
                    return method(self, *args, **kwargs)
                except Exception as error:
                    failed(what, error, consequence)
                    self.disabled = True
            return default() if callable(default) else default

        return run

    return decorate
