"""Run one corpus script with plain Keras ``fit`` and record what every ``fit`` call produced.

Usage: ``python tests/corpus_harness.py SCRIPT OUT.json``

The script runs unchanged, as ``__main__``, with its own directory as the working directory.
``keras.Model.fit`` is wrapped (not replaced) so that each call's ``History.history`` and whether the
model's weights are still finite afterwards are written to ``OUT.json``. This is how the corpus tests
prove a label ("the buggy script really diverges / gets stuck") without asking the scripts to follow
any convention of ours.
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


def main(script, out_path):
    import keras
    import numpy as np

    calls = []
    original_fit = keras.Model.fit

    def recording_fit(self, *args, **kwargs):
        history = original_fit(self, *args, **kwargs)
        weights_finite = all(bool(np.all(np.isfinite(w))) for w in self.get_weights())
        calls.append(
            {
                "history": {k: [_plain(v) for v in vs] for k, vs in history.history.items()},
                "weights_finite": weights_finite,
                "layers": [layer.name for layer in self.layers],
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
        with open(out_path, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
