"""Source lines for code that runs in notebook cells (Jupyter, IPython): ``nb.ipynb cell 4, line 7``.

A cell's code is no file, so ``origins.watch(__file__, ...)`` cannot place it. IPython compiles each cell
under a name of its own and remembers, per name, the execution count (``In [5]``) and the cell's text.
This module places a frame of such code in two ways:

- an instrumented notebook (``dnn-instrument nb.ipynb -o out.ipynb``) starts with a generated cell that
  calls ``watch("nb.ipynb", {fingerprint of a cell's text: its number})``: a frame whose cell text has a
  known fingerprint is in that cell of the notebook;
- the IPython extension (``%load_ext dnn_instrument``) names each cell it rewrites by its execution count
  (``name_execution``), since there is no notebook file to point to.

Nothing here imports Keras or TensorFlow, nor IPython (it is asked for only when a frame is placed).
"""

import hashlib
import os
import sys

from . import origins

_by_text = {}  # fingerprint of a cell's text -> "nb.ipynb cell 4"
_by_count = {}  # execution count -> "In [5]"


def fingerprint(text):
    """A cell's text, as a notebook stores it and as IPython's history keeps it, reduced to what both agree on."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return hashlib.sha256("\n".join(lines).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def watch(notebook, cells):
    """Place the code of the cells of ``notebook`` (``{fingerprint: cell number}``) and name the run after it."""
    for key, number in cells.items():
        _by_text[key] = f"{notebook} cell {number}"
    origins.resolve_with(_cell_location)
    name_run(notebook)


def name_execution(count, name):
    """Place the code run as execution ``count`` under ``name`` (``In [5]``)."""
    _by_count[count] = name
    origins.resolve_with(_cell_location)


def name_run(script):
    """Name the run folder after ``script`` (a notebook), unless a run has started already."""
    from . import session

    if session._current is None:  # in a kernel sys.argv[0] is the kernel's launcher, not the notebook
        session._current = session.Session(os.path.abspath(script))


def _cell_location(frame):
    """``nb.ipynb cell 4, line 7`` for a frame of a known cell's code, else None."""
    shell = _shell()
    if shell is None:
        return None
    count = getattr(getattr(shell, "compile", None), "_filename_map", {}).get(frame.f_code.co_filename)
    if count is None:
        return None
    name = _by_count.get(count)
    if name is None and _by_text:
        raw = shell.history_manager.input_hist_raw
        name = _by_text.get(fingerprint(raw[count])) if 0 <= count < len(raw) else None
    return None if name is None else f"{name}, line {frame.f_lineno}"


def _shell():
    module = sys.modules.get("IPython")
    if module is None:
        return None
    try:
        return module.get_ipython()
    except Exception:
        return None
