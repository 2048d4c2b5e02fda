"""Apply the decisions of ``fit_sites``: rewrite calls, attach callbacks, insert the loop and the header.

The only user code that changes is each handled ``fit`` call itself, and only its callee part:

    history = model.fit(x, y, epochs=5)        # before
    history = instrumented_fit("train.py:12", model, x, y, epochs=5)   # "rewrite"
    history = dnn_instrument.runtime.diagnosed(model.fit, "train.py:12")(x, y, epochs=5)  # "callback"

Arguments keep their text, so they are evaluated as before, in the same order. Everything else is
inserted as whole lines: a two-line header (after the docstring and ``__future__`` imports) and the
generated ``instrumented_fit`` before the first module-level statement that needs it.
"""

import hashlib

import libcst as cst

from .templates import render

LOOP_NAME = "instrumented_fit"


class _CallRewriter(cst.CSTTransformer):
    def __init__(self, sites, loop_name, source):
        self.sites = {id(site.call): site for site in sites if site.action in ("rewrite", "callback")}
        self.loop_name = loop_name
        self.source = source

    def leave_Call(self, original_node, updated_node):
        site = self.sites.get(id(original_node))
        if site is None:
            return updated_node
        label = f"{self.source}:{site.line}"
        if site.action == "rewrite":
            receiver = _receiver_arg(updated_node.func, bool(updated_node.args))
            label_arg = cst.Arg(cst.SimpleString(repr(label)), comma=_SPACE)
            args = list(updated_node.args)
            if len(args) == 1 and isinstance(args[0].value, cst.GeneratorExp) and not args[0].value.lpar:
                # model.fit(b for b in batches): a generator is the sole argument no more, it needs its parentheses
                args[0] = args[0].with_changes(
                    value=args[0].value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
                )
            return updated_node.with_changes(func=cst.Name(self.loop_name), args=[label_arg, receiver, *args])
        return _with_callback(updated_node, label)


_SPACE = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def _receiver_arg(attribute, more_arguments):
    """``model`` of ``model.fit`` as the loop's argument, keeping the text around the dot (``model  # c\\n .fit``)
    so that no comment or line is lost and ``strip`` can put the dot back."""
    dot = attribute.dot
    if not more_arguments:
        return cst.Arg(attribute.value, whitespace_after_arg=dot.whitespace_before)
    after = dot.whitespace_after
    if isinstance(after, cst.SimpleWhitespace):
        after = cst.SimpleWhitespace(" " + after.value)
    else:  # a comment or a line break right after the dot
        whitespace = cst.SimpleWhitespace(" " + after.first_line.whitespace.value)
        after = after.with_changes(first_line=after.first_line.with_changes(whitespace=whitespace))
    return cst.Arg(attribute.value, comma=cst.Comma(whitespace_before=dot.whitespace_before, whitespace_after=after))


def _with_callback(call, label):
    """``call`` (``model.fit(...)``) with its callee wrapped: ``dnn_instrument.runtime.diagnosed(model.fit, label)(...)``.

    The wrapper adds the ``Diagnose`` callback, with a sample of the call's own ``x``/``y``, to the
    ``callbacks`` the call passes; the arguments keep their text and are evaluated once, in order.
    """
    wrapper = cst.parse_expression(render("diagnose_callback.py.j2", site=label).strip())
    return call.with_changes(
        func=wrapper.with_changes(args=[wrapper.args[0].with_changes(value=call.func), *wrapper.args[1:]])
    )


def fingerprint(text):
    """What the header records of the original source: ``dnn-instrument --strip`` checks its result against it."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _free_name(module_code, wanted):
    name, n = wanted, 1
    while name in module_code:
        n += 1
        name = f"{wanted}_{n}"
    return name


def _header_position(body):
    """Index after the module docstring and ``from __future__`` imports."""
    index = 0
    if (
        body
        and isinstance(body[0], cst.SimpleStatementLine)
        and isinstance(body[0].body[0], cst.Expr)
        and isinstance(body[0].body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    ):
        index = 1
    while (
        index < len(body)
        and isinstance(body[index], cst.SimpleStatementLine)
        and any(
            isinstance(s, cst.ImportFrom)
            and s.module is not None
            and cst.Module([]).code_for_node(s.module) == "__future__"
            for s in body[index].body
        )
    ):
        index += 1
    return index


def rewrite(module, sites, source, code=None):
    """The module with ``sites`` applied and the header and loop inserted, and the inserted line ranges.

    The header maps the instrumented file's lines back to the original, so it carries the ranges of
    every inserted line (itself included): they are measured on the rewritten module, then written in.
    It also carries the ``fingerprint`` of the original source, which ``strip`` checks. ``code``: the
    module's text (``module.code``) when the caller has it already.
    """
    code = module.code if code is None else code
    loop_name = _free_name(code, LOOP_NAME)
    rewriter = _CallRewriter(sites, loop_name, source)
    touched = {id(site.top_statement) for site in sites if site.action in ("rewrite", "callback")}
    body = [statement.visit(rewriter) if id(statement) in touched else statement for statement in module.body]
    updated = module.with_changes(body=body)
    inserted = []  # (node, how many of its leading lines were inserted; None for the whole node)
    rewritten = [site for site in sites if site.action == "rewrite"]
    header_at = _header_position(body)
    if rewritten:
        first = min(
            i for i, statement in enumerate(module.body) if any(statement is s.top_statement for s in rewritten)
        )
        first = max(first, header_at)
        loop_text = render("fit_loop.py.j2", name=loop_name, indent=" " * (len(loop_name) + 5), source=source)
        loop = cst.parse_module(loop_text.replace("\n", module.default_newline)).body[
            0
        ]  # its docstring too: CRLF files stay CRLF
        loop = loop.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine(), *loop.leading_lines])
        following = body[first]
        blank_lines = 0
        for line in following.leading_lines:
            if line.comment is not None:
                break
            blank_lines += 1
        top_up = max(0, 2 - blank_lines)  # PEP 8's two blank lines after the loop's definition
        following = following.with_changes(leading_lines=[cst.EmptyLine()] * top_up + list(following.leading_lines))
        body[first : first + 1] = [loop, following]
        inserted += [(loop, None), (following, top_up)]
    header_values = {"source": source, "fingerprint": fingerprint(code)}
    header = list(cst.parse_module(render("header.py.j2", inserted=[], **header_values)).body)
    body[header_at:header_at] = header
    inserted += [(statement, None) for statement in header]
    ranges = _line_ranges(updated.with_changes(body=body), inserted)
    body[header_at : header_at + len(header)] = cst.parse_module(
        render("header.py.j2", inserted=ranges, **header_values)
    ).body
    return updated.with_changes(body=body), ranges


def _line_ranges(module, inserted):
    """1-based inclusive line ranges of the ``inserted`` statements (or of their first leading lines)."""
    wanted = {id(node): leading for node, leading in inserted}
    line = 1 + len(module.header)
    ranges = []
    left = len(wanted)
    for statement in module.body:
        if not left:  # the statements after the last inserted one need no code generated
            break
        length = module.code_for_node(statement).count("\n")  # a statement's code includes its leading lines
        if id(statement) in wanted:
            left -= 1
            leading = wanted[id(statement)]
            last = line + length - 1 if leading is None else line + leading - 1
            if last >= line:
                ranges.append((line, last))
        line += length
    merged = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged
