"""Random small Keras training programs, written as source text, for the property-based equivalence test.

``programs()`` is a hypothesis strategy of ``Program``s: a complete, standalone training script
(seeded with ``set_random_seed(0)``, tiny synthetic numpy data, one ``model.fit``) that, given an
output prefix as ``sys.argv[1]``, saves ``PREFIX.model.npz`` (the model's weights, then the
optimizer's variables) and ``PREFIX.model.json`` (the History) in the format of
``tests/programs/_save.py``, so that ``test_equivalence._load(PREFIX, "model")`` reads them back.
What varies: the import spelling, the model form (Sequential list, Sequential + ``add``, functional;
built inline or by a builder function), the input kind and a layer stack valid for it (dense
features, small images, token sequences), the head and its loss, ``compile``'s optimizer, loss and
metrics, and ``fit``'s arguments and data (numpy arrays or a ``tf.data.Dataset``).

Starting TensorFlow costs seconds, so the programs are run by long-lived *workers*
(``python tests/generated_programs.py serve``; ``run_in_turn`` runs a given list of programs, other tests' too, in
one process the same way): each request ``exec``s one program file in a fresh namespace with its own
``__file__``, ``__name__ == "__main__"`` and ``sys.argv``, after ``keras.backend.clear_session()``; the
program's own ``set_random_seed(0)`` then resets every random state it depends on.
``test_generated_programs.py`` checks that a worker trains a program exactly as a fresh process does.
"""

import json
import math
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass

from hypothesis import strategies as st

STEPS_COMMENT = "# optimizer steps: "


class Program:
    """A generated program: its source, a one-line summary, and the optimizer steps its single fit takes."""

    def __init__(self, source, summary, steps):
        self.source, self.summary, self.steps = source, summary, steps

    def __repr__(self):  # the source itself is printed by the test's note()
        return f"Program({self.summary!r})"


def expected_steps(source):
    """The ``# optimizer steps: N`` a generated (or regression) program declares, or None."""
    for line in source.splitlines():
        if line.startswith(STEPS_COMMENT):
            return int(line[len(STEPS_COMMENT) :])
    return None


# -- import spellings ------------------------------------------------------------------------------


class Spelling:
    """How one program names Keras: the module root, and how layers, models, optimizers, losses are reached."""

    def __init__(self, root_import, root, package, layers, models, objects, alias_names):
        self.root_import = root_import  # "import keras", "import tensorflow as tf", ...
        self.root = root  # the expression of the keras module: "keras", "tf.keras", "K"
        self.package = package  # for `from PACKAGE.layers import ...`: "keras" or "tensorflow.keras"
        self.layers = layers  # "root" | ("module", name) | "names"
        self.models = models  # "root" | "models" | "names" | "models_names"
        self.objects = objects  # optimizers and losses: "root" | "names"
        self.alias_names = alias_names
        self._names = {}  # module -> {name: local name}
        self.needs_tf = root == "tf.keras"

    def _imported(self, module, name):
        local = f"K{name}" if self.alias_names else name
        self._names.setdefault(module, {})[name] = local
        return local

    def layer(self, name):
        if self.layers == "root":
            return f"{self.root}.layers.{name}"
        if self.layers == "names":
            return self._imported(f"{self.package}.layers", name)
        return f"{self.layers[1]}.{name}"

    def _model_part(self, name, module_attr):
        if self.models == "root":
            return f"{self.root}.{name}"
        if self.models == "models":
            return f"{self.root}.{module_attr}.{name}"
        if self.models == "names":
            return self._imported(self.package, name)
        return self._imported(f"{self.package}.{module_attr}", name)

    def sequential(self):
        return self._model_part("Sequential", "models")

    def model(self):
        return self._model_part("Model", "models")

    def input(self):
        return self._model_part("Input", "layers")

    def optimizer(self, name):
        if self.objects == "names":
            return self._imported(f"{self.package}.optimizers", name)
        return f"{self.root}.optimizers.{name}"

    def loss(self, name):
        if self.objects == "names":
            return self._imported(f"{self.package}.losses", name)
        return f"{self.root}.losses.{name}"

    def import_lines(self):
        lines = [self.root_import]
        if isinstance(self.layers, tuple):
            lines.append(self.layers[2])
        for module, names in self._names.items():
            parts = [n if local == n else f"{n} as {local}" for n, local in names.items()]
            lines.append(f"from {module} import {', '.join(parts)}")
        return lines


