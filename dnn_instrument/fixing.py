"""``dnn-instrument fix SCRIPT [ARG...]``: from the diagnosis to a verified patch of the script.

1. The buggy run: the script runs instrumented (``runner.run``, in a subprocess) under a budget, a cap on
   the epochs (and optionally the steps of each epoch) that the generated loop honours
   (``DNN_INSTRUMENT_MAX_EPOCHS`` / ``DNN_INSTRUMENT_MAX_STEPS``, read by ``runtime/record/fitting.py``, and by the
   ``Diagnose`` callback on the callback path, which stops ``fit`` at the cap), and a wall-clock limit on
   each run (``--timeout``: a run past it is killed and reported as timed out, never verified); or
   ``--from RUN_DIR`` reads a finished run's ``report.json``.
2. The root cause: the primary finding (the first with ``severity`` "fault" when findings carry one, else
   the first). No finding: "nothing to fix". A cause with no codemod: its text fix, exit 1.
3. Candidates: ``transformer/fixes`` makes patches of the file for that cause, in a fixed order.
4. Verification: each candidate runs instrumented under the same budget, in its own process, as if it
   were the script (same path, arguments and working directory). It is *verified* when its verdict is
   ``ok`` (or ``warnings``) and its loss, or a metric the script compiled, is better than the buggy run's
   at the same epoch. The first verified candidate is the fix, except in a search over learning rates: a
   verified rate is followed by the next rates of the search, and the verified one with the lowest loss
   (the same units for every rate) is the fix. At most ``--tries`` candidates run.
5. Output: a unified diff (coloured on a terminal), ``-o FILE`` or ``--in-place``; the run folder gets
   ``fix.diff`` and ``fix.json`` (every candidate, its verdict and metrics), and its ``report.html``
   shows the diff. An unverified patch is printed only with ``--unverified``, marked as such. A patch that
   does not compile is never made (``fixes.candidates`` drops it).
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

from .files import FileProblem, read_source, write_atomically

EXIT_OK, EXIT_NO_FIX, EXIT_USAGE = 0, 1, 2
DEFAULT_EPOCHS, DEFAULT_TRIES, DEFAULT_TIMEOUT = 10, 4, 600
HIGHER_IS_BETTER = ("accuracy", "acc", "auc", "precision", "recall", "f1")


def say(message):
    print(f"dnn-instrument fix: {message}", file=sys.stderr, flush=True)


def parser():
    parser = argparse.ArgumentParser(
        prog="dnn-instrument fix",
        description="""\
Diagnose SCRIPT (run instrumented, under a budget of epochs), take the root cause, patch SCRIPT for it with
libcst (only the edited expressions change) and verify each candidate patch by training it under the same
budget: verified = verdict ok (or warnings) and a better loss or compiled metric than the buggy run at the
same epoch. Prints the verified patch as a unified diff (default), or writes it (-o, --in-place).""",
        epilog="""\
examples:
  dnn-instrument fix train.py --epochs 20           diagnose, patch, verify; print the diff
  dnn-instrument fix --from dnn-instrument-runs/train-20261129-101500 train.py -o train_fixed.py

exit status: 0 a verified fix (or nothing to fix); 1 no verified fix (no codemod for the cause, or no
candidate verified); 2 usage error or unreadable input""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--from", dest="run_dir", metavar="RUN_DIR", help="take the diagnosis of this finished run")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("-o", "--output", metavar="PATH", help="write the patched script to PATH")
    target.add_argument("--in-place", action="store_true", help="patch SCRIPT itself")
    parser.add_argument(
        "--unverified", action="store_true", help="show the first candidate even if no candidate verified (marked)"
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=DEFAULT_EPOCHS,
        metavar="N",
        help=f"budget: train each run at most N epochs (default {DEFAULT_EPOCHS})",
    )
    parser.add_argument(
        "--max-steps", type=int, default=0, metavar="N", help="budget: at most N steps per epoch (default: all)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"budget: a run (the buggy one, each candidate) is stopped after SECONDS of wall-clock time "
        f"and counts as timed out, not verified (default {DEFAULT_TIMEOUT})",
    )
    parser.add_argument(
        "--tries",
        type=int,
        default=DEFAULT_TRIES,
        metavar="N",
        help=f"budget: verify at most N candidate patches (default {DEFAULT_TRIES})",
    )
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the diff")
    parser.add_argument("script", metavar="SCRIPT", help="the training script to fix")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, metavar="ARG", help="its arguments")
    return parser


