"""A run folder reads its frozen tensors from the base instead of storing a copy (models/base_tensors.py): an
encoder variant trained with frozen embeddings leaves them out, loads back to the same answers, refuses a base
whose tensor differs, and exports every weight."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import train_label_variant

from tuneforge.errors import UserError
from tuneforge.models.base_tensors import BASE_TENSORS_FILE, WEIGHTS_FILE

pytestmark = pytest.mark.usefixtures("one_torch_thread")
EMBEDDINGS = "embeddings.word_embeddings.weight"
TEXTS = ["dell laptop", "hotel room", "zebra quantum", "xyz"]


def _keys(path):
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return set(f.keys())


@pytest.fixture(scope="module")
def frozen_run(tiny_encoder_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("base") / "bert"
    shutil.copytree(tiny_encoder_dir, base)  # a base of its own: one test alters it
    run_dir, _ = train_label_variant(tmp_path_factory.mktemp("frozen"), base, classifier_freeze_embeddings=True)
    return run_dir, base


def test_the_frozen_embeddings_stay_in_the_base(frozen_run):
    run_dir, base = frozen_run
    record = json.loads((run_dir / BASE_TENSORS_FILE).read_text())
    assert record["base"] == str(base) and list(record["tensors"]) == [EMBEDDINGS]
    assert EMBEDDINGS not in _keys(run_dir / WEIGHTS_FILE)
    assert _keys(run_dir / WEIGHTS_FILE) | {EMBEDDINGS} == _keys(base / WEIGHTS_FILE)  # every other weight is there


def test_it_loads_back_as_its_full_export_answers(frozen_run, tmp_path):
    """The export stores every weight (it must load without tuneforge); the run folder, filled from the base,
    gives the same probabilities."""
    import torch
    from safetensors.torch import load_file

    from tuneforge.export.classifier_export import load_exported_classifier
    from tuneforge.export.export import export_variant
    from tuneforge.models.classifier import load_classifier

    run_dir, base = frozen_run
    out, report = export_variant(run_dir, tmp_path / "merged", "merged", parity_samples=4)
    assert report.passed and not (out / BASE_TENSORS_FILE).exists()
    assert torch.equal(load_file(str(out / WEIGHTS_FILE))[EMBEDDINGS], load_file(str(base / WEIGHTS_FILE))[EMBEDDINGS])
    expected = load_exported_classifier(out).probabilities(TEXTS)
    assert load_classifier(run_dir).probabilities(TEXTS) == [pytest.approx(p, rel=1e-5) for p in expected]


def test_a_base_with_other_embeddings_is_refused(frozen_run, tmp_path):
    from safetensors.torch import load_file, save_file

    from tuneforge.models.classifier import load_classifier

    run_dir, base = frozen_run
    original = (base / WEIGHTS_FILE).read_bytes()
    weights = load_file(str(base / WEIGHTS_FILE))
    weights[EMBEDDINGS][0, 0] += 1.0
    save_file(weights, str(base / WEIGHTS_FILE), metadata={"format": "pt"})
    try:
        with pytest.raises(UserError) as err:
            load_classifier(run_dir)
        assert err.value.file == str(run_dir / BASE_TENSORS_FILE) and err.value.field == EMBEDDINGS
        assert "different" in str(err.value)
    finally:
        (base / WEIGHTS_FILE).write_bytes(original)


def test_an_encoder_that_trains_every_weight_is_saved_whole(tiny_encoder_dir, tmp_path):
    run_dir, _ = train_label_variant(tmp_path, tiny_encoder_dir, epochs=1)
    assert not (run_dir / BASE_TENSORS_FILE).exists() and EMBEDDINGS in _keys(run_dir / WEIGHTS_FILE)