@st.composite
def spellings(draw):
    root_import, root = draw(
        st.sampled_from(
            [
                ("import keras", "keras"),
                ("from tensorflow import keras", "keras"),
                ("import tensorflow as tf", "tf.keras"),
                ("import keras as K", "K"),
                ("import tensorflow.keras as tfk", "tfk"),
            ]
        )
    )
    package = draw(st.sampled_from(["keras", "tensorflow.keras"]))
    layers = draw(st.sampled_from(["root", "module", "module_alias", "names"]))
    if layers == "module":
        layers = ("module", "layers", f"from {package} import layers")
    elif layers == "module_alias":
        layers = ("module", "L", f"from {package} import layers as L")
    models = draw(st.sampled_from(["root", "models", "names", "models_names"]))
    objects = draw(st.sampled_from(["root", "names"]))
    alias_names = draw(st.booleans())
    return Spelling(root_import, root, package, layers, models, objects, alias_names)


# -- tasks: input kind, data, head and loss ---------------------------------------------------------

ACTIVATIONS = [None, "relu", "tanh", "sigmoid", "elu"]


def _call(name, *args, **kwargs):
    parts = [repr(a) if not isinstance(a, Raw) else str(a) for a in args]
    parts += [f"{k}={v if isinstance(v, Raw) else repr(v)}" for k, v in kwargs.items() if v is not None]
    return f"{name}({', '.join(parts)})"


class Raw(str):
    """An argument written as code, not as a literal."""


@st.composite
def dense_layer(draw, spell, allow_regularizer=True):
    kind = draw(st.sampled_from(["Dense", "Dense", "Dropout", "BatchNormalization", "LayerNormalization"]))
    if kind == "Dense":
        kwargs = {"activation": draw(st.sampled_from(ACTIVATIONS))}
        if allow_regularizer and draw(st.integers(0, 4)) == 0:
            kwargs["kernel_regularizer"] = Raw(f"{spell.root}.regularizers.l2(1e-3)")
        return _call(spell.layer("Dense"), draw(st.sampled_from([4, 8, 16])), **kwargs)
    if kind == "Dropout":
        return _call(spell.layer("Dropout"), draw(st.sampled_from([0.1, 0.25, 0.5])))
    return _call(spell.layer(kind))


@st.composite
def dense_stack(draw, spell):
    return draw(st.lists(dense_layer(spell), max_size=3))


@st.composite
def image_stack(draw, spell, size):
    stack = []
    for position in range(draw(st.integers(1, 4))):
        kind = (
            "Conv2D"
            if position == 0
            else draw(st.sampled_from(["Conv2D", "MaxPooling2D", "AveragePooling2D", "BatchNormalization", "Dropout"]))
        )
        if kind == "Conv2D":
            kernel = draw(st.sampled_from([3, 2]))
            padding = draw(st.sampled_from([None, "same", "valid"]))
            if padding != "same":
                if size < kernel:
                    continue
                size -= kernel - 1
            stack.append(
                _call(
                    spell.layer("Conv2D"),
                    draw(st.sampled_from([2, 4, 8])),
                    kernel,
                    activation=draw(st.sampled_from([None, "relu", "tanh"])),
                    padding=padding,
                )
            )
        elif kind.endswith("Pooling2D"):
            if size < 2:
                continue
            size //= 2
            stack.append(_call(spell.layer(kind), 2) if kind.startswith("Average") else _call(spell.layer(kind)))
        elif kind == "Dropout":
            stack.append(_call(spell.layer("Dropout"), draw(st.sampled_from([0.1, 0.25]))))
        else:
            stack.append(_call(spell.layer(kind)))
    stack.append(_call(spell.layer(draw(st.sampled_from(["Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D"])))))
    stack += draw(st.lists(dense_layer(spell, allow_regularizer=False), max_size=1))
    return stack


