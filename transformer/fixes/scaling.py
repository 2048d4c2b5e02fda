"""Input scaling, two ways. In the data: the array ``fit`` trains on is scaled where it is built (a statement
right after its last assignment): ``/ 255.0`` for pixel-like values, else standardised per feature as
``StandardScaler`` does; an array given as ``validation_data`` gets the training array's statistics. In the
model: a ``layers.Rescaling(1 / 255.0)`` for pixel-like values, else a ``layers.Normalization`` adapted to the
training array, as the first layer of the model ``fit`` trains (a ``Sequential`` list or ``add`` chain, or
applied to the functional model's ``Input``), so the model scales what it is given wherever it is used.
NaN in the inputs (cause ``data``): ``np.nan_to_num`` where the array is built."""

import re

import libcst as cst

from .source import _assigned, _Replace, argument, insert_after, line_of, remove_argument, set_argument

INPUT_ARGUMENTS = ("input_shape", "input_dim")


def fit_arrays(source, finding):
    """``(fit call, x name, validation x name or None)`` when ``fit``'s inputs are plain names."""
    fit = source.fit_call(line_of(finding.get("fit")))
    if fit is None:
        return None
    x = argument(fit, "x", 0)
    if x is None or not isinstance(x.value, cst.Name):
        return None
    name = _array_behind(source, x.value.value, source.line(fit))
    if name is None:
        return None
    validation = argument(fit, "validation_data", 7)
    val_x = None
    if validation is not None and isinstance(validation.value, cst.Tuple) and validation.value.elements:
        first = validation.value.elements[0].value
        val_x = first.value if isinstance(first, cst.Name) else None
    return fit, name, val_x


def _array_behind(source, name, line, index=0):
    """The array at ``index`` of the ``from_tensor_slices((X, y))`` a ``tf.data`` pipeline ``name`` is built from
    (followed back through ``ds = ds.shuffle(...)``), else ``name`` itself for index 0 (an array), else None."""
    statement = source.assignment_before(name, line)
    for _ in range(20):
        if statement is None:
            break
        slices = [
            c for c in source.method_calls("from_tensor_slices") if c.args and source.statement_of(c) is statement
        ]
        if slices:
            data = slices[0].args[0].value
            elements = [e.value for e in data.elements] if isinstance(data, cst.Tuple) else [data]
            found = elements[index] if index < len(elements) else None
            return found.value if isinstance(found, cst.Name) else None
        statement = source.assignment_before(name, source.line(statement))
    return name if index == 0 else None


array_behind = _array_behind


def _edit(source, fit, names, lines):
    """Insert ``lines`` after the last assignment of any of ``names`` before ``fit``."""
    statements = [source.assignment_before(name, source.line(fit)) for name in names]
    statements = [s for s in statements if s is not None]
    if not statements:
        return None
    last = max(statements, key=source.line)
    return source.apply({last: insert_after(last, *lines)})


def candidates(source, finding, findings=()):
    arrays = fit_arrays(source, finding)
    if arrays is None:
        return []
    fit, x, val_x = arrays
    text = f"{finding.get('evidence', '')} {finding.get('fix', '')}"
    names = [x] + ([val_x] if val_x else [])
    made = []
    if finding.get("cause") == "data":
        numpy = source.numpy()
        if "NaN" in text and numpy:
            lines = [f"{name} = {numpy}.nan_to_num({name})" for name in names]
            made.append((f"NaN in {', '.join(names)} replaced by 0 (nan_to_num)", _edit(source, fit, names, lines)))
        return [m for m in made if m[1]]
    size = re.search(r"\|x\| = ([0-9.e+]+)", text)
    pixels = size is not None and 100 <= float(size.group(1)) <= 255
    standardise = f"({{0}} - {x}.mean(axis=0)) / ({x}.std(axis=0) + 1e-8)"
    if val_x:
        both = f"{x}, {val_x} = {standardise.format(x)}, {standardise.format(val_x)}"
        standardised = (f"{x} and {val_x} standardised with {x}'s mean and std", [both])
    else:
        standardised = (f"{x} standardised per feature (mean 0, std 1)", [f"{x} = {standardise.format(x)}"])
    divided = (f"{', '.join(names)} divided by 255", [f"{name} = {name} / 255.0" for name in names])
    for description, lines in [divided, standardised] if pixels else [standardised]:
        made.append((description, _edit(source, fit, names, lines)))
    if pixels:
        made.insert(
            1,
            (
                "a Rescaling(1 / 255.0) layer first in the model",
                first_layer(source, fit, "layers.Rescaling", "(1 / 255.0)"),
            ),
        )
    else:
        made.append(
            (
                f"a Normalization layer adapted to {x} first in the model",
                first_layer(source, fit, "layers.Normalization", "()", adapt=x),
            )
        )
    return [m for m in made if m[1]]


