"""Input scaling: the array ``fit`` trains on is scaled where it is built (a statement right after its last
assignment): ``/ 255.0`` for pixel-like values, else standardised per feature as ``StandardScaler`` does;
an array given as ``validation_data`` gets the training array's statistics. NaN in the inputs
(cause ``data``): ``np.nan_to_num`` there."""

import re

import libcst as cst

from .source import argument, insert_after, line_of


def fit_arrays(source, finding):
    """``(fit call, x name, validation x name or None)`` when ``fit``'s inputs are plain names."""
    fit = source.fit_call(line_of(finding.get("fit")))
    if fit is None:
        return None
    x = argument(fit, "x", 0)
    if x is None or not isinstance(x.value, cst.Name):
        return None
    name = _array_behind(source, x.value.value, source.line(fit))
    validation = argument(fit, "validation_data", 7)
    val_x = None
    if validation is not None and isinstance(validation.value, cst.Tuple) and validation.value.elements:
        first = validation.value.elements[0].value
        val_x = first.value if isinstance(first, cst.Name) else None
    return fit, name, val_x


def _array_behind(source, name, line):
    """The array a ``tf.data`` pipeline of ``name`` is built from (``from_tensor_slices((X, y))...``), else ``name``."""
    statement = source.assignment_before(name, line)
    slices = [c for c in source.calls() if statement is not None and source.line(c) == source.line(statement)
              and isinstance(c.func, cst.Attribute) and c.func.attr.value == "from_tensor_slices" and c.args]
    if not slices:
        return name
    data = slices[0].args[0].value
    first = data.elements[0].value if isinstance(data, cst.Tuple) and data.elements else data
    return first.value if isinstance(first, cst.Name) else name


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
    standardise = (f"({{0}} - {x}.mean(axis=0)) / ({x}.std(axis=0) + 1e-8)")
    if val_x:
        both = f"{x}, {val_x} = {standardise.format(x)}, {standardise.format(val_x)}"
        standardised = (f"{x} and {val_x} standardised with {x}'s mean and std", [both])
    else:
        standardised = (f"{x} standardised per feature (mean 0, std 1)", [f"{x} = {standardise.format(x)}"])
    divided = (f"{', '.join(names)} divided by 255", [f"{name} = {name} / 255.0" for name in names])
    for description, lines in ([divided, standardised] if pixels else [standardised]):
        made.append((description, _edit(source, fit, names, lines)))
    return [m for m in made if m[1]]
