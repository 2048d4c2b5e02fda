"""Where each layer was created, as a line of the user's *original* file (the source map).

An instrumented script starts with ``origins.watch(__file__, source=..., inserted=...)``: the name of
the original file and the line ranges of the instrumented file that dnn-instrument inserted. From then
on, every Keras layer created by code of that file remembers the line that created it (also inside
builder functions and loops), translated back to the original file. Nothing here imports Keras or
TensorFlow: the hook waits for the user's own ``import keras`` so that environment variables the
script sets before that import still take effect.
"""

import functools
import importlib.abc
import importlib.util
import os
import sys
import weakref

from .compat import LAYER_MODULE as _LAYER_MODULE
from .safety import keep_interrupt_exit_status

_watched = {}  # instrumented file (absolute path) -> SourceMap
_origins = weakref.WeakKeyDictionary()  # layer -> "train.py:14"
_resolvers = []  # frame -> location or None, for code that is no file (notebook cells: runtime/cells.py)


class SourceMap:
    """Lines of an instrumented file -> lines of the original file it was made from."""

    def __init__(self, source, inserted):
        self.source = source  # the original file's name as the user gave it
        self.inserted = sorted(tuple(r) for r in inserted)  # inclusive 1-based line ranges of generated code

    def original_line(self, line):
        """The original line of an instrumented line, or None for a line dnn-instrument generated."""
        shift = 0
        for first, last in self.inserted:
            if line < first:
                break
            if line <= last:
                return None
            shift += last - first + 1
        return line - shift

    def location(self, line):
        original = self.original_line(line)
        return None if original is None else f"{self.source}:{original}"


def watch(instrumented_file, source, inserted):
    """Record layer origins for layers created by ``instrumented_file`` (call it first thing in the script)."""
    _watched[os.path.abspath(instrumented_file)] = SourceMap(source, inserted)
    keep_interrupt_exit_status()  # here, first thing in the script: it must be the last exit handler to run
    _hook()


def resolve_with(resolver):
    """Also record origins for layers created by frames that ``resolver(frame)`` places (a location, or None)."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)
    _hook()


def _hook():
    if _LAYER_MODULE in sys.modules:
        _patch(sys.modules[_LAYER_MODULE])
    elif not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


def origin_of(layer):
    """``"train.py:14"`` for a layer created by a watched file, else None."""
    try:
        return _origins.get(layer)
    except TypeError:  # an object that cannot be weakly referenced
        return None


def _creation_site():
    frame = sys._getframe(2)
    while frame is not None:
        if is_watched(frame):
            return location_of(frame)
        frame = frame.f_back
    return None


def is_watched(frame):
    """Whether ``frame`` runs code of a watched file or of a cell a resolver places."""
    return _source_map(frame) is not None or any(resolve(frame) is not None for resolve in _resolvers)


def location_of(frame):
    """``"train.py:14"`` (the original line) for a frame of a watched file's code, or as a resolver places it."""
    source_map = _source_map(frame)
    if source_map is not None:
        return source_map.location(frame.f_lineno)
    for resolve in _resolvers:
        location = resolve(frame)
        if location is not None:
            return location
    return None


def _source_map(frame):
    return _watched.get(frame.f_code.co_filename) or _watched.get(os.path.abspath(frame.f_code.co_filename))


def _patch(layer_module):
    """Record each new layer's creation site from ``Layer.__new__``.

    ``__new__``, not ``__init__``: Keras reads the parameters of ``cls.__init__`` (``inspect.signature``
    and ``inspect.getfullargspec`` in ``Operation.__new__``, to build a layer's config for saving), and
    a warning raised in ``__init__`` with ``stacklevel=2`` names the caller of ``__init__``. A wrapped
    ``__new__`` leaves both to the user's class. The origin lives in a weak map, not on the layer, so
    nothing Keras saves, copies or compares sees it.
    """
    layer_class = layer_module.Layer
    original_new = layer_class.__dict__["__new__"]
    if getattr(original_new, "_dnn_instrument", False):
        return
    original = original_new.__func__

    @functools.wraps(original)
    def __new__(cls, *args, **kwargs):
        layer = original(cls, *args, **kwargs)
        if layer not in _origins:
            site = _creation_site()
            if site is not None:
                _origins[layer] = site
        return layer

    __new__._dnn_instrument = True
    wrapped = staticmethod(__new__)
    wrapped._dnn_instrument = True
    layer_class.__new__ = wrapped


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches ``Layer.__new__`` right after Keras defines it, whenever the script imports Keras."""

    def find_spec(self, fullname, path, target=None):
        if fullname != _LAYER_MODULE:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module):
            original_exec(module)
            _patch(module)

        loader.exec_module = exec_module
        return spec
