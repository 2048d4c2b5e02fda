"""``Diagnose``: the same recording as the generated loop, for a ``fit`` the transformer cannot rewrite.

A Keras callback sees less than the rewritten loop: after each batch it reads the loss and the weights
(so it records ``loss``, ``weight`` and ``update`` sites), but not layer outputs or gradients, which
only exist inside the train step. ``SEES`` says which phases it records.
"""

import keras
import tensorflow as tf

from . import stats
from .probe import stop_on_fault
from .trace import TraceStore

SEES = ("loss", "weight", "update")


class Diagnose(keras.callbacks.Callback):
    """Record training statistics and write the dnn-instrument report: ``model.fit(..., callbacks=[Diagnose()])``."""

    def __init__(self, site=None):
        super().__init__()
        self.site = site or "fit"
        self.store = None
        self._before = None

    def on_train_begin(self, logs=None):
        self.store = TraceStore.for_run(self.model, self.site)
        self._weights = list(self.model.trainable_weights)
        owners = {id(w): (i, layer.name) for i, layer in enumerate(self.model.layers) for w in layer.trainable_weights}
        self._sites = [{"phase": "loss", "layer_index": None, "layer": "", "tensor": "loss"}]
        for phase in ("weight", "update"):
            for w in self._weights:
                index, layer = owners.get(id(w), (None, ""))
                self._sites.append({"phase": phase, "layer_index": index, "layer": layer, "tensor": w.path})
        self.store.set_sites(self._sites)
        self._statistics = tf.function(stats.statistics, autograph=False)  # one compiled reduction per batch
        self._epoch = 0
        self._before = [tf.identity(w) for w in self._weights]

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        now = [tf.identity(w) for w in self._weights]
        loss = tf.constant(float((logs or {}).get("loss", float("nan"))))
        tensors = [loss] + now + [n - b for n, b in zip(now, self._before)]
        block = self._statistics(tensors).numpy()[None]
        self.store.append([self._epoch], [batch], block)
        self._before = now
        stop_on_fault(self.model, self.store, block)

    def on_epoch_end(self, epoch, logs=None):
        self.store.add_epoch(epoch, logs or {})

    def on_train_end(self, logs=None):
        self.store.close()