def fix_command(argv):
    options = parser().parse_args(argv)
    if options.script == "-":
        return _usage("fix needs a script file, not standard input")
    if options.max_epochs < 1 or options.tries < 1 or options.max_steps < 0 or not options.timeout > 0:
        return _usage("--max-epochs and --tries must be at least 1, --max-steps at least 0, --timeout above 0")
    try:
        source = read_source(options.script)
    except FileProblem as problem:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    try:
        compile(source, options.script, "exec", dont_inherit=True)
    except SyntaxError as error:
        return _usage(f"{options.script}:{error.lineno}:{(error.offset or 0)}: syntax error: {error.msg}")
    started = time.perf_counter()
    budget = Budget(options.max_epochs, options.max_steps, options.timeout)
    if options.run_dir:
        if not os.path.isfile(os.path.join(options.run_dir, "report.json")):
            return _usage(f"{options.run_dir}: no report.json here; is it a finished run folder?")
        folder, buggy = options.run_dir, _read(os.path.join(options.run_dir, "report.json"))
        say(f"diagnosis of {folder}")
    else:
        say(f"running {options.script} instrumented ({budget})")
        buggy, folder = run_instrumented(options.script, None, options.arguments, budget, keep=True)
        if buggy.get("verdict") == "timed out":
            say(
                f"the instrumented run of {options.script} took longer than {budget.timeout:g} s (--timeout); nothing to compare a patch with"
            )
            return EXIT_NO_FIX
        if buggy.get("verdict") == "failed":
            return _usage(f"{options.script}: the instrumented run wrote no report (it failed before its first fit?)")
    plan = repair(source, options.script, options.arguments, buggy, budget, options.tries)
    plan["seconds"] = round(time.perf_counter() - started, 1)
    return _finish(plan, source, options, folder)


class Budget:
    def __init__(self, epochs, steps=0, timeout=DEFAULT_TIMEOUT):
        self.epochs, self.steps, self.timeout = epochs, steps, timeout

    def environment(self):
        env = {"DNN_INSTRUMENT_MAX_EPOCHS": str(self.epochs)}
        if self.steps:
            env["DNN_INSTRUMENT_MAX_STEPS"] = str(self.steps)
        return env

    def __str__(self):
        steps = f", at most {self.steps} steps per epoch" if self.steps else ""
        return (
            f"budget: at most {self.epochs} epochs{steps} per fit (DNN_INSTRUMENT_MAX_EPOCHS={self.epochs}), "
            f"at most {self.timeout:g} s per run"
        )

    def record(self):
        """The budget as ``fix.json`` keeps it."""
        return {**self.environment(), "timeout_seconds": self.timeout}


def root_cause(document):
    """The primary finding: the first fault when findings carry a severity, else the first; None if none."""
    findings = document.get("findings") or []
    faults = [f for f in findings if f.get("severity", "fault") == "fault"]
    return faults[0] if faults else None


def repair(source, script, arguments, buggy, budget, tries):
    """Candidates for the root cause of ``buggy``, each tried until one verifies: a JSON-ready plan."""
    from .transformer import fixes

    finding = root_cause(buggy)
    plan = {
        "script": script,
        "budget": budget.record(),
        "buggy": summary(buggy),
        "finding": finding,
        "candidates": [],
        "verified": None,
    }
    if finding is None:
        plan["outcome"] = "nothing to fix"
        return plan
    candidates = fixes.candidates(source, finding, buggy.get("findings") or [])
    if not candidates:
        plan["outcome"] = "no codemod" if not fixes.has_codemod(finding.get("cause")) else "no candidate"
        return plan
    say(
        f"root cause: {finding['cause']} ({finding.get('layer') or 'the model'}{', ' + finding['source'] if finding.get('source') else ''}); "
        f"{len(candidates)} candidate(s), trying at most {tries}"
    )
    for number, candidate in enumerate(candidates[:tries], start=1):
        report, _ = run_instrumented(script, candidate.code, arguments, budget)
        result = {
            "kind": candidate.kind,
            "description": candidate.description,
            "diff": _diff(source, candidate.code, script),
        }
        result.update(judge(buggy, report))
        plan["candidates"].append(result)
        say(
            f"  {number}. {candidate.description}: {result['shown']} -> {'VERIFIED' if result['verified'] else 'not verified'}"
        )
        if result["verified"]:
            chosen = plan["verified"]
            if chosen is None or _lower_loss(result["history"], plan["candidates"][chosen]["history"]):
                plan["verified"] = number - 1
            following = candidates[number] if number < min(tries, len(candidates)) else None
            if following is None or not (candidate.kind == following.kind == "learning_rate"):
                break  # a rate that trains: the next rate of the search may train better (same loss units), else done
    if plan["verified"] is not None and len([c for c in plan["candidates"] if c["verified"]]) > 1:
        say(f"  chosen: {plan['candidates'][plan['verified']]['description']} (the lowest loss of the verified rates)")
    plan["outcome"] = "verified" if plan["verified"] is not None else "not verified"
    plan["untried"] = [c.description for c in candidates[len(plan["candidates"]) :]]
    plan["patches"] = {i: c.code for i, c in enumerate(candidates[: len(plan["candidates"])])}
    return plan


