"""Jupyter notebooks (``.ipynb``) through the same rewrite as ``.py`` files (``transformer.instrument``).

The code cells are joined into one module, IPython's own syntax (``%magic``, ``!shell``, ``%%cell magic``,
``x = !ls``, ``obj?``) hidden behind placeholder lines first, as black[jupyter] and nbQA do; the module is
instrumented; and its lines are dealt back to the cells they came from (the rewrite changes the lines of
``fit`` calls only, never how many lines there are). The generated training loop, with the header that
places the cells' lines (``runtime/cells.py``), goes into one inserted code cell, marked (metadata
``dnn_instrument.generated``, tag ``dnn-instrument``), before the first cell with Python code in it.
Markdown, outputs, metadata and cell ids are kept; a changed cell records its original text in its
metadata (``dnn_instrument.original``) with a fingerprint of its instrumented text, which ``--strip`` uses
to restore it (refusing a cell edited since). Source lines say ``nb.ipynb cell 4, line 7``: cells are
numbered from 1 in the original notebook, markdown cells included.
"""

import hashlib
import os
import re
from dataclasses import dataclass, field

KEY = "dnn_instrument"
TAG = "dnn-instrument"
_LINE_MAGIC = re.compile(r"\s*(?:[%!?]|[\w.,\[\]\s]+=\s*[%!])|.*\?\s*$")
_HEADER_LINE = re.compile(r"(import dnn_instrument\.runtime\.origins\b|dnn_instrument\.runtime\.origins\.watch\()")
_PLACEHOLDER = "pass  # dnn-instrument: IPython syntax hidden here"


def is_notebook(path):
    return str(path).lower().endswith(".ipynb")


@dataclass
class NotebookResult:
    """What ``instrument_notebook`` made: the notebook's text and a plain-text view of its code for diffs."""

    code: str
    rewritten: int = 0
    with_callback: int = 0
    messages: list = field(default_factory=list)  # (where, column, text): where is "cell 4, line 7"
    before: str = ""  # the code cells as text (``# %% cell N`` before each), for --diff
    after: str = ""
    inserted: list = field(default_factory=list)  # line ranges of ``after`` that were generated

    @property
    def changed(self):
        return bool(self.rewritten or self.with_callback)


def read(text, path):
    """The notebook in ``text`` (nbformat 4); ``InstrumentError`` when it is not one."""
    from .transformer import InstrumentError

    try:
        import nbformat
    except ImportError:
        raise InstrumentError(path, 1, 1, "notebooks need nbformat: pip install 'dnn-instrument[notebook]'") from None

    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # JSON errors, validation errors, unknown versions
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InstrumentError(path, 1, 1, f"not a valid Jupyter notebook ({message})") from None
    return notebook


def write(notebook):
    import nbformat

    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


def mask(source):
    """``(lines, hidden)``: the cell's lines with IPython syntax replaced by placeholders, and which lines."""
    lines = source.split("\n")
    first = next((line for line in lines if line.strip()), "")
    if first.lstrip().startswith("%%"):  # a cell magic: the whole cell is the magic's, not Python
        hidden = [i for i, line in enumerate(lines) if line.strip()]
        return ["" if i in hidden else line for i, line in enumerate(lines)], set(hidden)
    masked, hidden = [], set()
    for i, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#") and _LINE_MAGIC.match(line) and _not_python(line):
            indent = line[: len(line) - len(line.lstrip())]
            masked.append(indent + _PLACEHOLDER)
            hidden.add(i)
        else:
            masked.append(line)
    return masked, hidden


def _not_python(line):
    """A line of IPython syntax is one Python cannot parse alone (``a = b % c`` is Python, ``%time f()`` is not)."""
    try:
        compile(line.strip(), "<line>", "exec", dont_inherit=True)
    except SyntaxError:
        return True
    return False


