"""dnn-instrument must never take the user's training down.

A probe, the analyser or the report writer that fails is switched off with one clear warning, and
training goes on exactly as it would without it. ``DNN_INSTRUMENT_STRICT=1`` raises instead (our tests
run that way, so that a failure of ours is never hidden).
"""

import atexit
import functools
import os
import signal
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


def keep_interrupt_exit_status():
    """Make a script that Ctrl-C ends exit by SIGINT, as Python's own, whatever our exit handlers do.

    Python exits a script that an uncaught KeyboardInterrupt ended by SIGINT (shells and CI see the
    interrupt), but forgets to whenever an exit handler imports a module; ours write the report and may. So
    the first thing an instrumented script does registers this, which runs after every other exit handler.
    """
    if getattr(keep_interrupt_exit_status, "registered", False):
        return
    keep_interrupt_exit_status.registered = True

    def exit_as_interrupted():
        last = getattr(sys, "last_type", None)  # the exception that ended the script, as Python printed it
        if last is None or not issubclass(last, KeyboardInterrupt) or os.name != "posix":
            return
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)

    atexit.register(exit_as_interrupted)
