"""The generated loop under a ``tf.distribute`` strategy: the step on every replica, as ``fit`` runs it.

Keras's ``fit`` (``keras/src/backend/tensorflow/trainer.py``, ``_make_function``) compiles
``strategy.run(train_step, args=(batch,))`` followed by ``reduce_per_replica(..., "auto")``, on batches from
its distributed iterator (``TFEpochIterator`` given the strategy: ``FitData`` builds it so). Inside each
replica the loss is scaled to the global batch (``Loss.__call__`` multiplies it by ``1 / replicas``), the
optimizer sums the replicas' gradients, and the loss tracker sees the unscaled loss. ``on_replicas`` wraps the
loop's step the same way, so the loop trains as ``fit`` does under the same strategy.

The probes run on every replica, each recording its own sites; ``combine`` reduces the replicas' statistics
matrices into one, in the graph (``stats.combine``), so the host still receives one matrix per step. Next to
it the step returns, per replica, the first site that held a NaN or Inf, which names the replica where a
fault appeared (``Probe.record``).
"""

import keras
import tensorflow as tf

from . import stats
from .fitting import across_workers, reduce_per_replica, strategy_of, unscale_loss_for_distribution

#: Strategies the loop runs under; any other keeps ``fit`` (see fallback.py).
SUPPORTED = ("MirroredStrategy", "OneDeviceStrategy", "MultiWorkerMirroredStrategy")

#: Sites whose tensor is the same on every replica (mirrored variables): taken from the first replica.
MIRRORED_PHASES = ("weight", "update")


def name_of(strategy):
    """The strategy's public name (``tf.distribute.MultiWorkerMirroredStrategy()`` is a CollectiveAllReduceStrategy,
    ``tf.distribute.TPUStrategy`` a TPUStrategyV2)."""
    name = type(strategy).__name__
    public = {
        "CollectiveAllReduceStrategy": "MultiWorkerMirroredStrategy",
        "TPUStrategyV2": "TPUStrategy",
        "ParameterServerStrategyV2": "ParameterServerStrategy",
    }
    return public.get(name, name)


def reduce_logs(logs, strategy):
    """The replicas' logs of one step, reduced as ``fit`` reduces them (``reduce_per_replica``, "auto").

    Across workers Keras's "auto" reduces each log along axis 0, which a scalar does not have (``ValueError:
    Invalid reduction dimension 0 for input with 0 dimensions``: Keras 3.10 to 3.15 cannot ``fit`` under a
    multi-worker MultiWorkerMirroredStrategy); there each log is the mean across the replicas, what "auto"
    means on one worker.
    """
    if across_workers(strategy):
        return keras.tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), logs)
    return reduce_per_replica(logs, strategy, reduction="auto")


def unscaled_loss(loss):
    """The loss the loss tracker and the probe see: a replica's loss before it was scaled to the global batch."""
    return unscale_loss_for_distribution(loss)


def on_replicas(model, step, probe):
    """``step`` (batch -> (logs, statistics)) run on every replica of the model's strategy, reduced as ``fit`` does.

    Without a strategy, ``step`` itself. With one, the logs are reduced by Keras's ``reduce_per_replica``
    ("auto") and the statistics by ``combine``; the step then returns ``(logs, (statistics, first_faults))``.
    """
    strategy = strategy_of(model)
    if strategy is None:
        return step

    def replicated(batch):
        logs, statistics = strategy.run(step, args=(batch,))
        logs = reduce_logs(logs, strategy)
        return logs, combine(strategy, statistics, probe.store.sites)

    return replicated


def combine(strategy, statistics, sites):
    """One statistics matrix from each replica's, and each replica's first faulty site (see ``stats.combine``).

    ``sites``: the rows' sites, as the replicas' probes named them while the step was traced.
    """
    local = [tf.convert_to_tensor(m) for m in strategy.experimental_local_results(statistics)]
    if len({tuple(m.shape) for m in local}) > 1:  # a probe failed on one replica only: recording is off
        nothing = tf.zeros([0, len(stats.STATS)], tf.float32)
        return nothing, tf.fill([len(local)], 0)
    matrices = tf.stack(local)
    mirrored = [site["phase"] in MIRRORED_PHASES for site in sites] if len(sites) == matrices.shape[1] else None
    return stats.combine(matrices, mirrored), stats.first_faults(matrices)


def describe(model):
    """What the report says of the strategy: ``{"strategy", "replicas"}``, or None without one."""
    strategy = strategy_of(model)
    if strategy is None:
        return None
    return {"strategy": name_of(strategy), "replicas": strategy.num_replicas_in_sync}
