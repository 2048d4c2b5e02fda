"""Files for the command line: reading sources, finding them in folders, and writing outputs safely.

Writes are atomic (a temporary file in the same folder, then a rename), keep the mode of the file they
replace, and never go through a symbolic link unless asked to (``--follow-symlinks``).
"""

import os
import sys

from .runtime.files import write_atomically as write_atomically  # the one implementation

# Folders never searched for sources: caches, virtual environments, installed packages (hidden ones too).
SOURCE_SUFFIXES = (".py", ".ipynb")  # what a folder's sources are
SKIPPED_FOLDERS = {"__pycache__", "site-packages", "dist-packages", "node_modules"}


class FileProblem(OSError):
    """A file that cannot be read or written: ``str(problem)`` is the whole message (``path:1:1: ...``)."""


def read_source(path):
    """The text of a Python source file ('-': standard input); ``FileProblem`` when it cannot be used."""
    if path == "-":
        data = sys.stdin.buffer.read()  # bytes, checked as a file's are (text mode would hide bad bytes and CRLF)
    elif os.path.isdir(path):
        raise FileProblem(f"{path}: is a directory")
    else:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise FileProblem(f"{path}:1:1: no such file") from None
        except OSError as error:
            raise FileProblem(f"{path}:1:1: cannot read: {error.strerror or error}") from None
    if b"\0" in data:
        raise FileProblem(f"{path}:1:1: not a Python source file (binary data)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileProblem(f"{path}:1:1: not UTF-8 text ({error.reason} at byte {error.start})") from None


def find_sources(folder, exclude=None):
    """The ``.py`` files and Jupyter notebooks under ``folder``, sorted, skipping hidden folders, caches, virtual environments and ``exclude``."""
    found = []
    excluded = os.path.realpath(exclude) if exclude else None
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".")
            and name not in SKIPPED_FOLDERS
            and not any(os.path.exists(os.path.join(root, name, marker)) for marker in ("pyvenv.cfg", "conda-meta"))
            and os.path.realpath(os.path.join(root, name)) != excluded
        )
        found += [
            os.path.join(root, name)
            for name in sorted(files)
            if name.endswith(SOURCE_SUFFIXES) and not name.startswith(".")
        ]
    return found


def write_target(path, follow_symlinks=False):
    """Where writing ``path`` really writes: ``path`` itself, or, through a symlink, its target if allowed."""
    if not os.path.islink(path):
        return path
    if follow_symlinks:
        return os.path.realpath(path)
    raise FileProblem(
        f"{path}: is a symbolic link to {os.readlink(path)}; not writing through it (--follow-symlinks does)"
    )


def same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


class Progress:
    """A progress bar on stderr for long batches (``rich``, which Keras installs); silent when not a terminal."""

    def __init__(self, total, enabled):
        self._bar = None
        if not enabled:
            return
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
            from rich.progress import Progress as Bar
        except ImportError:
            return
        self._bar = Bar(
            TextColumn("instrumenting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._bar.add_task("", total=total)
        self._bar.start()

    def say(self, line):
        """Print a line of output above the bar."""
        if self._bar is None:
            print(line, file=sys.stderr)
        else:
            self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def advance(self, path):
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=os.path.basename(path))

    def close(self):
        if self._bar is not None:
            self._bar.stop()
