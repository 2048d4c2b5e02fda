"""Label encoding: binary labels not in {0, 1} (``-1/+1``, ``2/4``) mapped to 0/1 where the array is built (the
labels of a ``tf.data`` pipeline where its ``from_tensor_slices`` array is built); labels 0..N under binary
cross-entropy divided by N (0/255 masks; the finding's other repair, N + 1 softmax units, is ``output``'s);
targets reshaped to the output's shape when the fix says so; class indices against a non-sparse loss given
the ``sparse_`` loss, or one-hot encoded with ``to_categorical``."""

import re

import libcst as cst

from .output import _loss_edit, loss_of
from .scaling import array_behind
from .source import argument, insert_after, line_of


def candidates(source, finding, findings=()):
    fit = source.fit_call(line_of(finding.get("fit")))
    if fit is None:
        return []
    y, x = argument(fit, "y", 1), argument(fit, "x", 0)
    name = y.value.value if y is not None and isinstance(y.value, cst.Name) else None
    if y is None and x is not None and isinstance(x.value, cst.Name):  # a dataset: its labels' array
        name = array_behind(source, x.value.value, source.line(fit), index=1)
    statement = source.assignment_before(name, source.line(fit)) if name else None
    text = finding.get("fix", "")
    made = []
    if statement is not None and "map the labels to 0 and 1" in text:
        made.append(
            (
                f"{name} mapped to 0/1 (its larger value is the positive class)",
                source.apply(
                    {
                        statement: insert_after(
                            statement, f"{name} = ({name} == {name}.max()).astype({source.string('float32')})"
                        )
                    }
                ),
            )
        )
    classes = re.search(r"labels are classes 0\.\.(\d+)", text)
    if statement is not None and classes and int(classes.group(1)) > 1:
        made.append(
            (
                f"{name} divided by {classes.group(1)} (labels in [0, 1] for binary cross-entropy)",
                source.apply({statement: insert_after(statement, f"{name} = {name} / {classes.group(1)}")}),
            )
        )
    reshape = re.search(r"`y = y\.reshape\(([^`]*)\)`", text)
    if statement is not None and reshape:
        made.append(
            (
                f"{name} reshaped to the output's shape",
                source.apply({statement: insert_after(statement, f"{name} = {name}.reshape({reshape.group(1)})")}),
            )
        )
    loss = loss_of(source, source.compile_call(fit))
    if loss is not None and loss[1] == "categorical_crossentropy" and "sparse" in text:
        node = _loss_edit(source, loss, "sparse_categorical_crossentropy")
        if node is not None:
            made.append(("sparse_categorical_crossentropy for integer class labels", source.apply({loss[0]: node})))
        categorical = source.spelling("utils.to_categorical")
        if statement is not None and categorical:
            made.append(
                (
                    f"{name} one-hot encoded (to_categorical)",
                    source.apply({statement: insert_after(statement, f"{name} = {categorical}({name})")}),
                )
            )
    return made
