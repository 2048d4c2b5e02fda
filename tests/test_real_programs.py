"""Real programs, both ways: no crash, the same training, and every fit kept as fit says why.

``tests/programs/real_*.py`` are training programs written in the styles of public tutorials, keras-io
examples and books (multi-input/multi-output models with loss lists and dicts, custom layers and models,
checkpoints and .keras saving and reloading, shared metric objects, preprocessing layers adapted on data,
tf.data, fit in helpers and loops, models that own train_step, a Transformer block, a U-Net, a notebook
exported as a script), adapted to run offline in seconds. Each runs as written and instrumented
(``program_pairs``): both must exit 0 and save the same weights (max |diff| <= 1e-5) and History (<= 1e-4).

``EXPECTED`` pins what the transformer does with each program's fit calls (rewritten into the loop / kept
with the Diagnose callback). Every call kept as fit must give its real reason: a program's ``# says: TEXT``
lines are required among the rewrite's messages (what the CLI prints as ``path:line:col: ...``) or on the
instrumented run's stderr (a helper's parameter that turns out to be a model with its own train_step), and
every message of the rewrite must be one of them.
"""

import os
import re

import pytest
from conftest import PROGRAMS, halves
from program_pairs import as_written, assert_said, assert_same_training, in_halves, run_both, shares_a_process

# program: (fit calls rewritten, fit calls given the callback)
EXPECTED = {
    "real_checkpoint_resume": (3, 0),
    "real_compile_and_fit": (1, 0),  # the helper's parameter: decided at run time, the loop for these models
    "real_custom_layers": (3, 0),
    "real_distiller": (2, 1),
    "real_gan": (0, 1),
    "real_imbalanced_metrics": (3, 0),
    "real_kfold_in_loop": (2, 0),
    "real_multi_io_losses": (2, 0),
    "real_notebook_export": (4, 1),  # the earlier rebindings of `model` are not decided by the last one
    "real_save_weights": (2, 0),
    "real_structured_normalization": (2, 0),
    "real_text_vectorization": (2, 0),
    "real_transformer_text": (1, 0),
    "real_unet": (1, 0),
    "real_vae": (0, 1),
}
CASES = sorted(p.stem for p in PROGRAMS.glob("real_*.py"))
# The kinds of break seen in real programs that no smaller test covers, so that the suite stays within CI's time:
# shared metric objects, rebinding and loss lists/dicts have their own equivalence programs and golden files.
# ``make bench`` (bench/real_programs.py) runs them all, and so does this test with DNN_INSTRUMENT_ALL_PROGRAMS=1.
IN_SUITE = {
    "real_checkpoint_resume",  # .keras saving, ModelCheckpoint, load_model and training on
    "real_custom_layers",  # a Layer subclass without __init__ (Keras's config introspection)
    "real_compile_and_fit",  # fit on a helper's parameter, decided at run time
    "real_gan",  # a train_step of its own that logs no loss
}
RUN = CASES if os.environ.get("DNN_INSTRUMENT_ALL_PROGRAMS") else sorted(IN_SUITE)
# as in test_equivalence: the programs as written in turn in two processes, the instrumented ones in their own
HALVES = halves([case for case in RUN if shares_a_process(PROGRAMS / f"{case}.py")], "real_programs")


def test_every_real_program_has_its_expectations():
    assert CASES == sorted(EXPECTED)
    assert len(CASES) >= 12 and IN_SUITE <= set(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("case", in_halves(RUN, HALVES))
def test_real_program_trains_like_fit(case, tmp_path, tmp_path_factory):
    source_path = PROGRAMS / f"{case}.py"
    source = source_path.read_text()
    original, folder = as_written(case, HALVES, tmp_path_factory, tmp_path)
    pair = run_both(source_path, folder, original=original)
    messages = [message.text for message in pair.result.messages]
    assert (pair.result.rewritten, pair.result.with_callback) == EXPECTED[case], messages
    says = re.findall(r"^# says: (.+)$", source, re.MULTILINE)
    for message in messages:  # no call is kept as fit without its reason being expected
        assert any(expected in message for expected in says), message
    assert pair.original.returncode == 0, pair.original.stderr[-3000:]
    assert pair.rewritten.returncode == 0, pair.rewritten.stderr[-3000:]
    assert_said(pair, source)
    assert_same_training(folder)