def _lower_loss(history, other):
    """Whether ``history`` ends with a lower training loss than ``other`` at the last epoch both reached."""
    epochs = min(len(history), len(other))
    a, b = (_number(h[epochs - 1].get("loss")) if epochs else None for h in (history, other))
    return a is not None and math.isfinite(a) and (b is None or not math.isfinite(b) or a < b)


def run_instrumented(script, code, arguments, budget, keep=False):
    """Run ``script`` (or ``code`` as if it were the script) instrumented in a subprocess; ``(report, run
    folder)``. ``keep``: the run folder is the user's (``DNN_INSTRUMENT_DIR``), else a temporary one."""
    with tempfile.TemporaryDirectory(prefix="dnn-instrument-fix-") as work:
        report_path = os.path.join(work, "report.json")
        env = {**os.environ, **budget.environment(), "DNN_INSTRUMENT_REPORT": report_path}
        if not keep:  # a candidate's run folder goes with ``work``: no views for it
            env["DNN_INSTRUMENT_DIR"] = os.path.join(work, "runs")
            env["DNN_INSTRUMENT_VIEWS"] = "none"
        command = [sys.executable, "-m", "dnn_instrument.fixing", script]
        if code is not None:
            patched = os.path.join(work, "patched.py")
            with open(patched, "w", encoding="utf-8") as f:
                f.write(code)
            command += ["--source", patched]
        try:
            result = subprocess.run(
                [*command, "--", *arguments], env=env, capture_output=True, text=True, timeout=budget.timeout
            )
        except subprocess.TimeoutExpired:  # subprocess.run has killed it
            return {
                "verdict": "timed out",
                "error": f"stopped after {budget.timeout:g} s (--timeout)",
                "findings": [],
                "fits": [],
            }, None
        folder = re.findall(r"run folder: (.+?) \(report\.(?:html|json)", result.stderr)
        report = _read(report_path) if os.path.exists(report_path) else None
        if report is None:
            return {"verdict": "failed", "error": result.stderr[-1500:], "findings": [], "fits": []}, None
        return report, (folder[-1] if folder else None)


def summary(document):
    """What a run showed: verdict, primary cause, and its last fit's history."""
    fits = document.get("fits") or []
    first = root_cause(document)
    return {
        "verdict": document.get("verdict"),
        "cause": first.get("cause") if first else None,
        "history": fits[-1].get("history", []) if fits else [],
        "error": document.get("error"),
    }


def judge(buggy, patched):
    """Whether ``patched`` verifies against ``buggy``: verdict ok/warnings and a better loss or metric at the
    same epoch. Returns the facts and a short line for the user (``shown``)."""
    verdict = patched.get("verdict")
    before, after = summary(buggy)["history"], summary(patched)["history"]
    comparison = compare(before, after)
    ok = verdict in ("ok", "warnings")
    verified = ok and comparison is not None and comparison["better"]
    if verdict == "timed out":
        shown = f"timed out: {patched.get('error')}"
    elif verdict == "failed":
        last = (patched.get("error") or "").strip().splitlines()[-1:]
        shown = "the patched script failed" + (f": {last[0]}" if last else "")
    else:
        cause = root_cause(patched)
        shown = f"verdict {verdict}" + (f" ({cause['cause']})" if cause else "")
        if comparison:
            shown += f", {comparison['text']}"
    return {
        "verdict": verdict,
        "cause": (root_cause(patched) or {}).get("cause"),
        "comparison": comparison,
        "history": after,
        "verified": bool(verified),
        "shown": shown,
    }


def compare(before, after):
    """Loss and compiled metrics (training and validation) of two histories at the last epoch both reached;
    ``better`` when the patched run's loss is lower or one of its metrics is better. None without a patched epoch."""
    if not after:
        return None
    epoch = min(len(before), len(after)) - 1 if before else len(after) - 1
    old, new = (before[epoch] if before else {}), after[epoch]
    better, parts = False, []
    for key in [k for k in new if k != "epoch"]:  # validation too: a data-order fix shows there
        if key.startswith("val_") and key not in old:
            continue
        a, b = _number(old.get(key)), _number(new.get(key))
        if b is None or not math.isfinite(b):
            parts.append(f"{key} {_show(a)} -> {_show(b)}")
            continue
        higher = key.removeprefix("val_").endswith(HIGHER_IS_BETTER)
        improved = a is None or not math.isfinite(a) or (b > a if higher else b < a)
        better = better or improved
        parts.append(f"{key} {_show(a)} -> {_show(b)}")
    return {"epoch": epoch, "better": better, "text": f"epoch {epoch + 1}: " + ", ".join(parts)}


