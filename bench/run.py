"""``make bench``: what instrumentation costs, measured side by side in one run, printed as ratios.

1. Accuracy on the bug corpus against the Keras baseline (``bench/corpus.py``), with the overhead of
   instrumentation over all those runs.
2. Training overhead: ``bench/overhead_program.py`` (an MLP and a small convnet on the digits) runs
   as written and instrumented, alternately, ``--repeats`` times each; the script times its own
   ``fit`` (or the loop that replaced it), so interpreter and TensorFlow start-up are not counted.
   The ratio is median(instrumented) / median(plain). The same for the MLP under MirroredStrategy over two
   logical CPUs, against ``fit`` under the same strategy (``bench/distributed.py``; alone: ``BENCH=distributed``).
3. Transform time: instrumenting a generated 1,000-line Keras file, median of several runs.
4. Memory of long runs: ``bench/memory_program.py`` (a tiny model, one sample per batch) instrumented and
   trained for 1,000 and for 100,000 steps: the trace's rows and bytes in memory, its files on disk, and the
   process's peak resident memory.
5. The corpus sweep (``bench/sweep.py``): the transformer over every ``.py`` file of the installed keras and
   tensorflow packages, with the counts of each outcome (crashes must be 0) and the time per 1,000 lines.
6. Repair (``bench/fix.py``): ``dnn-instrument fix`` on every buggy script of the corpus (a verified patch?
   does the patched script pass the case's label check?) and on every fixed twin (nothing to fix).
7. Real programs (``bench/real_programs.py``): the tutorial-style programs of ``tests/programs/real_*.py``
   run both ways: per program, fit calls rewritten / given the callback, max |dw|, History match, verdict.
8. Real architectures and scaling (``bench/real_model_program.py``, ``bench/scaling_program.py``; alone: ``make bench
   BENCH=models``): MobileNetV2 (96x96) and ResNet50 (32x32), ``weights=None``, and Dense stacks of 5, 20 and 80
   layers, as written and instrumented alternately: time, steady per-step time and peak-RSS ratios, same weights.
   Every row with a steady per-step time also measures it in one process (``bench/paired.py``: ``PAIRED_ROUNDS``
   short runs each way, alternately), whose spread on this machine is about half that of a median of a few processes,
   and shows, as ``q25``, its ratio in the lower quartile of each run's epochs (``STEP_Q25_SECONDS``: without the
   epochs the machine ran slow, on either side), beside the bar's measures.
9. Whole scripts (``bench/scripts/``; alone: ``make bench BENCH=scripts``, 5 alternating runs by default): an MLP,
   a small convnet, an LSTM, a 20-layer residual convnet (32x32x3), a script of several ``fit`` calls, and the MLP
   with the ``Diagnose`` callback (``--callback``), each timed as a whole process (start-up and exit included)
   plain and instrumented (``DNN_INSTRUMENT_STOP=never``); and the first four for 2,000 steps, per-step time after
   the first epoch (and in one process, as in 8). Ratios of time, steady step time and peak RSS against their bars,
   same weights.

Results are printed and written to ``bench/results/bench-<timestamp>.json`` (``models-`` / ``scripts-<timestamp>.json``
for those alone) and, for the corpus, ``bench/results/corpus-<timestamp>.csv``, so that changes can be compared over time.
"""

import argparse
import csv
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
from paired import ROUNDS as PAIRED_ROUNDS  # noqa: E402 (bench/, above)
from paired import printed_values  # noqa: E402
from writers import wait_for_writers  # noqa: E402


def run_timed(script, env):
    """The ``FIT_SECONDS`` of one run of ``script`` (``measured``)."""
    return measured(script, env, timeout=900)["FIT_SECONDS"]


