"""``%load_ext dnn_instrument``: diagnose the ``fit`` calls of IPython and Jupyter cells as they run.

Each cell that calls ``fit`` is rewritten before it runs, by the same pass as files
(``transformer.instrument``), as an IPython input transformer: it sees the cell after IPython turned its
magics into Python, so nothing needs hiding. The generated training loop is defined in the user's
namespace (under its own name in tracebacks), and the cell itself changes only in its ``fit`` lines, so
its line numbers stay those the user sees. A cell that does not parse, or that our pass fails on, runs
untouched. After a cell whose ``fit`` ended, the verdict and the fix are shown in its output as HTML,
with a link to the run folder and the full report. ``%dnn_instrument off`` (``on``, ``status``) switches it.
"""

import html
import linecache
import os
import sys

_extension = None


class Extension:
    def __init__(self, shell):
        self.shell = shell
        self.enabled = True
        self.shown = set()  # ids of the traces already shown
        self.history = []  # the Python of the cells run so far: where the pass finds imports and models

    # -- the input transformer ------------------------------------------------------------------------
    def transform(self, lines):
        text = "".join(lines)
        if not text.endswith("\n"):
            text += "\n"
        history = "".join(self.history)
        if "dnn_instrument" not in text and _compiles(text):
            self.history.append(text)
        if not self.enabled:
            return lines
        try:
            from .runtime import cells

            cells.name_execution(self.shell.execution_count, f"In [{self.shell.execution_count}]")
            return self._transform(text, history) or lines
        except Exception as error:  # never stop the user's cell for our sake
            print(
                f"dnn-instrument: internal error while instrumenting this cell ({type(error).__name__}: {error}); "
                "running it unchanged",
                file=sys.stderr,
            )
            return lines

    def _transform(self, text, history):
        """The cell's lines rewritten, or None to run it as it is. The cells run before it come first in what
        the pass reads (their imports and models), and are dropped from its result."""
        if "fit" not in text:
            return None
        from .notebooks import split
        from .transformer import InstrumentError, instrument

        count = self.shell.execution_count
        name = f"In [{count}]"
        try:
            result = instrument(history + text, name)
        except InstrumentError:
            return None  # unparseable (or already instrumented): IPython says what is wrong, as without us
        before = history.count("\n")
        original = text.split("\n")
        generated, user = split(result, before + len(original))
        user = user[before:]
        if not result.changed or user == original:
            return None
        user = [
            line.replace(repr(f"{name}:{before + k}"), repr(f"{name}, line {k}"))
            for k, line in enumerate(user, start=1)
        ]
        self._define("\n".join(generated) + "\n", name)
        from .runtime import cells

        cells.name_run(self._script())
        return "\n".join(user).splitlines(keepends=True)

    def _define(self, loop, name):
        """Define the generated loop (and the ``dnn_instrument`` name the rewritten calls use) for the user's code."""
        import dnn_instrument

        namespace = self.shell.user_ns
        namespace.setdefault("dnn_instrument", dnn_instrument)
        if loop.strip():
            filename = f"<{name} instrumented by dnn-instrument>"
            linecache.cache[filename] = (len(loop), None, loop.splitlines(keepends=True), filename)
            exec(compile(loop, filename, "exec", dont_inherit=True), namespace)

    @staticmethod
    def _script():
        """The run folder's name: the notebook's, where the front end says it (VS Code, Jupyter 7), else notebook."""
        path = os.environ.get("JPY_SESSION_NAME") or ""
        return os.path.basename(path) if path.endswith(".ipynb") else "notebook"

    # -- the verdict, after the cell ----------------------------------------------------------------------
    def show(self, result=None):
        if "dnn_instrument.runtime.session" not in sys.modules:
            return
        try:
            self._show()
        except Exception as error:
            print(f"dnn-instrument: cannot show the verdict ({type(error).__name__}: {error})", file=sys.stderr)

    def _show(self):
        from .runtime import session

        run = session._current
        if run is None:
            return
        new = [store for store in run.stores if store.closed and id(store) not in self.shown]
        if not new:
            return
        self.shown.update(id(store) for store in new)
        if run._views is not None:
            run._views.join()  # report.html of this fit
        import json

        with open(os.path.join(run.folder, "report.json"), encoding="utf-8") as f:
            document = json.load(f)
        from IPython.display import HTML, display

        display(HTML(inline_html(document, run.folder)))


def inline_html(document, folder):
    """The verdict, the fix and the other findings for a notebook's output, linking to the run folder and
    embedding the full ``report.html`` (folded)."""
    from .runtime.report.html import code_spans as _code_spans

    e = html.escape
    findings = document.get("findings") or []
    verdict = str(document.get("verdict", "ok"))
    colour = {"buggy": "#c0392b", "ok": "#27ae60"}.get(verdict, "#d68910")
    parts = [
        f'<div class="dnn-instrument" style="border:2px solid {colour};border-radius:6px;padding:0.6em 1em;max-width:60em">'
    ]
    if findings:
        first = findings[0]
        where = f"layer '{first['layer']}'" if first.get("layer") else "the model"
        if first.get("source"):
            where += f" ({first['source']})"
        parts.append(
            f'<p style="font-size:1.2em;margin:0.2em 0"><b style="color:{colour}">dnn-instrument: '
            f"{e(verdict.upper())}</b>: {e(first['symptom'].replace('_', ' '))} in {e(where)}, "
            f"{e(str(first.get('phase')))} phase, iteration {e(str(first.get('iteration')))}</p>"
        )
        parts.append(f'<p style="margin:0.2em 0"><b>Fix:</b> {_code_spans(first.get("fix", ""))}</p>')
        parts.append(f'<p style="margin:0.2em 0;color:#555">{e(first.get("evidence", ""))}</p>')
        if len(findings) > 1:
            parts.append(
                "<details><summary>also: "
                + e(", ".join(f["symptom"].replace("_", " ") for f in findings[1:]))
                + "</summary><ul>"
            )
            for f in findings[1:]:
                parts.append(
                    f"<li>{e(f['symptom'].replace('_', ' '))} ({e(f.get('source') or 'model')}): "
                    f"{e(f.get('evidence', ''))}. <b>Fix:</b> {_code_spans(f.get('fix', ''))}</li>"
                )
            parts.append("</ul></details>")
    else:
        parts.append(
            f'<p style="font-size:1.2em;margin:0.2em 0"><b style="color:{colour}">dnn-instrument: '
            f"{e(verdict.upper())}</b>: no fault found in {e(str(document.get('iterations')))} iterations</p>"
        )
    relative = os.path.relpath(folder)
    report = os.path.join(relative, "report.html")
    parts.append(
        f'<p style="margin:0.2em 0">Run folder: <a href="{e(relative)}" target="_blank"><code>{e(relative)}</code></a>'
        f' · <a href="{e(report)}" target="_blank">full report</a></p>'
    )
    try:
        with open(os.path.join(folder, "report.html"), encoding="utf-8") as f:
            page = f.read()
        parts.append(
            '<details><summary>full report</summary><iframe style="width:100%;height:36em;border:0" '
            f'srcdoc="{e(page, quote=True)}"></iframe></details>'
        )
    except OSError:
        pass
    parts.append("</div>")
    return "\n".join(parts)


def _compiles(text):
    try:
        compile(text, "<cell>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def _magic(line):
    """%dnn_instrument on|off|status"""
    word = line.strip().lower() or "status"
    if word in ("on", "off"):
        _extension.enabled = word == "on"
    elif word != "status":
        print("usage: %dnn_instrument on|off|status", file=sys.stderr)
        return
    print(
        f"dnn-instrument: {'on' if _extension.enabled else 'off'}: cells that call fit are "
        f"{'rewritten and diagnosed' if _extension.enabled else 'run unchanged'}"
    )


def load_ipython_extension(shell):
    global _extension
    if _extension is not None and _extension.shell is shell:
        return
    _extension = Extension(shell)
    shell.input_transformers_post.append(_extension.transform)
    shell.events.register("post_run_cell", _extension.show)
    shell.register_magic_function(_magic, "line", "dnn_instrument")


def unload_ipython_extension(shell):
    global _extension
    if _extension is None:
        return
    if _extension.transform in shell.input_transformers_post:
        shell.input_transformers_post.remove(_extension.transform)
    shell.events.unregister("post_run_cell", _extension.show)
    _extension = None