def _number(value):
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _show(value):
    return "-" if value is None else format(value, ".4g")


def _diff(before, after, script):
    from .transformer.diff import unified_diff

    return unified_diff(before, after, script, after_label="fixed")


def _finish(plan, source, options, folder):
    """Print the outcome, write the patch where asked and the run folder's fix.diff/fix.json."""
    from .transformer.diff import colourise, use_colour

    finding, outcome = plan["finding"], plan["outcome"]
    patches = plan.pop("patches", {})
    if outcome == "nothing to fix":
        say(f"nothing to fix: the run's verdict is {plan['buggy']['verdict']}")
        return EXIT_OK
    if outcome in ("no codemod", "no candidate"):
        why = "no codemod for this cause yet" if outcome == "no codemod" else "no codemod applies to this file"
        say(f"root cause {finding['cause']} ({finding.get('source') or 'the model'}): {why}; the fix to make by hand:")
        print(f"fix: {finding['fix']}")
        _write_record(folder, plan, None)
        return EXIT_NO_FIX
    chosen = plan["verified"]
    if chosen is None and options.unverified and plan["candidates"]:
        chosen = 0
    diff = plan["candidates"][chosen]["diff"] if chosen is not None else None
    say(f"{outcome}: tried {len(plan['candidates'])} candidate(s) in {plan['seconds']:.0f} s")
    if diff is None:
        say("no candidate verified; --unverified shows the first one; the text fix: " + finding["fix"])
        _write_record(folder, plan, None)
        return EXIT_NO_FIX
    verified = plan["verified"] is not None
    label = "" if verified else "# UNVERIFIED: this patch did not verify under the budget\n"
    code = patches[chosen]
    if options.output or options.in_place:
        if not verified:
            say("the patch is not verified; writing it anyway as asked (--unverified)")
        path = options.script if options.in_place else options.output
        try:
            write_atomically(path, code)
        except FileProblem as problem:
            print(problem, file=sys.stderr)
            return EXIT_USAGE
        say(f"{'patched' if options.in_place else 'written'}: {path}")
    else:
        text = label + diff
        sys.stdout.write(colourise(text) if use_colour(options.color, sys.stdout) else text)
    _write_record(folder, plan, diff if verified else None)
    return EXIT_OK if verified else EXIT_NO_FIX


def _write_record(folder, plan, diff):
    """``fix.json`` (and ``fix.diff`` for a verified patch) in the run folder; its HTML report shows the diff."""
    if not folder or not os.path.isdir(folder):
        return
    with open(os.path.join(folder, "fix.json"), "w", encoding="utf-8") as f:
        json.dump(plan, f, indent=1)
    if diff is None:
        return
    with open(os.path.join(folder, "fix.diff"), "w", encoding="utf-8") as f:
        f.write(diff)
    try:  # the HTML report again, now with the diff under the verdict
        from .reporting import report_command
        from .runtime.report import wait_for_views

        wait_for_views(folder)  # the run's own writer first: its page (without the diff) must not come last

        with open(os.devnull, "w") as sink:
            saved, sys.stdout, sys.stderr = (sys.stdout, sys.stderr), sink, sink
            try:
                report_command([folder, "--html"])
            finally:
                sys.stdout, sys.stderr = saved
    except Exception as error:  # the diff is written; the page is a view of it
        say(f"report.html not updated ({type(error).__name__}: {error})")
    say(f"written to the run folder: {os.path.join(folder, 'fix.diff')}, fix.json, report.html")


def _read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _usage(message):
    print(f"dnn-instrument fix: {message}", file=sys.stderr)
    return EXIT_USAGE


def _candidate_main(argv):
    """``python -m dnn_instrument.fixing SCRIPT [--source PATCHED] -- ARG...``: one isolated instrumented run."""
    from .runner import run

    script, rest = argv[0], argv[1:]
    source = None
    if rest[:1] == ["--source"]:
        with open(rest[1], encoding="utf-8") as f:
            source = f.read()
        rest = rest[2:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    return run(script, rest, quiet=True, source=source)


if __name__ == "__main__":
    sys.exit(_candidate_main(sys.argv[1:]))
