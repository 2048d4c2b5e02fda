"""The ``--diff`` view: a unified diff of what instrumenting a file inserts, coloured for terminals."""

import difflib
import os

_COLOURS = {"+": "\033[32m", "-": "\033[31m", "@": "\033[36m"}
_RESET = "\033[0m"


def unified_diff(before, after, path):
    name = path if path not in ("-", None) else "<stdin>"
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=name,
            tofile=f"{name} (instrumented)",
        )
    )


def use_colour(choice, stream):
    """``--color=auto|always|never``; ``auto`` means a terminal and no ``NO_COLOR`` in the environment."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def colourise(diff_text):
    lines = []
    for line in diff_text.splitlines(keepends=True):
        colour = None if line.startswith(("+++", "---")) else _COLOURS.get(line[:1])
        if line.startswith(("+++", "---")):
            colour = "\033[1m"
        lines.append(f"{colour}{line.rstrip(chr(10))}{_RESET}\n" if colour else line)
    return "".join(lines)