@st.composite
def sequence_stack(draw, spell, vocabulary, length):
    core = draw(st.sampled_from(["LSTM", "GRU", "SimpleRNN", "Conv1D"]))
    mask = core != "Conv1D" and draw(st.booleans())
    stack = [
        _call(spell.layer("Embedding"), vocabulary, draw(st.sampled_from([4, 8])), mask_zero=True if mask else None)
    ]
    if core == "Conv1D":
        stack.append(
            _call(
                spell.layer("Conv1D"),
                draw(st.sampled_from([4, 8])),
                draw(st.sampled_from([2, 3])),
                activation=draw(st.sampled_from([None, "relu"])),
            )
        )
        stack.append(
            _call(spell.layer(draw(st.sampled_from(["GlobalMaxPooling1D", "GlobalAveragePooling1D", "Flatten"]))))
        )
    else:
        if draw(st.booleans()):  # two recurrent layers
            stack.append(_call(spell.layer(core), draw(st.sampled_from([4, 8])), return_sequences=True))
        stack.append(_call(spell.layer(core), draw(st.sampled_from([4, 8]))))
    stack += draw(
        st.lists(
            st.sampled_from(["Dense", "Dropout"]).map(
                lambda k: _call(
                    spell.layer(k), 8 if k == "Dense" else 0.25, **({"activation": "relu"} if k == "Dense" else {})
                )
            ),
            max_size=1,
        )
    )
    return stack


@dataclass
class Task:
    inputs: str  # "dense" | "image" | "sequence"
    input_shape: tuple
    int_input: bool
    data_lines: list  # body of make_data(count): defines X and score
    head: str  # "regression" | "binary" | "binary_logits" | "sparse" | "sparse_logits" | "categorical"
    classes: int
    stack: list


@st.composite
def tasks(draw, spell):
    inputs = draw(st.sampled_from(["dense", "image", "sequence"]))
    if inputs == "dense":
        features = draw(st.sampled_from([4, 8, 12]))
        shape, int_input = (features,), False
        data = [f'X = rng.normal(size=(count, {features})).astype("float32")', "score = X[:, 0] - 0.5 * X[:, 1]"]
        stack = draw(dense_stack(spell))
    elif inputs == "image":
        size, channels = draw(st.sampled_from([6, 8])), draw(st.sampled_from([1, 3]))
        shape, int_input = (size, size, channels), False
        data = [
            f'X = rng.normal(size=(count, {size}, {size}, {channels})).astype("float32")',
            f"score = 4 * X[:, : {size // 2}].mean(axis=(1, 2, 3))",
        ]
        stack = draw(image_stack(spell, size))
    else:
        vocabulary, length = draw(st.sampled_from([20, 30])), draw(st.sampled_from([6, 8]))
        shape, int_input = (length,), draw(st.booleans())
        data = [
            f"X = rng.integers(1, {vocabulary}, size=(count, {length}))",
            f"X[:, {length - 2}:] *= rng.integers(0, 2, size=(count, 1))  # some sequences end in padding",
            f"score = (X[:, 0] + X[:, 1]) / {vocabulary} - 1.0",
        ]
        stack = draw(sequence_stack(spell, vocabulary, length))
    head = draw(st.sampled_from(["regression", "binary", "sparse", "binary_logits", "sparse_logits", "categorical"]))
    classes = {"regression": draw(st.sampled_from([1, 2])), "binary": 1, "binary_logits": 1}.get(head) or draw(
        st.sampled_from([3, 4])
    )
    if head == "regression":
        data.append(f'y = np.repeat(score[:, None], {classes}, axis=1).astype("float32")')
    elif head.startswith("binary"):
        data.append('y = (score > 0).astype("float32").reshape(-1, 1)')
    else:
        thresholds = [-0.5, 0.0, 0.5][: classes - 1] if classes == 4 else [-0.3, 0.3]
        data.append(f"labels = np.digitize(score, {thresholds})")
        data.append(
            f'y = np.eye({classes}, dtype="float32")[labels]' if head == "categorical" else 'y = labels.astype("int32")'
        )
    return Task(inputs, shape, int_input, data, head, classes, stack)