def instrument_notebook(text, path, callback_only=False):
    """Instrument the notebook ``text`` of file ``path``: a ``NotebookResult`` (``InstrumentError`` for bad input)."""
    from .transformer import AlreadyInstrumented, InstrumentError, instrument

    notebook = read(text, path)
    name = os.path.basename(path)
    if any(KEY in cell.get("metadata", {}) for cell in notebook.cells):
        raise AlreadyInstrumented(
            path, 1, 1, "already instrumented by dnn-instrument; instrument the original notebook"
        )
    code_cells = [(number, cell) for number, cell in enumerate(notebook.cells, start=1) if cell.cell_type == "code"]
    lines, owner = [], []  # module lines; (cell number, line in cell) per module line
    for number, cell in code_cells:
        masked = mask(cell.source)[0]
        lines += masked
        owner += [(number, i) for i in range(1, len(masked) + 1)]
    module = "\n".join(lines) + "\n"

    def where(line):
        number, at = owner[min(max(line, 1), len(owner)) - 1]
        return f"cell {number}, line {at}"

    try:
        result = instrument(module, path, callback_only=callback_only)
    except InstrumentError as error:
        raise _at_cell(error, path, where(error.line)) from None
    outcome = NotebookResult(
        code=text,
        rewritten=result.rewritten,
        with_callback=result.with_callback,
        messages=[(where(m.line), m.column, m.text) for m in result.messages],
    )
    outcome.before = view(notebook)
    if not result.changed:
        return outcome
    generated, user = split(result, len(lines))
    changed = {}
    for k, line in enumerate(user, start=1):
        if line != lines[k - 1]:
            number, at = owner[k - 1]
            line = line.replace(repr(f"{name}:{k}"), repr(f"{name} cell {number}, line {at}"))
            changed.setdefault(number, {})[at - 1] = line
    from .runtime.cells import fingerprint

    fingerprints = {}
    for number, cell in code_cells:
        if number in changed:
            cell_lines = cell.source.split("\n")
            for index, line in changed[number].items():
                cell_lines[index] = line
            original, cell.source = cell.source, "\n".join(cell_lines)
            cell.metadata[KEY] = {"original": original, "instrumented": _fingerprint(cell.source)}
        fingerprints[fingerprint(cell.source)] = number
    first = next(
        (
            i
            for i, cell in enumerate(notebook.cells)
            if cell.cell_type == "code"
            and any(
                line.strip() and not line.lstrip().startswith("#")
                for line in mask(cell.source)[0]
                if line.strip() != _PLACEHOLDER
            )
        ),
        0,
    )
    notebook.cells.insert(first, _generated_cell(notebook, name, fingerprints, generated))
    outcome.code = write(notebook)
    outcome.after, outcome.inserted = view(notebook, generated=True)
    return outcome


def split(result, original_lines):
    """``(generated lines without the file header, the user's lines)`` of an instrumented module."""
    inserted = {n for first, last in result.inserted for n in range(first, last + 1)}
    new = result.code.split("\n")
    generated = [line for n, line in enumerate(new, start=1) if n in inserted and not _HEADER_LINE.match(line)]
    user = [line for n, line in enumerate(new, start=1) if n not in inserted][:original_lines]
    while generated and not generated[0].strip():
        generated.pop(0)
    while generated and not generated[-1].strip():
        generated.pop()
    return generated, user


def _generated_cell(notebook, name, fingerprints, generated):
    import nbformat

    header = [
        f"# dnn-instrument: generated cell, the training loop of the rewritten fit calls of {name}; regenerate, do not edit",
        "import dnn_instrument.runtime.cells",
        f"dnn_instrument.runtime.cells.watch({name!r}, {fingerprints!r})",
        "",
        "",
    ]
    cell = nbformat.v4.new_code_cell("\n".join(header + generated))
    cell.metadata[KEY] = {"generated": True}
    cell.metadata["tags"] = [TAG]
    if (notebook.nbformat, notebook.nbformat_minor) < (4, 5):  # cell ids came with nbformat 4.5
        cell.pop("id", None)
    return cell


def _fingerprint(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _at_cell(error, path, where):
    """``error`` (at a line of the joined cells) said at the cell's line: ``nb.ipynb cell 4, line 7, column 5: ...``."""
    error.args = (f"{path} {where}, column {error.column}: {error.message}",)
    return error


def view(notebook, generated=False):
    """The code cells as one text (``# %% cell N`` before each), what ``--diff`` compares; with ``generated``,
    also the line ranges of the generated cell."""
    out, inserted, number = [], [], 0
    for cell in notebook.cells:
        is_generated = cell.get("metadata", {}).get(KEY, {}).get("generated", False)
        if not is_generated:
            number += 1
        if cell.cell_type != "code":
            continue
        first = len(out) + 1
        out.append("# %% generated by dnn-instrument" if is_generated else f"# %% cell {number}")
        out += cell.source.split("\n")
        out.append("")
        if is_generated:
            inserted.append((first, len(out)))
    text = "\n".join(out) + "\n" if out else ""
    return (text, inserted) if generated else text


def diff_views(before, after, path):
    """``(text, text, inserted)``: what ``--diff`` and ``--diff-html`` compare for a notebook and its result."""
    after_view, inserted = view(read(after, path), generated=True)
    return view(read(before, path)), after_view, inserted


def strip_notebook(text, path):
    """The original notebook of an instrumented one (``--strip``)."""
    from .transformer.strip import CannotRestore, NotInstrumented

    notebook = read(text, path)
    marked = [cell for cell in notebook.cells if KEY in cell.get("metadata", {})]
    if not any(cell.metadata[KEY].get("generated") for cell in marked):
        raise NotInstrumented(path, 1, 1, "not instrumented by dnn-instrument (no generated cell); nothing to strip")
    kept = []
    for cell in notebook.cells:
        record = cell.get("metadata", {}).get(KEY)
        number = len(kept) + 1  # in the original notebook
        if record is None:
            kept.append(cell)
        elif not record.get("generated"):
            if _fingerprint(cell.source) != record.get("instrumented") or not isinstance(record.get("original"), str):
                raise CannotRestore(path, 1, 1, f"cell {number} was edited after instrumenting; cannot restore exactly")
            cell.source = record["original"]
            del cell.metadata[KEY]
            kept.append(cell)
    notebook.cells = kept
    return write(notebook)
