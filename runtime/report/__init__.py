"""The report of a run, in every format. ``document`` builds the JSON document (findings, history, layer summary)
from the analysis and the trace stores; the formats render it: ``terminal`` (the text on stderr), ``html``
(``report.html``, templates in ``templates/``) and ``tensorboard`` (event files). ``write_all`` writes the files
of a run folder, for the run itself (``session.py``) and for ``dnn-instrument report``: a new format is one entry
of ``FORMATS``. ``views`` is how a run's views are written after its script has ended, and waited for
(``wait_for_views``). The report reads the analysis and the traces; nothing below imports it.
"""

import json
import os

from ..cluster import worker_task
from ..files import write_atomically
from . import terminal as terminal
from . import views as views
from .document import build as build


def _json(folder, document, stores, fits):
    """``report.json``, and the path ``DNN_INSTRUMENT_REPORT`` names (the chief's alone in a multi-worker cluster)."""
    text = json.dumps(document, indent=1, allow_nan=False)
    paths = [os.path.join(folder, "report.json")]
    if os.environ.get("DNN_INSTRUMENT_REPORT") and worker_task() is None:
        paths.append(os.environ["DNN_INSTRUMENT_REPORT"])
    for path in paths:
        write_atomically(path, text)
    return paths[0]


def _html(folder, document, stores, fits):
    from . import html  # matplotlib: only when a page is written

    return html.write(folder, document, stores)


def _tensorboard(folder, document, stores, fits):
    from . import tensorboard  # the event files (without TensorFlow: the detached writer does not import it)

    for index in range(len(stores)) if fits is None else fits:
        tensorboard.write_fit(folder, index, stores[index], document)
    return os.path.join(folder, "tensorboard")


#: format -> (writer, what it writes, what a failure costs)
FORMATS = {
    "json": (_json, "the dnn-instrument report", "this run has no report"),
    "html": (_html, "report.html", "the run has report.json but no HTML report"),
    "tensorboard": (_tensorboard, "the TensorBoard events", "the run has no TensorBoard events"),
}


wait_for_views = views.wait


def write_all(folder, document, stores, formats=tuple(FORMATS), fits=None, failed=None):
    """Write the report files of a run folder in ``formats``; returns ``{format: path}`` of those written.

    ``fits``: the indices of the fits whose TensorBoard events to write (None: all). ``failed(what, error,
    consequence)``: given, a format that fails costs only itself (the run's own ``safety.failed``); else it raises.
    """
    written = {}
    for name in formats:
        writer, what, consequence = FORMATS[name]
        try:
            written[name] = writer(folder, document, stores, fits)
        except Exception as error:
            if failed is None:
                raise
            failed(f"writing {what}", error, consequence)
    return written