def first_layer(source, fit, path, arguments, adapt=None):
    """The file with the Keras layer ``path(arguments)`` first in the model ``fit`` trains, or None. ``adapt``:
    the layer is made and adapted to that array (two statements before the model is built) and the model
    gets it by name."""
    spelled, edits = source.spelling_or_import(path)
    if spelled is None:
        return None
    layer, setup = f"{spelled}{arguments}", []
    if adapt:
        name = source.free_name("normalizer")
        setup, layer = [f"{name} = {layer}", f"{name}.adapt({adapt})"], name
    placed = _in_sequential(source, fit, layer) or _in_functional(source, layer)
    if placed is None:
        return None
    statement, statements, others = placed
    if adapt and source.assignment_before(adapt, source.line(statement)) is None:
        return None  # the array is not there yet where the model is built
    nodes = [cst.parse_statement(line + "\n") for line in setup] + statements
    if setup:  # the blank lines and comments above the model stay above what now comes first
        nodes = [
            nodes[0].with_changes(leading_lines=statement.leading_lines),
            *nodes[1 : len(setup)],
            nodes[len(setup)].with_changes(leading_lines=()),
            *nodes[len(setup) + 1 :],
        ]
    edits.update(others)
    edits[statement] = cst.FlattenSentinel(nodes)
    return source.apply(edits)


def _sequential_call(source, fit):
    """The ``Sequential(...)`` call that builds the model ``fit`` trains (the file's only one, else the one
    assigned to ``fit``'s receiver), or None."""
    sequentials = [c for c in source.calls() if (source.keras(c) or "").split(".")[-1] == "Sequential"]
    if len(sequentials) == 1:
        return sequentials[0]
    statement = source.assignment_before(source.text(fit.func.value), source.line(fit))
    at = [c for c in sequentials if statement is not None and source.statement_of(c) is statement]
    return at[0] if len(at) == 1 else None


def _is_input(source, node):
    return isinstance(node, cst.Call) and (source.keras(node) or "").split(".")[-1] in ("Input", "InputLayer")


def _with_input_of(source, new, call):
    """``(new layer, first layer)`` with the first layer's ``input_shape``/``input_dim`` moved onto the new one
    (Keras reads it from the first layer only); unchanged when the new layer is a name or there is none."""
    if not isinstance(new, cst.Call) or not isinstance(call, cst.Call):
        return new, call
    for keyword in INPUT_ARGUMENTS:
        found = argument(call, keyword)
        if found is not None:
            return set_argument(new, keyword, found.value), remove_argument(call, keyword)
    return new, call


def _in_sequential(source, fit, layer):
    """``(model statement, its replacement statements, other edits)`` with ``layer`` first in the Sequential."""
    sequential = _sequential_call(source, fit)
    statement = source.statement_of(sequential) if sequential is not None else None
    if statement is None:
        return None
    new = cst.parse_expression(layer)
    listed = argument(sequential, "layers", 0)
    if listed is not None and isinstance(listed.value, cst.List) and listed.value.elements:
        elements = list(listed.value.elements)
        index = 0
        while index < len(elements) and _is_input(source, elements[index].value):
            index += 1
        if index < len(elements):
            comma = (
                elements[index].comma
                if isinstance(elements[index].comma, cst.Comma)
                else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
            if index == 0:
                new, first = _with_input_of(source, new, elements[0].value)
                elements[0] = elements[0].with_changes(value=first)
            elements.insert(index, cst.Element(value=new, comma=comma))
        else:
            if not isinstance(elements[-1].comma, cst.Comma):
                elements[-1] = elements[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            elements.append(cst.Element(value=new))
        changed = sequential.with_changes(
            args=[
                a.with_changes(value=listed.value.with_changes(elements=elements)) if a is listed else a
                for a in sequential.args
            ]
        )
        return statement, [statement.visit(_Replace({sequential: changed}))], {}
    if listed is not None:
        return None
    model = sorted(_assigned(statement))
    if len(model) != 1:
        return None
    adds = [
        c
        for c in source.method_calls("add")
        if source.text(c.func.value) == model[0] and source.line(c) > source.line(statement) and c.args
    ]
    if not adds:
        return None
    first = min(adds, key=source.line)
    if _is_input(source, first.args[0].value):
        after = source.statement_of(first)
        return after, [after, cst.parse_statement(f"{model[0]}.add({layer})\n")], {}
    new, moved = _with_input_of(source, new, first.args[0].value)
    others = {first.args[0].value: moved} if moved is not first.args[0].value else {}
    added = cst.parse_statement(f"{model[0]}.add({cst.Module(body=[]).code_for_node(new)})\n")
    return statement, [statement, added], others


def _in_functional(source, layer):
    """The same for a functional model: the file's one ``Input``, given to ``layer`` first where layers take it."""
    inputs = [c for c in source.calls() if _is_input(source, c)]
    statement = source.statement_of(inputs[0]) if len(inputs) == 1 else None
    names = sorted(_assigned(statement)) if statement is not None else []
    if len(names) != 1:
        return None
    others = {}
    for call in source.calls():
        if isinstance(call.func, cst.Call) and source.line(call) > source.line(statement):
            for arg in call.args:
                if isinstance(arg.value, cst.Name) and arg.value.value == names[0]:
                    others[arg.value] = cst.parse_expression(f"{layer}({names[0]})")
    return (statement, [statement], others) if others else None