def head_layer(spell, task):
    activation = {"binary": "sigmoid", "sparse": "softmax", "categorical": "softmax"}.get(task.head)
    return _call(spell.layer("Dense"), task.classes, activation=activation)


@st.composite
def losses(draw, spell, head):
    as_object = draw(st.booleans())
    if head == "regression":
        return (
            draw(st.sampled_from([repr("mse"), repr("mean_squared_error")]))
            if not as_object
            else f"{spell.loss('MeanSquaredError')}()"
        )
    if head == "binary":
        return repr("binary_crossentropy") if not as_object else f"{spell.loss('BinaryCrossentropy')}()"
    if head == "binary_logits":
        return f"{spell.loss('BinaryCrossentropy')}(from_logits=True)"
    if head == "sparse":
        return (
            repr("sparse_categorical_crossentropy")
            if not as_object
            else f"{spell.loss('SparseCategoricalCrossentropy')}()"
        )
    if head == "sparse_logits":
        return f"{spell.loss('SparseCategoricalCrossentropy')}(from_logits=True)"
    return repr("categorical_crossentropy") if not as_object else f"{spell.loss('CategoricalCrossentropy')}()"


@st.composite
def optimizers(draw, spell):
    name = draw(st.sampled_from(["sgd", "adam", "rmsprop"]))
    if draw(st.booleans()):
        return repr(name)
    cls = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop"}[name]
    rate = draw(st.sampled_from([0.01, 0.1, 0.001]))
    extra = ", momentum=0.9" if name == "sgd" and draw(st.booleans()) else ""
    if draw(st.booleans()):
        return f"{spell.optimizer(cls)}({rate}{extra})"
    return f"{spell.optimizer(cls)}(learning_rate={rate}{extra})"


def _metrics(draw, head):
    choices = [None, ["mae"]] if head == "regression" else [None, ["accuracy"]]
    if head in ("sparse", "sparse_logits"):
        choices.append(["sparse_categorical_accuracy"])
    return draw(st.sampled_from(choices))


# -- the program --------------------------------------------------------------------------------


@st.composite
def programs(draw):
    spell = draw(spellings())
    task = draw(tasks(spell))
    form = draw(st.sampled_from(["list", "add", "functional"]))
    input_style = "input" if form == "functional" else draw(st.sampled_from(["input", "unbuilt", "input_shape"]))
    dtype = Raw(repr("int32")) if task.int_input else None
    layers = task.stack + [head_layer(spell, task)]

    model_lines = []
    if form == "functional":
        model_lines.append(f"inputs = {_call(spell.input(), shape=task.input_shape, dtype=dtype)}")
        previous = "inputs"
        for layer in layers[:-1]:
            model_lines.append(f"x = {layer}({previous})")
            previous = "x"
        model_lines.append(f"outputs = {layers[-1]}({previous})")
        model_lines.append(
            f"model = {spell.model()}(inputs, outputs)"
            if draw(st.booleans())
            else f"model = {spell.model()}(inputs=inputs, outputs=outputs)"
        )
    else:
        if input_style == "input_shape":
            first = layers[0]
            layers = [
                f"{first[:-1]}{', ' if not first.endswith('()') else ''}input_shape={task.input_shape!r})"
            ] + layers[1:]
        elif input_style == "input":
            layers = [_call(spell.input(), shape=task.input_shape, dtype=dtype)] + layers
        if form == "list":
            model_lines.append(f"model = {spell.sequential()}([")
            model_lines += [f"    {layer}," for layer in layers]
            model_lines.append("])")
        else:
            model_lines.append(f"model = {spell.sequential()}()")
            model_lines += [f"model.add({layer})" for layer in layers]

    loss = draw(losses(spell, task.head))
    optimizer = draw(optimizers(spell))
    metrics = _metrics(draw, task.head)
    if draw(st.booleans()):
        compile_args = [f"optimizer={optimizer}", f"loss={loss}"]
    else:
        compile_args = [optimizer, loss]
    if metrics:
        compile_args.append(f"metrics={metrics!r}")
    model_lines.append(f"model.compile({', '.join(compile_args)})")

    # fit: data, its arguments
    count = draw(st.sampled_from([64, 50]))
    epochs = draw(st.sampled_from([1, 2]))
    classification = task.head != "regression"
    data_lines = []
    use_dataset = draw(st.booleans())
    weighting = draw(
        st.sampled_from([None, "sample_weight", "class_weight"] if classification else [None, "sample_weight"])
    )
    validation = draw(
        st.sampled_from([None, "split", "data", "dataset"] if not use_dataset else [None, "data", "dataset"])
    )
    positional = draw(st.booleans())
    args, kwargs = [], {}
    if weighting == "sample_weight":
        data_lines.append(f'w = np.linspace(0.5, 1.5, {count}).astype("float32")')
    if use_dataset:
        batch = draw(st.sampled_from([8, 16, 32]))
        slices = "(X, y, w)" if weighting == "sample_weight" else "(X, y)"
        shuffle = f".shuffle({count}, seed=5)" if draw(st.booleans()) else ""
        data_lines.append(f"train = tf.data.Dataset.from_tensor_slices({slices}){shuffle}.batch({batch})")
        if positional:
            args.append("train")
        else:
            kwargs["x"] = "train"
        steps = math.ceil(count / batch)
    else:
        batch = draw(st.sampled_from([None, 8, 16, 32]))
        if positional:
            args += ["X", "y"]
        else:
            kwargs.update(x="X", y="y")
        if batch is not None:
            kwargs["batch_size"] = str(batch)
        if weighting == "sample_weight":
            kwargs["sample_weight"] = "w"
        shuffle = draw(st.sampled_from([None, True, False]))
        if shuffle is not None:
            kwargs["shuffle"] = str(shuffle)
        train_count = count
        if validation == "split":
            split = draw(st.sampled_from([0.2, 0.25]))
            kwargs["validation_split"] = str(split)
            train_count = int(math.floor(count * (1.0 - split)))
        steps = math.ceil(train_count / (batch or 32))
    kwargs["epochs"] = str(epochs)
    if weighting == "class_weight":
        weights = {c: round(1.0 + 0.5 * c, 2) for c in range(max(task.classes, 2))}
        kwargs["class_weight"] = repr(weights)
    if validation in ("data", "dataset"):
        data_lines.insert(0, "X_val, y_val = make_data(16)")
        if validation == "data":
            kwargs["validation_data"] = "(X_val, y_val)"
        else:
            data_lines.append("val = tf.data.Dataset.from_tensor_slices((X_val, y_val)).batch(8)")
            kwargs["validation_data"] = "val"
    kwargs["verbose"] = "0"
    order = draw(st.permutations(sorted(kwargs)))
    fit_args = ", ".join(args + [f"{k}={kwargs[k]}" for k in order])
    steps *= epochs

    build_in_function = draw(st.booleans())
    fit_in_main = draw(st.sampled_from([None, "if", "def"]))
    needs_tf = use_dataset or validation == "dataset"

    # render
    body = []
    body.append(f"{spell.root}.utils.set_random_seed(0)")
    body.append(f"rng = np.random.default_rng({draw(st.integers(0, 3))})")
    body.append("")
    body.append("")
    body.append("def make_data(count):")
    body += [f"    {line}" for line in task.data_lines]
    body.append("    return X, y")
    body.append("")
    body.append("")
    body.append(f"X, y = make_data({count})")
    body += data_lines
    body.append("")
    if build_in_function:
        body.append("")
        body.append("def build_model():")
        body += [f"    {line}" for line in model_lines]
        body.append("    return model")
        body.append("")
        body.append("")
        body.append("model = build_model()")
    else:
        body += model_lines
    tail = [
        f"history = model.fit({fit_args})",
        "if len(sys.argv) > 1:  # what the equivalence test compares: weights, optimizer state, History",
        '    np.savez(sys.argv[1] + ".model.npz", *model.get_weights(), *[v.numpy() for v in model.optimizer.variables])',
        '    with open(sys.argv[1] + ".model.json", "w") as f:',
        "        json.dump({k: [float(v) for v in vs] for k, vs in history.history.items()}, f)",
    ]
    if fit_in_main == "if":
        body += ["", 'if __name__ == "__main__":'] + [f"    {line}" for line in tail]
    elif fit_in_main == "def":
        body += (
            ["", "", "def main():"]
            + [f"    {line}" for line in tail]
            + ["", "", 'if __name__ == "__main__":', "    main()"]
        )
    else:
        body += tail

    imports = spell.import_lines()
    if needs_tf and not spell.needs_tf:
        imports.append("import tensorflow as tf")
    summary = (
        f"{task.inputs} -> {task.head}; {form}"
        f"{'' if form == 'functional' else '/' + input_style}; {spell.root_import}; layers={spell.layers if isinstance(spell.layers, str) else spell.layers[2]}; "
        f"{'dataset' if use_dataset else 'numpy'}; {weighting or 'unweighted'}; validation={validation}"
    )
    header = (
        [
            f"# Generated by tests/generated_programs.py: {summary}.",
            f"{STEPS_COMMENT}{steps}",
            "import json",
            "import sys",
            "",
            "import numpy as np",
        ]
        + imports
        + ["", ""]
    )
    source = "\n".join(header + body) + "\n"
    return Program(source, summary, steps)


