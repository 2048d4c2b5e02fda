"""Real programs, both ways: no crash, the same training, and every fit kept as fit says why.

``tests/programs/real_*.py`` are training programs written in the styles of public tutorials, keras-io
examples and books (multi-input/multi-output models with loss lists and dicts, custom layers and models,
checkpoints and .keras saving and reloading, shared metric objects, preprocessing layers adapted on data,
tf.data, fit in helpers and loops, models that own train_step, a Transformer block, a U-Net, a notebook
exported as a script), adapted to run offline in seconds. Each runs as written and instrumented
(``program_pairs``): both must exit 0 and save the same weights (max |diff| <= 1e-5) and History (<= 1e-4).

``EXPECTED`` pins what the transformer does with each program's fit calls (rewritten into the loop / kept
with the Diagnose callback) and the reason each kept call must give: at rewrite time (the message the CLI
prints as ``path:line:col: ...``) or at run time (on the instrumented run's stderr, for a helper's
parameter that turns out to be a model with its own train_step).
"""

import pytest

from conftest import PROGRAMS
from program_pairs import assert_same_training, run_both

OWN_STEP = "{} defines its own train_step"

# program: (fit calls rewritten, fit calls given the callback, reasons at rewrite time, reasons at run time)
EXPECTED = {
    "real_checkpoint_resume": (3, 0, [], []),
    "real_compile_and_fit": (1, 0, [], []),  # the helper's parameter: decided at run time, always the loop here
    "real_custom_layers": (3, 0, [], []),
    "real_distiller": (2, 1, [OWN_STEP.format("Distiller")], []),
    "real_gan": (0, 1, [OWN_STEP.format("GAN")], []),
    "real_imbalanced_metrics": (3, 0, [], []),
    "real_kfold_in_loop": (2, 0, [], []),
    "real_multi_io_losses": (2, 0, [], []),
    "real_notebook_export": (4, 1, [OWN_STEP.format("CustomModel")], [OWN_STEP.format("CustomModel")]),
    "real_save_weights": (2, 0, [], []),
    "real_structured_normalization": (2, 0, [], []),
    "real_text_vectorization": (2, 0, [], []),
    "real_transformer_text": (1, 0, [], []),
    "real_unet": (1, 0, [], []),
    "real_vae": (0, 1, [OWN_STEP.format("VAE")], []),
}
CASES = sorted(p.stem for p in PROGRAMS.glob("real_*.py"))


def test_every_real_program_has_its_expectations():
    assert CASES == sorted(EXPECTED)
    assert len(CASES) >= 12


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_real_program_trains_like_fit(case, tmp_path):
    rewritten, with_callback, rewrite_reasons, run_reasons = EXPECTED[case]
    pair = run_both(PROGRAMS / f"{case}.py", tmp_path)
    assert (pair.result.rewritten, pair.result.with_callback) == (rewritten, with_callback), [m.text for m in pair.result.messages]
    messages = [m.text for m in pair.result.messages]
    assert len(messages) == len(rewrite_reasons), messages
    for reason, message in zip(rewrite_reasons, messages):
        assert reason in message and message.endswith("Diagnose callback attached"), message
    assert pair.original.returncode == 0, pair.original.stderr[-3000:]
    assert pair.rewritten.returncode == 0, pair.rewritten.stderr[-3000:]
    for reason in run_reasons:
        assert reason in pair.rewritten.stderr, pair.rewritten.stderr[-3000:]
    assert_same_training(tmp_path)
