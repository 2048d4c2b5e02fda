"""The default command, ``dnn-instrument SOURCE...``: one job per file (``transform``), and how results are written.

One file (or standard input) keeps the plain behaviour: the result goes to ``-o``, to standard output,
back in place, or into a diff. Several files or a folder: every ``.py`` file is done in turn, ``-o``
names a folder that mirrors the sources (files with nothing to instrument are copied as they are, so
that imports between them still work), and each file gets a line of the listing, then a total.
"""

import os
import sys
from dataclasses import dataclass, field

from .files import (
    SOURCE_SUFFIXES,
    FileProblem,
    Progress,
    find_sources,
    read_source,
    same_file,
    write_atomically,
    write_target,
)
from .notebooks import diff_views, instrument_notebook, is_notebook, strip_notebook

EXIT_OK, EXIT_NOTHING, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
PROGRESS_FROM = 20  # files; more show a progress bar on a terminal


def usage(message):
    print(f"dnn-instrument: {message}", file=sys.stderr)
    return EXIT_USAGE


@dataclass
class Outcome:
    """What became of one source: ``status`` is done, nothing, failed or internal."""

    status: str
    text: str = None  # the result, when done
    summary: str = ""  # the listing's words for it
    error: str = None  # the message for the user, when not done
    notes: list = field(default_factory=list)  # per-call messages, path:line:col: ...
    result: object = None


EXIT_OF = {"done": EXIT_OK, "nothing": EXIT_NOTHING, "failed": EXIT_USAGE, "internal": EXIT_INTERNAL}


def transform(path, source, options):
    """Instrument (or, with ``--strip``, restore) one source: the per-file job of every mode."""
    from .transformer import AlreadyInstrumented, InstrumentError, instrument
    from .transformer.strip import NotInstrumented, strip

    notebook = is_notebook(path)
    try:
        if options.strip:
            return Outcome("done", (strip_notebook if notebook else strip)(source, path), summary="original restored")
        if notebook:
            result = instrument_notebook(source, path, callback_only=options.callback)
        else:
            result = instrument(source, path, callback_only=options.callback)
    except NotInstrumented as error:
        return Outcome("nothing", summary="not instrumented", error=str(error))
    except AlreadyInstrumented as error:
        return Outcome("nothing", summary="already instrumented", error=str(error))
    except InstrumentError as error:
        return Outcome("failed", error=str(error))
    except Exception as error:  # our bug, not the user's: say so plainly
        return Outcome(
            "internal",
            error=f"dnn-instrument: internal error on {path}: {type(error).__name__}: {error}\n"
            "please report this with the file that caused it",
        )
    if notebook:
        notes = (
            []
            if options.callback
            else [f"{path} {where}, column {column}: {text}" for where, column, text in result.messages]
        )
    else:
        notes = [] if options.callback else [f"{path}:{m.line}:{m.column}: {m.text}" for m in result.messages]
    if not result.changed:
        why = "no Keras model.fit call found" if not result.messages else "no model.fit call could be instrumented"
        return Outcome(
            "nothing", summary="nothing to instrument", error=f"{path}: nothing to instrument: {why}", notes=notes
        )
    summary = f"{result.rewritten} rewritten, {result.with_callback} with callback"
    return Outcome("done", result.code, summary=summary, notes=notes, result=result)


def instrument_command(options):
    several = len(options.sources) > 1 or any(os.path.isdir(s) for s in options.sources)
    if options.diff_html and (several or options.strip):
        return usage("--diff-html shows one source being instrumented (not several, not with --strip)")
    if "-" in options.sources and (several or options.in_place):
        return usage("'-' (standard input) must be the only source, without --in-place")
    if several:
        return _many(options)
    return _one(options.sources[0], options)


