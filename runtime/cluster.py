"""This process's place in a multi-worker ``tf.distribute`` cluster, read from ``TF_CONFIG`` (no TensorFlow needed)."""

import json
import os


def worker_task():
    """This process's task in a multi-worker cluster (``TF_CONFIG``), as ``"worker-1"``; None for the chief (the
    ``chief`` task, else worker 0) and without a cluster. Another task's run folder is named after it, and only
    the chief writes ``$DNN_INSTRUMENT_REPORT``, so that no worker clobbers the chief's report."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        task, cluster = config.get("task") or {}, config.get("cluster") or {}
        kind, index = task.get("type"), int(task.get("index", 0))
    except (ValueError, TypeError, AttributeError):
        return None
    if not kind or kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster):
        return None
    return f"{kind}-{index}"
