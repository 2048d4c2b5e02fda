# The tutorial's helper: every model passes through one function. Its parameter is known only at run
# time, where the loop checks that it can train the object it gets (else fit runs, with the callback).
import dnn_instrument.runtime.origins  # dnn-instrument: instrumented copy of fit_in_helper.py; regenerate, do not edit
dnn_instrument.runtime.origins.watch(__file__, 'fit_in_helper.py', inserted=[(3, 4), (9, 100)])  # original: sha256 998d788e6d30837f; dnn-instrument --strip restores it
import keras
import numpy as np

x, y = np.zeros((32, 4)), np.zeros((32, 1))


def instrumented_fit(site, model, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
                     validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
                     initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_batch_size=None,
                     validation_freq=1):
    """`model.fit(...)` as an explicit training loop that records what every layer does (dnn-instrument).

    Trains exactly as `model.fit` with the same arguments would: same batches, same updates, same
    History. `site` is the line of fit_in_helper.py this call replaces.
    """
    from builtins import Exception, range, zip  # names the script may rebind (`with ZipFile(f) as zip:`)

    import warnings

    import keras
    import tensorflow as tf
    from dnn_instrument import runtime

    runtime.check_versions()
    if not runtime.loop_supports(model):
        callbacks = runtime.with_diagnose(callbacks, site, sample=(x, y))
        return model.fit(x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                         shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch,
                         validation_steps, validation_batch_size, validation_freq)

    data = runtime.FitData(model, x, y, batch_size, epochs, validation_split, validation_data, shuffle,
                           class_weight, sample_weight, steps_per_epoch, validation_steps,
                           validation_batch_size, validation_freq)
    callbacks = keras.callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
                                             verbose=verbose, epochs=data.epochs,
                                             steps=data.steps_per_epoch, model=model)
    graph = runtime.LayerGraph(model)
    probe = runtime.Probe(model, site)

    def train_step(batch):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
        probe.data(x, y)
        with tf.GradientTape() as tape:
            with graph.calling(training=True):
                tensors = graph.feed(x)
                for node in graph.nodes:  # the forward pass, one layer at a time
                    probe.forward(node, node.call(tensors, training=True))
                y_pred = graph.result(tensors)
            loss = model.compute_loss(x, y, y_pred, sample_weight, training=True)  # scaled to the global batch
            samples = tf.shape(tf.nest.flatten(x)[0])[0]
            data.track_loss(runtime.unscaled_loss(loss), samples)
            scaled_loss = model.optimizer.scale_loss(loss)
        weights = model.trainable_weights
        gradients, output_gradients = tape.gradient(scaled_loss, (weights, probe.outputs))
        probe.backward(output_gradients)
        weights_before = probe.snapshot(weights)
        if weights:
            model.optimizer.apply_gradients(zip(gradients, weights))
        else:  # as Keras's own train_step: no optimizer step
            warnings.warn("The model does not have any trainable weights.")
        probe.update(weights, gradients, weights_before)
        probe.loss(runtime.unscaled_loss(loss))
        return model.compute_metrics(x, y, y_pred, sample_weight), probe.statistics()

    train_step = runtime.on_replicas(model, train_step, probe)  # under a tf.distribute strategy, as fit runs it
    next_step = runtime.compiled_step(model, train_step, probe)  # compiled as Keras compiles its step; reused by the model's next fit

    try:
        model.stop_training = False
        callbacks.on_train_begin()
        logs, epoch_logs = {}, None
        for epoch in range(data.first_epoch(initial_epoch), data.epochs):
            data.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            with data.train.catch_stop_iteration():  # data of unknown length: its end ends the epoch
                for step, iterator in data.steps():
                    callbacks.on_train_batch_begin(step)
                    logs, statistics = next_step(iterator)
                    probe.record(epoch, step, statistics)
                    callbacks.on_train_batch_end(step, logs)
                    if model.stop_training:
                        break
            epoch_logs = data.epoch_logs(logs)
            epoch_logs.update(data.validate(epoch, callbacks))
            callbacks.on_epoch_end(epoch, epoch_logs)
            probe.epoch_end(epoch, epoch_logs)
            if model.stop_training:
                break
        data.finish()
        callbacks.on_train_end(logs=epoch_logs)
    except Exception as error:
        runtime.note_error_site(error, site)
        raise
    finally:
        probe.close()
    return model.history


def compile_and_fit(model, name, max_epochs=2):
    model.compile(optimizer="adam", loss="mse")
    history = instrumented_fit('fit_in_helper.py:11', model, x, y, epochs=max_epochs, verbose=0)
    return history


def fit_quietly(net):
    return instrumented_fit('fit_in_helper.py:16', net, x, y, batch_size=8, epochs=1, verbose=0)


def train_classifier(clf, features, labels):
    clf.fit(features, labels)  # nothing says Keras: left alone


size_histories = {}
size_histories["tiny"] = compile_and_fit(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]), "tiny")
size_histories["small"] = compile_and_fit(keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)]), "small")