def _one(path, options):
    output = options.output
    if output and (os.path.isdir(output) or output.endswith(os.sep)) and path != "-":
        output = os.path.join(output, os.path.basename(path))
    if output:
        output = write_target(output, options.follow_symlinks)
        if path != "-" and same_file(output, path):
            return usage(f"{options.output} is the input file; use --in-place to overwrite it")
    html = write_target(options.diff_html, options.follow_symlinks) if options.diff_html else None
    destination = write_target(path, options.follow_symlinks) if options.in_place else output
    try:
        source = read_source(path)
    except FileProblem as problem:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    outcome = transform(path, source, options)
    for note in outcome.notes if not options.quiet else []:
        print(note, file=sys.stderr)
    if outcome.status != "done":
        print(outcome.error, file=sys.stderr)
        return EXIT_OF[outcome.status]
    try:
        if options.diff:
            _print_diff(source, outcome, path, options)
        elif destination:
            write_atomically(destination, outcome.text)
        elif not html:
            sys.stdout.write(outcome.text)
        if html:
            from .transformer.diff import html_page

            before, after, inserted = _compared(source, outcome, path)
            write_atomically(html, html_page(before, after, path, inserted))
    except OSError as error:
        print(f"{error.filename or destination or html}:1:1: cannot write: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    if not options.quiet and (destination or html):
        if options.strip:
            print(f"{path}: original restored -> {destination}", file=sys.stderr)
        else:
            written = " and ".join(p for p in (destination, html) if p)
            print(
                f"{path}: {outcome.result.rewritten} fit call(s) rewritten as an explicit loop, "
                f"{outcome.result.with_callback} given the Diagnose callback -> {written}",
                file=sys.stderr,
            )
    return EXIT_OK


def _compared(source, outcome, path):
    """``(before, after, inserted lines)`` as diffs show them: the texts, or for a notebook its code cells."""
    inserted = outcome.result.inserted if outcome.result is not None else []
    if is_notebook(path):
        return diff_views(source, outcome.text, path)
    return source, outcome.text, inserted


def _print_diff(source, outcome, path, options):
    from .transformer.diff import colourise, unified_diff, use_colour

    before, after, _ = _compared(source, outcome, path)
    text = unified_diff(before, after, path, "original" if options.strip else "instrumented")
    sys.stdout.write(colourise(text) if use_colour(options.color, sys.stdout) else text)


def _jobs(options):
    """``[(source, output or None)]``: every file to do, and where its result goes under ``-o``."""
    jobs = []
    for source in options.sources:
        if os.path.isdir(source):
            found = find_sources(source, exclude=options.output)
            jobs += [(f, options.output and os.path.join(options.output, os.path.relpath(f, source))) for f in found]
        else:
            jobs.append((source, options.output and os.path.join(options.output, os.path.basename(source))))
    return jobs


def _many(options):
    if not (options.output or options.in_place or options.diff):
        what = next((s for s in options.sources if os.path.isdir(s)), None)
        lead = f"{what} is a directory" if what else "several sources"
        return usage(f"{lead}: give -o FOLDER, --in-place or --diff")
    root = options.output
    if root:
        write_target(root, options.follow_symlinks)  # refuses a link unless followed
        if os.path.exists(root) and not os.path.isdir(root):
            return usage(f"{root}: not a folder (several sources need -o FOLDER)")
        if not os.path.exists(root) and root.lower().endswith(SOURCE_SUFFIXES):
            return usage(f"{root}: names a file, but several sources need -o FOLDER (a folder that mirrors them)")
    jobs = _jobs(options)
    targets = {}
    for source, output in jobs:
        if output and output in targets:
            return usage(f"{targets[output]} and {source} would both be written to {output}")
        targets[output] = source
    if not jobs:
        print(f"dnn-instrument: no .py or .ipynb files in {', '.join(options.sources)}", file=sys.stderr)
        return EXIT_NOTHING
    progress = Progress(len(jobs), len(jobs) > PROGRESS_FROM and sys.stderr.isatty() and not options.quiet)
    statuses, rewritten, with_callback = [], 0, 0
    try:
        for source, output in jobs:
            outcome = _one_of_many(source, output, options)
            statuses.append(outcome.status)
            if outcome.result is not None:
                rewritten += outcome.result.rewritten
                with_callback += outcome.result.with_callback
            for note in outcome.notes if not options.quiet else []:
                progress.say(note)
            if outcome.status in ("failed", "internal"):
                progress.say(outcome.error)
            elif not options.quiet:
                progress.say(f"{source}: {outcome.summary}")
            progress.advance(source)
    finally:
        progress.close()
    done, nothing = statuses.count("done"), statuses.count("nothing")
    failed = len(statuses) - done - nothing
    if not options.quiet:
        what = (
            "restored"
            if options.strip
            else f"instrumented ({rewritten} fit calls rewritten, {with_callback} with callback)"
        )
        idle = "not instrumented" if options.strip else "with nothing to instrument"
        print(f"{len(statuses)} files: {done} {what}, {nothing} {idle}, {failed} failed", file=sys.stderr)
    if "internal" in statuses:
        return EXIT_INTERNAL
    return EXIT_USAGE if failed else EXIT_OK if done else EXIT_NOTHING


def _one_of_many(source, output, options):
    """The job of one file of several: transform it, then write, print or mirror it."""
    try:
        text = read_source(source)
        if output and same_file(output, source):
            raise FileProblem(f"{output}: is the input file itself; use --in-place to overwrite it")
        outcome = transform(source, text, options)
        if options.diff and outcome.status == "done":
            _print_diff(text, outcome, source, options)
        elif options.in_place and outcome.status == "done":
            write_atomically(write_target(source, options.follow_symlinks), outcome.text)
        elif output and outcome.status in ("done", "nothing"):  # the mirror holds every file, done or not
            target = write_target(output, options.follow_symlinks)
            if not options.follow_symlinks and not _inside(target, options.output):
                raise FileProblem(
                    f"{output}: a symbolic link in the way leads out of {options.output}; not writing there"
                )
            write_atomically(target, outcome.text if outcome.status == "done" else text)
        return outcome
    except (FileProblem, OSError) as problem:
        if not isinstance(problem, FileProblem):
            problem = f"{output or source}:1:1: cannot write: {problem.strerror or problem}"
        return Outcome("failed", error=str(problem))


def _inside(path, folder):
    real = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    top = os.path.realpath(folder)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)
