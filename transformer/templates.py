"""The code dnn-instrument inserts, kept as jinja2 templates in ``templates/`` (one file per piece)."""

import functools

import jinja2


@functools.lru_cache(maxsize=1)
def _environment():
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("dnn_instrument.transformer", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # Python source, not HTML: values go through `pyrepr`, which quotes them as literals
    )
    environment.filters["pyrepr"] = repr
    environment.filters["docstring"] = _docstring_text
    return environment


def render(template, **values):
    """Render ``templates/<template>`` with ``values``."""
    return _environment().get_template(template).render(**values)


def source(template):
    """The text of ``templates/<template>`` as written (with its Jinja comments: the notes of ``--diff-html``)."""
    environment = _environment()
    return environment.loader.get_source(environment, template)[0]


def _docstring_text(text):
    """``text`` made safe inside a triple-quoted docstring (a file name may hold quotes or backslashes)."""
    return "".join(c if c.isprintable() and c not in '\\"' else ascii(c)[1:-1] if c != '"' else "'" for c in str(text))
