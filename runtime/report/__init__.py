"""The report of a run, in every format: the JSON document (``document``: findings, history, layer summary) and
its renderings, the terminal text, ``report.html`` (``html``, templates in ``templates/``) and the TensorBoard
events (``tensorboard``). They read the analysis and the trace store; nothing below imports them.
"""