# -- workers: many programs, one TensorFlow start --------------------------------------------------


def _run_program(path, out="", report=None, env=None, cwd=None, path_entries=()):
    """Run the program file ``path`` as ``__main__`` with ``sys.argv == [path, out]`` (``out`` omitted when empty),
    after clearing Keras's session and dnn-instrument's run; ``env``, ``cwd`` and ``path_entries`` (as PYTHONPATH)
    hold for this program only. Returns the reply: ok, its times, or the error."""
    import gc

    import keras

    keras.backend.clear_session()
    session = sys.modules.get("dnn_instrument.runtime.session")
    if session is not None:
        session._current = None  # a new script: a new run folder
    saved_environ, saved_cwd, saved_path = dict(os.environ), os.getcwd(), list(sys.path)
    os.environ.update(env or {})
    if report:
        os.environ["DNN_INSTRUMENT_REPORT"] = report
    else:
        os.environ.pop("DNN_INSTRUMENT_REPORT", None)
    if cwd:
        os.chdir(cwd)
    sys.path[:0] = [str(entry) for entry in path_entries]
    sys.argv = [path, out] if out else [path]
    namespace = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    started, cpu = time.perf_counter(), time.process_time()
    try:
        with open(path) as f:
            code = compile(f.read(), path, "exec")
        exec(code, namespace)
        return {"ok": True, "seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu}
    except BaseException:  # noqa: B036 -- SystemExit of a program is a failure too
        return {"ok": False, "error": traceback.format_exc(limit=-12)}
    finally:
        namespace.clear()
        keras.backend.clear_session()
        gc.collect()
        os.environ.clear()
        os.environ.update(saved_environ)
        os.chdir(saved_cwd)
        sys.path[:] = saved_path


def serve():
    """Answer requests (one JSON line each: path, out, report) with one JSON line each, until EOF."""
    import faulthandler

    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the programs print goes to the log, not into the replies
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # a worker that does not answer: its stacks, to the log
    import keras  # noqa: F401 -- paid once, before the first request
    import numpy  # noqa: F401
    import tensorflow  # noqa: F401

    replies.write(json.dumps({"ready": True}) + "\n")
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        request = json.loads(line)
        replies.write(json.dumps(_run_program(request["path"], request["out"], request.get("report"))) + "\n")


class Worker:
    """A ``serve`` process: ``submit`` a program, then ``collect`` its result (so two workers can run at once)."""

    def __init__(self, name, folder, env, command=None):
        self.name, self.folder, self.env = name, folder, env
        self.command = command or [sys.executable, os.path.abspath(__file__), "serve"]
        self.process = None
        self._starting = False
        self.log_path = os.path.join(folder, f"{name}.log")
        self.programs = 0

    def start(self):
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            bufsize=0,  # replies are read from the pipe itself (``_read``), never from a buffer in front of it
            env={**os.environ, **self.env},
            cwd=self.folder,
        )
        self._unread = b""
        log.close()

    def _read(self, timeout):
        """The worker's next reply line, read straight from the pipe: bytes read past it are kept for the next call
        (``select`` sees the pipe, not a buffer: a reply already read into one would be waited for in vain, as when
        a quick program's reply arrives together with the worker's "ready")."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._unread:
            left = deadline - time.monotonic()
            ready = left > 0 and select.select([self.process.stdout], [], [], left)[0]
            chunk = os.read(self.process.stdout.fileno(), 1 << 16) if ready else b""
            if not chunk:
                self._dump_stacks()
                self.stop()
                return {"ok": False, "error": f"{self.name} worker died or timed out ({timeout} s):\n{self.log_tail()}"}
            self._unread += chunk
        line, _, self._unread = self._unread.partition(b"\n")
        return json.loads(line)

    def _dump_stacks(self, wait=10):
        """A worker that does not answer: its Python stacks into its log (``serve`` has faulthandler write them on
        SIGUSR1), waited for until they are there (at most ``wait`` seconds); nothing for a worker that died."""
        if self.process.poll() is not None:
            return
        dumps = self.log_tail(None).count("(most recent call first)")  # the log goes on across restarts
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + wait
        while self.log_tail(None).count("(most recent call first)") == dumps and time.monotonic() < deadline:
            time.sleep(0.1)

    def submit(self, path, out, report=None):
        """Send a program; a stopped worker is started (its TensorFlow import overlaps with the other worker's)."""
        if self.process is None:
            self.start()
            self._starting = True
        self.programs += 1
        request = {"path": str(path), "out": str(out), "report": report and str(report)}
        self.process.stdin.write((json.dumps(request) + "\n").encode())

    def collect(self, timeout=180):
        """The result of the program submitted last: {"ok": True, "seconds": ...} or {"ok": False, "error": ...}."""
        if self._starting:
            self._starting = False
            started = self._read(120)
            if not started.get("ready"):
                return started
        return self._read(timeout)

    def log_tail(self, size=6000):
        """The last ``size`` characters of the worker's log (None: all of it)."""
        with open(self.log_path) as f:
            text = f.read()
        return text if size is None else text[-size:]

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def run_in_turn(requests):
    """Run programs in turn in a fresh ``python generated_programs.py run`` process, each as a worker runs it:
    ``requests`` are dicts of ``_run_program``'s arguments (``path``, and ``out``, ``report``, ``env``, ``cwd``,
    ``path_entries`` as needed). Returns the replies, one per request (``{"ok": False, "error": ...}`` for those
    the process did not reach), and the process's stderr."""
    from tempfile import TemporaryDirectory

    from conftest import run_python

    with TemporaryDirectory() as folder:
        spec, answers = os.path.join(folder, "requests.json"), os.path.join(folder, "replies.jsonl")
        with open(spec, "w") as f:
            json.dump([{k: v if k in ("env", "path_entries") else str(v) for k, v in r.items()} for r in requests], f)
        process = run_python(os.path.abspath(__file__), "run", spec, answers, timeout=1200)
        replies = []
        if os.path.exists(answers):
            with open(answers) as f:
                replies = [json.loads(line) for line in f]
    missing = {"ok": False, "error": f"not run: the process ended first (exit status {process.returncode})"}
    return replies + [missing] * (len(requests) - len(replies)), process.stderr


def _run_requests(spec, answers):
    """``run REQUESTS.json REPLIES.jsonl``: each request in turn; one reply line each, written as it ends."""
    with open(spec) as f:
        requests = json.load(f)
    with open(answers, "w", buffering=1) as replies:
        for request in requests:
            replies.write(json.dumps(_run_program(**request)) + "\n")


if __name__ == "__main__" and sys.argv[1:] == ["serve"]:
    serve()
elif __name__ == "__main__" and sys.argv[1:2] == ["run"]:
    _run_requests(*sys.argv[2:])
