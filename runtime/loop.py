"""The probe the generated loop gets (``runtime.Probe(model, site)``): a recording probe (``record/probe.py``) whose
trace store joins this run (``session.py``: journalled, reported when the ``fit`` ends) and whose rows go to the
online analysis (``analysis/online.py``), which may stop training."""

from . import session
from .analysis.online import Monitor
from .record import probe


class Probe(probe.Probe):
    def __init__(self, model, site):
        store = session.open_store(model, site)
        super().__init__(model, site, store, monitor=Monitor(model, store))

    def record(self, epoch, step, statistics):
        session.raise_pending_stop()  # a Ctrl-C or SIGTERM that Python lost between steps
        super().record(epoch, step, statistics)
