"""TensorFlow's start-up noise, hidden under ``dnn-instrument run`` (``--verbose`` shows it).

Importing TensorFlow prints, from C++ before its logging is set up and whatever ``TF_CPP_MIN_LOG_LEVEL``
says, lines such as ``WARNING: All log messages before absl::InitializeLog() ...`` and ``I0000 ...
port.cc:153] oneDNN custom operations are on ...``. While the script imports ``tensorflow``, the process's
standard error goes to a temporary file; afterwards every line of it that is not such a log line is
written to the real standard error (a Python warning, an error), so only the noise is lost.
"""

import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
    r"|[IWE]\d{4} [\d:.]+\s+\d+ [\w.]+\.cc:\d+\] "  # TensorFlow 2.19 and later
    r"|\d{4}-\d\d-\d\d [\d:.]+: [IWE] [\w/.]+\.cc:\d+\] "  # TensorFlow 2.16 to 2.18
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$"
)


def hide_tensorflow_noise():
    """From now on, the first ``import tensorflow`` of this process prints no start-up log lines."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


def _kept(text):
    return "".join(line for line in text.splitlines(keepends=True) if not _NOISE.match(line))


class _QuietImport(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        original_exec = spec.loader.exec_module

        def exec_module(module):
            sys.stderr.flush()
            saved = os.dup(2)
            with tempfile.TemporaryFile() as caught:
                os.dup2(caught.fileno(), 2)
                try:
                    original_exec(module)
                finally:
                    sys.stderr.flush()
                    os.dup2(saved, 2)
                    os.close(saved)
                    caught.seek(0)
                    kept = _kept(caught.read().decode("utf-8", "replace"))
                    if kept:
                        sys.stderr.write(kept)
                        sys.stderr.flush()

        spec.loader.exec_module = exec_module
        return spec
