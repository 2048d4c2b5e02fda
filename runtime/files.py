"""Writing a file so that readers never see half of it: the one ``write_atomically``, for the run folder (trace
journal, reports) and for the command line's outputs (``dnn_instrument/files.py``)."""

import os
import stat
import tempfile


def write_atomically(path, text):
    """Replace ``path`` with ``text`` in one step: readers see the old file or the new one, never half of it."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".dnn-instrument-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors="surrogatepass", newline="") as f:
            f.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
