"""The package's structure, read from its source (no import, no training): the import graph has no cycle, the
runtime's wings depend one way only (docs/architecture.md), and only the Keras boundary touches Keras internals."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: source folder -> the package it is installed as (pyproject.toml's package-dir)
PACKAGES = {
    "dnn_instrument": "dnn_instrument",
    "transformer": "dnn_instrument.transformer",
    "runtime": "dnn_instrument.runtime",
}


def _modules():
    """``module name -> (path, is a package)`` for every Python file of the package."""
    modules = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            modules[".".join([package, *parts])] = (path, is_package)
    return modules


def _imports(name, path, is_package, modules):
    """The package's own modules that module ``name`` imports, at module level or inside functions."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                dotted = alias.name
                while dotted and dotted not in modules:
                    dotted = dotted.rpartition(".")[0]
                if dotted:
                    targets.add(dotted)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    targets.add(f"{base}.{alias.name}")
                elif base in modules:
                    targets.add(base)
    targets.discard(name)
    return targets


def import_graph():
    modules = _modules()
    return {name: _imports(name, path, is_package, modules) for name, (path, is_package) in modules.items()}


def _cycles(graph):
    """The strongly connected components of more than one module (Tarjan), each as a sorted list."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_is_read_from_the_source():
    graph = import_graph()
    # a module-level relative import, a function-level one, and ``from package import module``
    assert "dnn_instrument.runtime.vocabulary" in graph["dnn_instrument.runtime.record.trace"]
    assert "dnn_instrument.runtime.report.html" in graph["dnn_instrument.runtime.report"]
    assert "dnn_instrument.runtime.analysis.thresholds" in graph["dnn_instrument.runtime.analysis.online"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


#: The one cycle: IPython loads an extension from the package itself (``%load_ext dnn_instrument`` calls
#: ``dnn_instrument.load_ipython_extension``, which imports ``ipython.py`` when called), and the extension puts the
#: package into the notebook's namespace for the rewritten cells (``ipython.py``, ``_define``).
EXCEPTION = ["dnn_instrument", "dnn_instrument.ipython"]


def test_no_import_cycle():
    assert _cycles(import_graph()) == [EXCEPTION]


#: The runtime's wings, from the bottom up: a module may import its own wing's modules and those of the wings
#: below it, never one above. ``base`` is what every wing may use (failure handling, source lines, versions).
WINGS = ("base", "record", "analysis", "report", "run")
WING_OF = {
    "safety": "base",
    "origins": "base",
    "compat": "base",
    "files": "base",
    "vocabulary": "base",
    "cluster": "base",
    "costs": "base",
    "session": "run",
    "loop": "run",
    "callback": "run",
    "fallback": "run",
    "gate": "run",
    "cells": "run",
    "": "run",  # runtime/__init__.py: the names the generated code calls
}
#: The one dependency against the flow, and why (README's layout, docs/architecture.md): none at import time;
#: at run time the probe hands each block of rows to the online analysis (``Monitor``, given to it by the run),
#: which may stop training.
UPWARDS = set()


def _wing(module):
    rest = module[len("dnn_instrument.runtime") :].lstrip(".")
    first = rest.partition(".")[0]
    return first if first in ("record", "analysis", "report") else WING_OF[rest]


def test_the_runtime_depends_one_way():
    graph = import_graph()
    against = set()
    for module, targets in graph.items():
        if not module.startswith("dnn_instrument.runtime"):
            continue
        for target in targets:
            if target.startswith("dnn_instrument.runtime") and WINGS.index(_wing(target)) > WINGS.index(_wing(module)):
                against.add((module, target))
    assert against == UPWARDS


def test_one_vocabulary_without_tensorflow():
    """Statistics and phases are declared once, in a module that imports neither TensorFlow nor numpy; every merge
    rule is implemented, every phase the probes and the callback record is declared, and rules declare theirs."""
    code = (
        "import sys; from dnn_instrument.runtime import vocabulary; "
        "print(sorted(m for m in ('tensorflow', 'numpy', 'keras') if m in sys.modules))"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )

    from dnn_instrument.runtime import analysis, vocabulary
    from dnn_instrument.runtime.record import stats, trace

    assert stats.STATS is vocabulary.STATS and stats.COLUMN is vocabulary.COLUMN
    assert {s.merge for s in vocabulary.STATISTICS} <= set(vocabulary.MERGES) == {"mean", "rms", *trace.PICK}
    recorded = set()
    for path in (ROOT / "runtime" / "record" / "probe.py", ROOT / "runtime" / "callback.py"):
        recorded |= set(re.findall(r'(?:_add\(|"phase": |for phase in \()"(\w+)"', path.read_text()))
    assert recorded == set(vocabulary.PHASE)
    assert {"input", "target", "forward", "gradient"} <= {
        p for rule in analysis.RULES for p in getattr(rule, "needs", ())
    }
