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

import tensorflow as tf
from keras.src import tree
from keras.src.backend.tensorflow.trainer import _collective_all_reduce_multi_worker, reduce_per_replica
from keras.src.losses.loss import unscale_loss_for_distribution

from . import stats

#: Strategies the loop runs under; any other keeps ``fit`` (see fallback.py).
SUPPORTED = ("MirroredStrategy", "OneDeviceStrategy", "MultiWorkerMirroredStrategy")

#: Sites whose tensor is the same on every replica (mirrored variables): taken from the first replica.
MIRRORED_PHASES = ("weight", "update")


def name_of(strategy):
    """The strategy's public name (``tf.distribute.MultiWorkerMirroredStrategy()`` is a CollectiveAllReduceStrategy,
    ``tf.distribute.TPUStrategy`` a TPUStrategyV2)."""
    name = type(strategy).__name__
    public = {"CollectiveAllReduceStrategy": "MultiWorkerMirroredStrategy", "TPUStrategyV2": "TPUStrategy",
              "ParameterServerStrategyV2": "ParameterServerStrategy"}
    return public.get(name, name)


def strategy_of(model):
    """The non-default ``tf.distribute`` strategy ``model`` trains under, or None."""
    strategy = getattr(model, "_distribute_strategy", None)
    if strategy is None and tf.distribute.has_strategy():
        strategy = tf.distribute.get_strategy()
    return strategy


def across_workers(strategy):
    """Whether ``strategy`` spans several worker processes (a MultiWorkerMirroredStrategy given a ``TF_CONFIG``
    cluster), decided as Keras decides it."""
    return strategy is not None and _collective_all_reduce_multi_worker(strategy)


def build(model, iterator):
    """Build the model, its loss, metrics and optimizer from the first batch of ``iterator``, as ``fit`` does
    before its first step (``_maybe_symbolic_build``).

    Across workers Keras's own build fails (Keras 3.10 to 3.15): it reduces the whole ``(x, y)`` batch with one
    ``strategy.reduce``, which MultiWorkerMirroredStrategy passes to its collective all-reduce as a single
    tensor (``ValueError: Attempt to convert a value (PerReplica:...)``). The build needs only the batch's
    shapes and dtypes: there they are taken from this worker's first replica.
    """
    strategy = strategy_of(model)
    if not across_workers(strategy):
        model._maybe_symbolic_build(iterator=iterator)
        return
    from .fitting import _steps_of

    for item in iterator:
        batch = next(_steps_of(item, 1)[2])
        break
    local = tree.map_structure(
        lambda v: strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v,
        batch,
    )
    with strategy.scope():
        model._symbolic_build(data_batch=local)


def reduce_logs(logs, strategy):
    """The replicas' logs of one step, reduced as ``fit`` reduces them (``reduce_per_replica``, "auto").

    Across workers Keras's "auto" reduces each log along axis 0, which a scalar does not have (``ValueError:
    Invalid reduction dimension 0 for input with 0 dimensions``: Keras 3.10 to 3.15 cannot ``fit`` under a
    multi-worker MultiWorkerMirroredStrategy); there each log is the mean across the replicas, what "auto"
    means on one worker.
    """
    if across_workers(strategy):
        return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), logs)
    return reduce_per_replica(logs, strategy, reduction="auto")


def check_validation(model, validates):
    """Refuse, before any training, a ``fit`` that validates (``validates``) across workers, with the reason.

    Validation runs Keras's ``evaluate``, which has both bugs above across workers (its build and its test
    step): it would fail at the end of the first epoch, as ``fit`` itself fails at its start.
    """
    if validates and across_workers(strategy_of(model)):
        raise ValueError(
            "dnn-instrument: validation (validation_split or validation_data) cannot run across the workers of a "
            "MultiWorkerMirroredStrategy: Keras's evaluate fails there (Keras 3.10 to 3.15 reduce the batch and "
            "each scalar log in ways the strategy rejects across workers), and so does Keras's own fit. Train "
            "without validation and evaluate the model afterwards outside the cluster."
        )


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


def replica_in_cluster(model, local):
    """The cluster-wide index of this worker's ``local``-th replica, as ``replica_id_in_sync_group`` counts it
    (worker ``w`` of a MultiWorkerMirroredStrategy cluster holds replicas ``w * local replicas`` on); on one
    worker, ``local`` itself."""
    extended = getattr(strategy_of(model), "extended", None)
    to_cluster = getattr(extended, "_get_replica_id_in_sync_group", None)
    return int(to_cluster(local)) if to_cluster is not None else int(local)


def describe(model):
    """What the report says of the strategy: ``{"strategy", "replicas"}``, or None without one."""
    strategy = strategy_of(model)
    if strategy is None:
        return None
    return {"strategy": name_of(strategy), "replicas": strategy.num_replicas_in_sync}
