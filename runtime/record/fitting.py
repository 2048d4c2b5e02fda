"""The data side of ``model.fit`` for the generated loop, built from Keras's own pieces.

``FitData`` does what ``fit`` does before and around its train steps, in the same order and with the
same Keras objects (see ``keras/src/backend/tensorflow/trainer.py``): carve ``validation_split`` off the
end of the arrays before any shuffling, build the epoch iterator (batching, shuffling, ``class_weight``
and ``sample_weight``, ``steps_per_epoch``, tf.data and generators), build the model, loss, metrics
and optimizer symbolically, and validate through ``evaluate`` on a cached, unshuffled iterator.
Reusing these pieces instead of re-deriving them is what keeps the loop's training identical to ``fit``.
"""

import os
import warnings

import keras
import tensorflow as tf
from keras.src import optimizers
from keras.src.backend.tensorflow.trainer import TensorFlowTrainer, TFEpochIterator, _collective_all_reduce_multi_worker
from keras.src.backend.tensorflow.trainer import reduce_per_replica as reduce_per_replica  # for distributed.py
from keras.src.losses.loss import unscale_loss_for_distribution as unscale_loss_for_distribution  # for distributed.py
from keras.src.trainers.data_adapters import array_slicing, data_adapter_utils


class FitData:
    def __init__(
        self,
        model,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        self.model = model
        self.epochs = epochs
        max_epochs = min(filter(None, (_config_max_epochs(), budget("DNN_INSTRUMENT_MAX_EPOCHS"))), default=None)
        if max_epochs and max_epochs < epochs:
            warnings.warn("Limiting epochs to %d" % max_epochs)
            self.epochs = max_epochs
        model._assert_compile_called("fit")
        model._eval_epoch_iterator = None
        check_validation(model, bool(validation_split) or validation_data is not None)
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = array_slicing.train_validation_split(
                (x, y, sample_weight), validation_split=validation_split
            )
        self.validation = None
        if validation_data is not None:
            self.validation = data_adapter_utils.unpack_x_y_sample_weight(validation_data)
        self.validation_steps = validation_steps
        self.validation_batch_size = validation_batch_size or batch_size
        self.validation_freq = validation_freq
        self.train = TFEpochIterator(
            x=x,
            y=y,
            sample_weight=sample_weight,
            batch_size=batch_size,
            steps_per_epoch=steps_per_epoch,
            shuffle=shuffle,
            class_weight=class_weight,
            distribute_strategy=model.distribute_strategy,
            steps_per_execution=model.steps_per_execution,
        )
        self.max_steps = budget("DNN_INSTRUMENT_MAX_STEPS")  # a cap on the steps of each epoch (dnn-instrument fix)
        build(model, self.train)
        self.train.reset()
        # Metrics Keras builds only when it traces the first step, and so does not reset before the first
        # epoch (an unbuilt ``CompileMetrics`` resets nothing): metric objects shared with a model trained
        # before keep their state into this fit's first epoch under ``fit``, and so they do here.
        self._not_reset_first = [metric for metric in model.metrics if not getattr(metric, "built", True)]
        if model.built:
            # Without a distribution strategy Keras builds metrics, loss and optimizer while tracing the
            # first step, which makes TensorFlow trace the step twice. For a built model that build only
            # creates zero-initialised variables, so doing it first (from the batch *spec*: no data is
            # read, no shuffle advanced) trains the same and halves the tracing. An unbuilt model keeps
            # Keras's order, since building it draws its initial weights.
            model._symbolic_build(data_batch=self.batch_spec)

    @property
    def batch_spec(self):
        """The structure and shapes of one training batch, as Keras's compiled step sees them (batch size None)."""
        return self.train._distributed_dataset.element_spec

    @property
    def steps_per_epoch(self):
        """Batches in one epoch (None until known, for data of unknown length)."""
        if self.max_steps and self.train.num_batches:
            return min(self.train.num_batches, self.max_steps)
        return self.train.num_batches

    def first_epoch(self, initial_epoch):
        """The epoch to start from: ``initial_epoch``, unless a callback such as BackupAndRestore set one."""
        return self.model._initial_epoch or initial_epoch

    def steps(self):
        """One epoch of ``(step, iterator)``: each step reads its batch from ``iterator``, as ``fit``'s steps do.

        Run it inside ``self.train.catch_stop_iteration()``, as ``fit`` does: for data of unknown length the
        step that finds no batch raises, and that ends the epoch.
        """
        for item in self.train:
            first_step, last_step, iterator = _steps_of(item, self.train.steps_per_execution)
            for step in range(first_step, last_step + 1):  # one step unless steps_per_execution > 1
                if self.train.num_batches and step >= self.train.num_batches:
                    break
                if self.max_steps and step >= self.max_steps:
                    return  # the budget; the next epoch starts a fresh iterator, as without steps_per_epoch
                yield step, iterator

    def reset_metrics(self):
        """``model.reset_metrics()`` at the start of an epoch, leaving out in the first epoch what ``fit`` cannot reset yet."""
        skipped, self._not_reset_first = self._not_reset_first, []
        for metric in self.model.metrics:
            if not any(metric is other for other in skipped):
                metric.reset_state()

    def track_loss(self, loss, samples):
        """Add a step's loss to the model's loss tracker, as Keras's train step does: the ``loss`` of the logs."""
        self.model._loss_tracker.update_state(loss, sample_weight=samples)

    def epoch_logs(self, logs):
        """The logs of a finished epoch: the model's metric results (``fit`` prefers them to the step's)."""
        return dict(self.model._get_metrics_result_or_logs(logs))

    def validate(self, epoch, callbacks):
        """Validation logs (``val_`` keys) after ``epoch``, or ``{}`` when this epoch does not validate."""
        model = self.model
        if self.validation is None or not model._should_eval(epoch, self.validation_freq):
            return {}
        if getattr(model, "_eval_epoch_iterator", None) is None:
            val_x, val_y, val_sample_weight = self.validation
            model._eval_epoch_iterator = TFEpochIterator(
                x=val_x,
                y=val_y,
                sample_weight=val_sample_weight,
                batch_size=self.validation_batch_size,
                distribute_strategy=model.distribute_strategy,
                steps_per_execution=model.steps_per_execution,
                steps_per_epoch=self.validation_steps,
                shuffle=False,
            )
        val_x, val_y, val_sample_weight = self.validation
        logs = model.evaluate(
            x=val_x,
            y=val_y,
            sample_weight=val_sample_weight,
            batch_size=self.validation_batch_size,
            steps=self.validation_steps,
            callbacks=callbacks,
            return_dict=True,
            _use_cached_eval_dataset=True,
        )
        return {f"val_{name}": value for name, value in logs.items()}

    def finish(self):
        """What ``fit`` does after its last epoch: final optimizer values (EMA), drop the cached iterator."""
        model = self.model
        if isinstance(model.optimizer, optimizers.Optimizer) and self.epochs > 0:
            model.optimizer.finalize_variable_values(model.trainable_weights)
        if getattr(model, "_eval_epoch_iterator", None) is not None:
            del model._eval_epoch_iterator


def own_training(model):
    """The training methods (``fit``, ``train_step``, ``make_train_function``) that ``model``'s class overrides."""
    cls = type(model)
    return [
        name
        for name in ("fit", "train_step", "make_train_function")
        if getattr(cls, name, None) is not getattr(TensorFlowTrainer, name, None)
        and getattr(cls, name, None) is not getattr(keras.Model, name, None)
    ]


def compiled_state(model):
    """What a compiled train step of ``model`` is bound to, compared by identity: the loss tracker (each
    ``compile`` makes a new one, and resets Keras's ``train_function``), the optimizer, ``run_eagerly``,
    ``jit_compile`` and the strategy. While all are the same, Keras reuses its ``train_function``; so does the
    loop (``step.py``)."""
    return (model._loss_tracker, model.optimizer, model.run_eagerly, model.jit_compile, strategy_of(model))


def strategy_attribute(model):
    """The ``tf.distribute`` strategy ``model`` was created under (None for the default one)."""
    return getattr(model, "_distribute_strategy", None)


def strategy_of(model):
    """The non-default ``tf.distribute`` strategy ``model`` trains under, or None."""
    strategy = strategy_attribute(model)
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
    for item in iterator:
        batch = next(_steps_of(item, 1)[2])
        break
    local = keras.tree.map_structure(
        lambda v: strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v,
        batch,
    )
    with strategy.scope():
        model._symbolic_build(data_batch=local)


def replica_in_cluster(model, local):
    """The cluster-wide index of this worker's ``local``-th replica, as ``replica_id_in_sync_group`` counts it
    (worker ``w`` of a MultiWorkerMirroredStrategy cluster holds replicas ``w * local replicas`` on); on one
    worker, ``local`` itself."""
    extended = getattr(strategy_of(model), "extended", None)
    to_cluster = getattr(extended, "_get_replica_id_in_sync_group", None)
    return int(to_cluster(local)) if to_cluster is not None else int(local)


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


def budget(variable):
    """A positive integer cap from the environment (``DNN_INSTRUMENT_MAX_EPOCHS``/``_MAX_STEPS``), else None."""
    try:
        value = int(os.environ.get(variable, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _steps_of(item, steps_per_execution):
    """``(first step, last step, iterator)`` of one item of Keras's epoch iterator: Keras 3.11 and later yield
    that; Keras 3.10 yields ``(first step, iterator)``, the execution covering ``steps_per_execution`` steps."""
    if len(item) == 2:
        first_step, iterator = item
        return first_step, first_step + steps_per_execution - 1, iterator
    return item


def _config_max_epochs():
    from keras.src.backend import config

    return config.max_epochs()
