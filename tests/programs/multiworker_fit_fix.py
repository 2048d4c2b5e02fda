"""Keras's fit under a multi-worker MultiWorkerMirroredStrategy, with the two Keras bugs that stop it patched.

Keras 3.10 to 3.15 cannot ``fit`` when a MultiWorkerMirroredStrategy spans several workers (a ``TF_CONFIG``
cluster): ``TensorFlowTrainer._maybe_symbolic_build`` reduces the whole first ``(x, y)`` batch with one
``strategy.reduce("MEAN", batch, axis=None)``, which the strategy's collective all-reduce takes as a single
tensor (``ValueError: Attempt to convert a value (PerReplica:...)``), and ``reduce_per_replica`` ("auto", in
every step) reduces each scalar log along an axis 0 it lacks (``ValueError: Invalid reduction dimension 0 for
input with 0 dimensions``). The first only needs shapes to build the model, the second only changes the logs;
neither touches the updates. ``tests/programs/multiworker_pair.py`` imports this module in its plain run only,
so that there is a ``fit`` to compare the generated loop with (which runs without it: runtime/record/distributed.py).
"""

import tensorflow as tf
from keras.src import tree
from keras.src.backend.tensorflow import trainer

_reduce_per_replica = trainer.reduce_per_replica


def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    if self._distribute_strategy is None:
        return
    if iterator is not None:
        for item in iterator:
            batch = next(item[-1])
            data_batch = tree.map_structure(
                lambda v: self.distribute_strategy.reduce("MEAN", v, axis=None)
                if isinstance(v, tf.distribute.DistributedValues) else v, batch)
            break
    with self.distribute_strategy.scope():
        self._symbolic_build(data_batch=data_batch)


def reduce_per_replica(values, strategy, reduction):
    if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
        return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
    return _reduce_per_replica(values, strategy, reduction)


trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
trainer.reduce_per_replica = reduce_per_replica
