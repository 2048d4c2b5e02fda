"""Run one corpus script with plain Keras ``fit`` and record what every ``fit`` call produced.

Usage: ``python tests/corpus_harness.py SCRIPT OUT.json [SCRIPT OUT.json ...] [--keras-baseline]``

Each script runs unchanged, as ``__main__``, with its own directory as the working directory; several
scripts run one after the other in one process (saving TensorFlow's start-up), with Keras's session
cleared in between so that each starts as in a fresh process (its own seed, layer names from ``dense``).
``keras.Model.fit`` is wrapped (not replaced) so that each call's ``History.history``, its wall time
and whether the model's weights are still finite afterwards are written to ``OUT.json``. This is how
the corpus tests prove a label ("the buggy script really diverges / gets stuck") without asking the
scripts to follow any convention of ours.

``--keras-baseline`` adds what a Keras user has today to every ``fit``: ``TerminateOnNaN`` and
``EarlyStopping(monitor="loss")``; ``make bench`` compares dnn-instrument against it.
"""

import json
import math
import os
import runpy
import sys
import traceback


def _plain(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else str(value)


def main(script, out_path, keras_baseline=False):
    import time

    import keras
    import numpy as np

    calls = []
    original_fit = keras.Model.fit

    def recording_fit(self, *args, **kwargs):
        if keras_baseline:
            callbacks = list(kwargs.get("callbacks") or [])
            kwargs["callbacks"] = callbacks + [
                keras.callbacks.TerminateOnNaN(),
                keras.callbacks.EarlyStopping(monitor="loss"),
            ]
        start = time.perf_counter()
        history = original_fit(self, *args, **kwargs)
        seconds = time.perf_counter() - start
        weights_finite = all(bool(np.all(np.isfinite(w))) for w in self.get_weights())
        calls.append(
            {
                "history": {k: [_plain(v) for v in vs] for k, vs in history.history.items()},
                "weights_finite": weights_finite,
                "layers": [layer.name for layer in self.layers],
                "seconds": seconds,
                "epochs_requested": history.params.get("epochs"),
                "epochs_run": len(history.epoch),
                "stopped": bool(self.stop_training),
            }
        )
        return history

    keras.Model.fit = recording_fit
    result = {"script": script, "fits": calls, "error": None}
    script = os.path.abspath(script)
    os.chdir(os.path.dirname(script))
    sys.argv = [script]
    sys.path.insert(0, os.path.dirname(script))
    try:
        runpy.run_path(script, run_name="__main__")
    except BaseException:  # the record is what matters: say how the script ended
        result["error"] = traceback.format_exc(limit=5)
    finally:
        keras.Model.fit = original_fit
        sys.path.remove(os.path.dirname(script))
        with open(out_path, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    paths = [os.path.abspath(a) for a in sys.argv[1:] if a != "--keras-baseline"]
    for script, out_path in zip(paths[::2], paths[1::2]):
        import keras

        keras.backend.clear_session()
        main(script, out_path, "--keras-baseline" in sys.argv[1:])