def measured(script, env, timeout=1800):
    """Run ``script``; its ``KEY value`` lines on stderr (FIT_SECONDS, PEAK_RSS_KB...) as a dict of floats,
    with WALL_SECONDS: the whole process (start-up, imports and exit included), timed here, and AFTER_EXIT_SECONDS:
    the wait for the report views it left to a detached writer (in ``env``'s ``DNN_INSTRUMENT_DIR``), after it."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    values = {"WALL_SECONDS": time.perf_counter() - start}
    values["AFTER_EXIT_SECONDS"] = wait_for_writers(env["DNN_INSTRUMENT_DIR"]) if "DNN_INSTRUMENT_DIR" in env else 0.0
    values.update(printed_values(result.stderr))
    if "FIT_SECONDS" not in values:
        raise RuntimeError(f"{script} failed:\n{result.stderr[-2000:]}")
    return values


def side_by_side(name, settings, repeats, callback_only=False, paired_steps=None):
    """``bench/NAME.py`` as written and instrumented, alternately, ``repeats`` times per setting (a dict of env).

    Per setting: the medians of both sides' fit seconds, whole-process seconds, steady step seconds and peak RSS,
    their ratios, and whether the final weights' checksum (WEIGHTS, where the program prints one) is the same both
    ways (and its largest relative difference). ``callback_only``: instrumented with the ``Diagnose`` callback
    (``dnn-instrument --callback``) instead of the loop. The instrumented copy runs from a temporary folder, with
    the program's own folder on ``PYTHONPATH`` so that it imports what the program imports. The instrumented side
    trains on whatever it finds (``DNN_INSTRUMENT_STOP=never``: the weights stay comparable) and writes its cost
    breakdown (``runtime/costs.py``): the medians per phase are the row's ``costs``, with ``after exit``: the wait,
    measured here, for the report views each run leaves to a detached writer (before the next run starts).

    A steady setting (one with ``BENCH_STEPS``) also gets ``paired``: its steady step both ways in one process
    (``bench/paired.py``, ``PAIRED_ROUNDS`` alternating runs each, of ``paired_steps`` steps or the setting's own).
    """
    from dnn_instrument.transformer import instrument

    program = HERE / f"{name}.py"
    path = os.pathsep.join(filter(None, (str(program.parent), os.environ.get("PYTHONPATH"))))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        instrumented = Path(folder) / program.name
        instrumented.write_text(instrument(program.read_text(), str(program), callback_only=callback_only).code)
        for env in settings:
            env = {**env, "DNN_INSTRUMENT_DIR": str(Path(folder) / "runs"), "PYTHONPATH": path}
            plain, probed, costs = [], [], []
            costs_file = Path(folder) / "costs.json"
            for _ in range(repeats):
                plain.append(measured(program, env))
                costs_file.unlink(missing_ok=True)
                probed.append(
                    measured(
                        instrumented, {**env, "DNN_INSTRUMENT_STOP": "never", "DNN_INSTRUMENT_COSTS": str(costs_file)}
                    )
                )
                costs.append(json.loads(costs_file.read_text()) if costs_file.exists() else {})
                costs[-1]["after exit"] = probed[-1]["AFTER_EXIT_SECONDS"]  # measured here: the process has ended
            row = {
                "settings": {k: v for k, v in env.items() if k.startswith("BENCH_") or k in KNOB_VARIABLES},
                "plain": plain,
                "instrumented": probed,
                "costs": {
                    phase: statistics.median(c.get(phase, 0.0) for c in costs)
                    for phase in {p for c in costs for p in c}
                },
            }
            if "BENCH_STEPS" in env:
                steps = {"BENCH_STEPS": str(paired_steps)} if paired_steps else {}
                row["paired"] = in_one_process(program, instrumented, {**env, "DNN_INSTRUMENT_STOP": "never", **steps})
            for key in (
                "FIT_SECONDS",
                "WALL_SECONDS",
                "FIRST_STEP_SECONDS",
                "STEP_SECONDS",
                "STEP_Q25_SECONDS",
                "PEAK_RSS_KB",
            ):
                if key in plain[0]:
                    row[key.lower() + "_ratio"] = statistics.median(r[key] for r in probed) / statistics.median(
                        r[key] for r in plain
                    )
            if "WEIGHTS" in plain[0]:
                row["same_weights"] = all(a["WEIGHTS"] == b["WEIGHTS"] for a, b in zip(plain, probed))
                row["weights_relative_difference"] = max(
                    abs(a["WEIGHTS"] - b["WEIGHTS"]) / max(abs(a["WEIGHTS"]), 1e-300) for a, b in zip(plain, probed)
                )
            rows.append(row)
    return rows


def in_one_process(program, instrumented, env):
    """``bench/paired.py``: the steady step of ``program`` and of its ``instrumented`` copy in one process."""
    result = subprocess.run(
        [sys.executable, str(HERE / "paired.py"), str(program), str(instrumented), "--rounds", str(PAIRED_ROUNDS)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode:
        raise RuntimeError(f"bench/paired.py failed on {program}:\n{result.stderr[-2000:]}")
    return json.loads(next(line for line in result.stdout.splitlines() if line.startswith("PAIRED "))[7:])


def side_by_side_table(rows):
    lines = [
        f"  {'settings':<40} {'fit s':>7} {'instr. s':>8} {'time':>6} {'step':>6} {'step 1p':>7} {'q25':>6} "
        f"{'peak MB':>8} {'instr. MB':>9} {'memory':>7} {'weights':>8}"
    ]
    for row in rows:
        plain_seconds = statistics.median(r["FIT_SECONDS"] for r in row["plain"])
        probed_seconds = statistics.median(r["FIT_SECONDS"] for r in row["instrumented"])
        plain_mb = statistics.median(r["PEAK_RSS_KB"] for r in row["plain"]) / 1024
        probed_mb = statistics.median(r["PEAK_RSS_KB"] for r in row["instrumented"]) / 1024
        step = f"{row['step_seconds_ratio']:.2f}x" if "step_seconds_ratio" in row else "-"
        same = {True: "same", False: "DIFFER", None: "-"}[row.get("same_weights")]
        settings = " ".join(f"{k[6:].lower()}={v}" for k, v in row["settings"].items())
        lines.append(
            f"  {settings:<40} {plain_seconds:>7.1f} {probed_seconds:>8.1f} {row['fit_seconds_ratio']:>5.2f}x {step:>6} "
            f"{one_process(row):>7} {fast_epochs(row):>6} {plain_mb:>8.0f} {probed_mb:>9.0f} "
            f"{row['peak_rss_kb_ratio']:>6.2f}x {same:>8}"
        )
    return "\n".join(lines)


def one_process(row):
    """The steady step's ratio measured in one process (``in_one_process``), as a table cell."""
    return f"{row['paired']['step_seconds_ratio']:.2f}x" if row and "paired" in row else "-"


def fast_epochs(row):
    """The ratio of the steady step in the lower quartile of each run's epochs (``STEP_Q25_SECONDS``), as a table cell:
    the step without the epochs that the machine ran slow, on either side. Shown beside the bar's measures, not one."""
    return f"{row['step_q25_seconds_ratio']:.2f}x" if row and "step_q25_seconds_ratio" in row else "-"


def costs_table(rows, labels=None):
    """Per row, the instrumented run's seconds by phase (``runtime/costs.py``), beside plain fit's seconds."""
    from dnn_instrument.runtime.costs import PHASES

    phases = [phase for phase in PHASES if any(phase in row["costs"] for row in rows)]
    lines = [
        f"  {'settings':<40} {'fit s':>7} {'1st step':>8} "
        + " ".join(f"{phase:>{max(len(phase), 7)}}" for phase in phases)
    ]
    for number, row in enumerate(rows):
        settings = labels[number] if labels else " ".join(f"{k[6:].lower()}={v}" for k, v in row["settings"].items())
        plain_seconds = statistics.median(r["FIT_SECONDS"] for r in row["plain"])
        first = [r["FIRST_STEP_SECONDS"] for r in row["plain"] if "FIRST_STEP_SECONDS" in r]
        first = f"{statistics.median(first):>8.2f}" if first else f"{'-':>8}"
        cells = " ".join(f"{row['costs'].get(phase, 0.0):>{max(len(phase), 7)}.2f}" for phase in phases)
        lines.append(f"  {settings:<40} {plain_seconds:>7.2f} {first} {cells}")
    return "\n".join(lines)


REAL_MODELS = ({"BENCH_MODEL": "mobilenet", "BENCH_SIZE": "96"}, {"BENCH_MODEL": "resnet", "BENCH_SIZE": "32"})
SCALING = tuple({"BENCH_DEPTH": str(depth), "BENCH_STEPS": "400"} for depth in (5, 20, 80))
STEADY = ({"BENCH_DEPTH": "3", "BENCH_STEPS": "2400"},)


def models_and_scaling(repeats):
    """Real architectures (keras.applications, weights=None), Dense stacks of 5/20/80 layers, a steady-state run."""
    print(f"real architectures, batch 16, 64 synthetic images, 2 epochs ({repeats} alternating runs each, medians):")
    models = side_by_side("real_model_program", REAL_MODELS, repeats)
    print(side_by_side_table(models))
    print(
        "\n  where the instrumented run's time goes, seconds per phase (medians), beside plain fit's whole fit and first step:"
    )
    print(costs_table(models))
    print("\nscaling: Dense stacks (32 units), 400 steps; step = per-step time after the first epoch:")
    scaling = side_by_side("scaling_program", SCALING, repeats)
    print(side_by_side_table(scaling))
    print(costs_table(scaling))
    print("\nsteady state: 2,400 steps of a 3-layer MLP:")
    steady = side_by_side("scaling_program", STEADY, repeats)
    print(side_by_side_table(steady))
    return {"real_models": models, "scaling": scaling, "steady": steady}


# Whole-script rows (bench/scripts/): (script, instrumented with the Diagnose callback instead of the loop?).
SCRIPTS = (
    ("mlp", False),
    ("convnet", False),
    ("lstm", False),
    ("residual", False),
    ("several_fits", False),
    ("mlp", True),
)
STEADY_SCRIPTS = ("mlp", "convnet", "lstm", "residual")  # and their steady-state rows, BENCH_STEPS steps
# The opt-in knob that measures layer outputs in full every k-th step only (runtime/record/probe.py): one more steady
# row for the model whose statistics cost most, to show what it saves (it is off in every other row).
KNOB = {"residual": {"DNN_INSTRUMENT_OUTPUTS_EVERY": "8"}}
KNOB_VARIABLES = {name for knob in KNOB.values() for name in knob}
SCRIPT_STEPS = 2000
PAIRED_SCRIPT_STEPS = 600  # per run of the one-process measurement (``PAIRED_ROUNDS`` runs each way)
SCRIPT_BARS = {"wall_seconds_ratio": 1.10, "step_seconds_ratio": 1.05, "peak_rss_kb_ratio": 1.15}


def whole_scripts(repeats):
    """Each ``bench/scripts/`` script as a whole process, plain and instrumented alternately; the steady rows.

    One row per script: its whole-process time, peak memory and weights, and for the models of
    ``STEADY_SCRIPTS`` the per-step time of a ``SCRIPT_STEPS``-step run after its first epoch.
    """
    rows = []
    for script, callback in SCRIPTS:
        settings = [{}]
        if script in STEADY_SCRIPTS:
            settings.append({"BENCH_STEPS": str(SCRIPT_STEPS)})
        knob = KNOB.get(script) if not callback else None
        if knob:
            settings.append({"BENCH_STEPS": str(SCRIPT_STEPS), **knob})
        label = script + (" (callback)" if callback else "")
        print(f"  {label}...", end=" ", file=sys.stderr, flush=True)
        start = time.perf_counter()
        whole, *steady = side_by_side(
            f"scripts/{script}", settings, repeats, callback_only=callback, paired_steps=PAIRED_SCRIPT_STEPS
        )
        print(f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        rows.append({"script": label, "whole": whole, "steady": steady[0] if steady else None})
        if knob:
            rows[-1]["knob"] = {"settings": knob, "steady": steady[1]}
    return rows


def whole_scripts_table(rows):
    def over(row, key):
        return row is not None and key in row and row[key] > SCRIPT_BARS[key]

    def same(row):
        return "-" if row is None else {True: "same", False: "DIFFER"}[row["same_weights"]]

    lines = [
        f"  {'script':<18} {'plain s':>7} {'instr. s':>8} {'time':>6} {'step':>6} {'step 1p':>7} {'q25':>6} "
        f"{'memory':>7} {'weights':>8} {'steady w.':>9}  bar"
    ]
    for row in rows:
        whole, steady = row["whole"], row["steady"]
        plain = statistics.median(r["WALL_SECONDS"] for r in whole["plain"])
        probed = statistics.median(r["WALL_SECONDS"] for r in whole["instrumented"])
        step = f"{steady['step_seconds_ratio']:.2f}x" if steady else "-"
        missed = [
            name
            for name, part, key in (
                ("time", whole, "wall_seconds_ratio"),
                ("step", steady, "step_seconds_ratio"),
                ("step in one process", steady and steady.get("paired"), "step_seconds_ratio"),
                ("memory", whole, "peak_rss_kb_ratio"),
                ("steady memory", steady, "peak_rss_kb_ratio"),
            )
            if over(part, key)
        ]
        lines.append(
            f"  {row['script']:<18} {plain:>7.1f} {probed:>8.1f} {whole['wall_seconds_ratio']:>5.2f}x {step:>6} "
            f"{one_process(steady):>7} {fast_epochs(steady):>6} {whole['peak_rss_kb_ratio']:>6.2f}x {same(whole):>8} "
            f"{same(steady):>9}  " + ("over: " + ", ".join(missed) if missed else "ok")
        )
    for row in rows:
        for kind in ("whole", "steady"):
            if row[kind] is not None and not row[kind]["same_weights"]:
                lines.append(
                    f"  {row['script']} ({kind}): the weights' checksum differs by up to "
                    f"{row[kind]['weights_relative_difference']:.1e} (relative)"
                )
    for row in rows:
        if "knob" in row:
            knob, steady = row["knob"], row["steady"]
            setting = " ".join(f"{k}={v}" for k, v in knob["settings"].items())
            lines.append(
                f"  {row['script']} with {setting} (off by default): step {knob['steady']['step_seconds_ratio']:.2f}x, "
                f"{one_process(knob['steady'])} in one process (against {steady['step_seconds_ratio']:.2f}x, "
                f"{one_process(steady)} in full), memory {knob['steady']['peak_rss_kb_ratio']:.2f}x, "
                f"weights {same(knob['steady'])}"
            )
    bars = SCRIPT_BARS
    lines.append(
        f"  (bar: whole-script <= {bars['wall_seconds_ratio']:.2f}x, steady <= {bars['step_seconds_ratio']:.2f}x, "
        f"memory <= {bars['peak_rss_kb_ratio']:.2f}x)"
    )
    return "\n".join(lines)


def scripts_benchmark(repeats):
    print(
        f"whole scripts (bench/scripts/), each a whole process (start-up and exit included), plain and instrumented,\n"
        f"alternating, {repeats} runs each, medians; step = per-step time of a {SCRIPT_STEPS:,}-step run after its first "
        "epoch; memory = peak RSS:"
    )
    rows = whole_scripts(repeats)
    print(whole_scripts_table(rows))
    print("\n  where the instrumented process's time goes, seconds per phase (medians), beside plain fit's:")
    print(costs_table([row["whole"] for row in rows], labels=[row["script"] for row in rows]))
    return rows


def overhead(repeats, epochs, models=("mlp", "conv"), strategy=None):
    """``fit`` against the loop on ``bench/overhead_program.py``; ``strategy="mirrored"``: under MirroredStrategy."""
    from dnn_instrument.transformer import instrument

    program = HERE / "overhead_program.py"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        instrumented = Path(folder) / "overhead_program.py"
        instrumented.write_text(instrument(program.read_text(), str(program)).code)
        for model in models:
            env = {
                "BENCH_MODEL": model,
                "BENCH_EPOCHS": str(epochs),
                "DNN_INSTRUMENT_DIR": str(Path(folder) / "runs"),
                "BENCH_STRATEGY": strategy or "",
            }
            plain, probed = [], []
            for _ in range(repeats):
                plain.append(run_timed(program, env))
                probed.append(run_timed(instrumented, env))
            rows.append(
                {
                    "model": model,
                    "strategy": strategy,
                    "epochs": epochs,
                    "fit_seconds": plain,
                    "instrumented_seconds": probed,
                    "ratio": statistics.median(probed) / statistics.median(plain),
                }
            )
    return rows


def memory(steps_list):
    from dnn_instrument.transformer import instrument

    program = HERE / "memory_program.py"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        instrumented = Path(folder) / "memory_program.py"
        instrumented.write_text(instrument(program.read_text(), str(program)).code)
        for steps in steps_list:
            env = {
                **os.environ,
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "BENCH_STEPS": str(steps),
                "DNN_INSTRUMENT_DIR": str(Path(folder) / "runs"),
                "DNN_INSTRUMENT_STRICT": "1",
            }
            start = time.perf_counter()
            result = subprocess.run(
                [sys.executable, str(instrumented)], env=env, capture_output=True, text=True, timeout=3600
            )
            wall = time.perf_counter() - start
            after_exit = wait_for_writers(env["DNN_INSTRUMENT_DIR"])
            line = next((l for l in result.stderr.splitlines() if l.startswith("MEMORY")), None)
            if line is None:
                raise RuntimeError(f"memory_program failed:\n{result.stderr[-2000:]}")
            row = {key: int(value) for key, value in (item.split("=") for item in line.split()[1:])}
            rows.append({**row, "wall_seconds": wall, "after_exit_seconds": after_exit})
    return rows


def keras_file(lines):
    """A realistic Keras script of about ``lines`` lines: models, helpers, compile and fit calls."""
    block = '''

def build_model_{i}(units={i} + 8):
    """Model {i}: a small dense network."""
    inputs = keras.Input(shape=(16,))
    hidden = layers.Dense(units, activation="relu")(inputs)  # hidden layer
    hidden = layers.Dropout(0.1)(hidden)
    outputs = layers.Dense(3, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def summarise_{i}(history):
    best = max(history.history["accuracy"])
    worst = min(history.history["loss"])
    return {{"best": best, "worst": worst, "epochs": len(history.history["loss"])}}


model_{i} = build_model_{i}()
history_{i} = model_{i}.fit(x_train, y_train, epochs=2, batch_size=32, validation_split=0.1, verbose=0)
print(summarise_{i}(history_{i}))
'''
    head = "import keras\nfrom keras import layers\nimport numpy as np\n\nx_train = np.zeros((64, 16))\ny_train = np.zeros(64)\n"
    parts, i = [head], 0
    while sum(part.count("\n") for part in parts) < lines:
        parts.append(block.format(i=i))
        i += 1
    return "".join(parts)


def transform_time(lines, repeats):
    from dnn_instrument.transformer import instrument

    source = keras_file(lines)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = instrument(source, "generated.py")
        times.append(time.perf_counter() - start)
    return {
        "lines": source.count("\n"),
        "fit_calls": result.rewritten,
        "seconds": times,
        "median_seconds": statistics.median(times),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=None, help="alternating runs per side (3; the scripts: 5)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of the overhead workload")
    parser.add_argument("--no-corpus", action="store_true", help="skip the corpus accuracy benchmark")
    parser.add_argument("--long-steps", type=int, default=100_000, help="steps of the long run of the memory benchmark")
    parser.add_argument(
        "--only",
        choices=("corpus", "distributed", "fix", "real", "models", "scripts", "cost"),
        default=None,
        help="run one benchmark alone (make bench BENCH=NAME)",
    )
    arguments = parser.parse_args()
    script_repeats = arguments.repeats or 5
    arguments.repeats = arguments.repeats or 3
    if arguments.only == "fix":
        import fix

        fix.main_with([])
        return
    if arguments.only in ("models", "scripts", "cost"):  # cost: both, in one run (what training costs instrumented)
        results = HERE / "results"
        results.mkdir(exist_ok=True)
        document = {}
        if arguments.only in ("models", "cost"):
            document.update(models_and_scaling(arguments.repeats))
        if arguments.only in ("scripts", "cost"):
            print()
            document["scripts"] = scripts_benchmark(script_repeats)
        path = results / f"{arguments.only}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(document, indent=1))
        print(f"\nwritten: {path.relative_to(ROOT)}")
        return
    if arguments.only == "real":
        import real_programs

        print(real_programs.table(real_programs.run()))
        return
    if arguments.only == "distributed":
        import distributed

        print(distributed.table(distributed.overhead(arguments.repeats, arguments.epochs)))
        return

    print("dnn-instrument benchmark\n")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    corpus_rows, corpus_totals = [], None
    if not arguments.no_corpus and arguments.only in (None, "corpus"):
        import corpus

        start = time.perf_counter()
        corpus_rows, corpus_totals = corpus.run()
        everything = corpus_totals["all"]
        print(
            f"bug corpus: {everything['pairs']} buggy scripts with their fixed twins and {everything['healthy']} healthy "
            f"programs ({time.perf_counter() - start:.0f} s)\n"
        )
        print(corpus.table(corpus_rows, corpus_totals) + "\n")
        with open(results / f"corpus-{stamp}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=[k for k in corpus_rows[0] if k != "errors"], extrasaction="ignore")
            writer.writeheader()
            writer.writerows(corpus_rows)
    if arguments.only == "corpus":
        path = results / f"bench-{stamp}.json"
        path.write_text(json.dumps({"corpus": {"totals": corpus_totals, "cases": corpus_rows}}, indent=1))
        print(f"written: {path.relative_to(ROOT)}")
        return
    transform = transform_time(1000, 5)
    print(
        f"transform: {transform['lines']} lines, {transform['fit_calls']} fit calls: "
        f"median {transform['median_seconds']:.2f} s (bar: < 2 s)\n"
    )
    rows = overhead(arguments.repeats, arguments.epochs)
    print(f"training overhead, every probe on ({arguments.repeats} runs each, alternating, median):")
    print(f"  {'model':<6} {'epochs':>6} {'fit s':>8} {'instrumented s':>15} {'ratio':>7}")
    for row in rows:
        print(
            f"  {row['model']:<6} {row['epochs']:>6} {statistics.median(row['fit_seconds']):>8.2f} "
            f"{statistics.median(row['instrumented_seconds']):>15.2f} {row['ratio']:>6.2f}x"
        )
    print("  (bar: <= 1.3x)")
    models_rows = models_and_scaling(arguments.repeats)
    print()
    scripts_rows = scripts_benchmark(script_repeats)
    import distributed

    distributed_rows = distributed.overhead(arguments.repeats, arguments.epochs)
    print(distributed.table(distributed_rows))
    print("\nmemory of long runs (a tiny model, one sample per batch):")
    memory_rows = memory([1000, arguments.long_steps])
    print(f"  {'steps':>7} {'trace rows':>10} {'trace MB':>9} {'disk MB':>8} {'peak RSS MB':>12}")
    for row in memory_rows:
        print(
            f"  {row['steps']:>7} {row['rows']:>10} {row['trace_bytes'] / 2**20:>9.2f} {row['disk_bytes'] / 2**20:>8.2f} "
            f"{row['peak_rss_kb'] / 1024:>12.0f}"
        )
    short, long = memory_rows
    print(
        f"  {long['steps'] // short['steps']}x the steps: {long['trace_bytes'] / short['trace_bytes']:.2f}x the trace, "
        f"{long['peak_rss_kb'] / short['peak_rss_kb']:.2f}x the peak memory"
    )
    import sweep

    print("\ncorpus sweep: the transformer over every .py file of the installed keras and tensorflow")
    swept = sweep.sweep(sweep.package_files(), os.cpu_count() or 1)
    print(sweep.summary(swept))
    import fix

    print("\nrepair: dnn-instrument fix on every buggy script and fixed twin of the corpus")
    fix_rows, fix_seconds = fix.run()
    print(fix.table(fix_rows, fix_seconds))
    import real_programs

    print("\nreal programs (tests/programs/real_*.py), as written and instrumented:")
    real_rows = real_programs.run()
    print(real_programs.table(real_rows))
    path = results / f"bench-{stamp}.json"
    document = {
        "fix": {"rows": fix_rows, "seconds": fix_seconds},
        "transform": transform,
        "overhead": rows,
        "distributed_overhead": distributed_rows,
        **models_rows,
        "scripts": scripts_rows,
        "memory": memory_rows,
        "sweep": {k: v for k, v in swept.items() if k != "outcomes"},
        "corpus": {"totals": corpus_totals, "cases": corpus_rows},
        "real_programs": real_rows,
    }
    path.write_text(json.dumps(document, indent=1))
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
