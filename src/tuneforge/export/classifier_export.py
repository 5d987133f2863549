"""Export of a classification variant: merged safetensors that plain transformers loads as a classifier.

The merged folder is a standard `AutoModelForSequenceClassification` checkpoint (LoRA folded in, head saved)
whose config names the labels (id2label), plus the calibration temperature and the pooling in
tuneforge-export.json and the config (`tuneforge_pooling`). transformers' own classifier pools the last token;
a variant trained with mean pooling (the default) must be run with mean pooling, as tuneforge's loader does.
A variant fine-tuned from a sentence encoder (models/encoder.py) exports as the encoder's own transformers
folder (`AutoModel` loads it; config.json names the labels) plus its linear head in classifier_head.safetensors,
applied to the mean over real tokens of the last hidden states.
A fused variant (models/fusion.py: the head's probabilities combined with an n-gram logistic regression) exports
its n-gram model too (`ngram_model.json` + `ngram_model.safetensors`, no pickle) with the fusion weight and
temperatures in tuneforge-export.json, and says so: the head alone answers differently, so a runtime that loads
only the transformers folder is not the variant. Parity runs the fused path from the exported files.
Parity: the exported folder, loaded back from its own files and tuneforge-export.json alone (as `tuneforge predict
--model EXPORT_FOLDER` loads it), must give the same label as the run on sample inputs.

GGUF is refused with a clear message: tuneforge's GGUF writer carries the language-model head only, and
llama.cpp offers no per-label sequence-classification path for Llama-family models whose output tuneforge could
check for parity, so a GGUF of this variant would load and answer a different task.
"""

from __future__ import annotations

from pathlib import Path

from tuneforge.atomic import atomic_folder
from tuneforge.errors import UserError
from tuneforge.export.merge import write_export_record
from tuneforge.export.model_card import write_model_card
from tuneforge.export.parity import ParityReport, sample_prompts
from tuneforge.models.classifier import Classifier, classifier_input, load_classifier
from tuneforge.models.ngram_model import save_ngram

GGUF_REFUSAL = ("GGUF export is not available for classification variants: llama.cpp has no per-label "
                "classification head for Llama-family models (the file would answer with the language-model head). "
                "Export "
                "--format merged (transformers, vLLM's classify task) or serve the run with `tuneforge serve`.")

FUSION_NOTE = ("a fused variant: the label probabilities are softmax((weight x log softmax(head logits / "
               "head temperature) + (1 - weight) x log p(n-gram model)) / temperature), with the n-gram model in "
               "ngram_model.json + ngram_model.safetensors; the transformers folder alone is the head alone and may "
               "answer differently (models/fusion.py)")


def export_classifier(run_dir, run: dict, out, fmt: str, overwrite: bool = False, parity_samples: int = 8):
    if fmt != "merged":
        raise UserError(GGUF_REFUSAL, field="format")
    clf = load_classifier(run_dir, run)
    model = clf.model.merge_and_unload() if hasattr(clf.model, "merge_and_unload") else clf.model
    model.config.id2label = dict(enumerate(clf.labels))
    model.config.label2id = {label: i for i, label in enumerate(clf.labels)}
    model.config.tuneforge_pooling = clf.pooling
    fusion = run.get("fusion") if clf.fusion is not None else None
    with atomic_folder(out, overwrite) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        clf.tokenizer.save_pretrained(tmp)
        if fusion:
            save_ngram(clf.fusion.ngram, tmp)
        write_model_card(run_dir, tmp, export_kind="merged", title=Path(out).name)
        write_export_record(tmp, run_dir, run, "merged-safetensors", variant_type="classification",
                            labels=clf.labels, temperature=clf.temperature, input=run.get("input"),
                            pooling=clf.pooling, special_tokens=clf.special_tokens,
                            fusion=fusion and {**fusion, "note": FUSION_NOTE})
    out = Path(out)
    if parity_samples <= 0:
        return out, None
    report = classifier_parity(clf, out, sample_prompts(run, parity_samples))
    report.save(out)
    return out, report


def is_exported_classifier(folder) -> bool:
    """Whether a folder is a classification variant's merged export (its tuneforge-export.json says so)."""
    from tuneforge.export.merge import read_export_record

    return Path(folder).is_dir() and read_export_record(folder).get("variant_type") == "classification"


def load_exported_classifier(folder) -> Classifier:
    """A merged classification export as a ready Classifier, from the folder's files alone: the labels,
    temperature, pooling, input format and fusion come from tuneforge-export.json, not from the source run."""
    from tuneforge.export.merge import read_export_record
    from tuneforge.models.classifier import load_head_model
    from tuneforge.models.encoder import is_encoder_dir, load_encoder_tokenizer
    from tuneforge.models.fusion import load_fusion
    from tuneforge.models.load import load_tokenizer

    record = read_export_record(folder)
    encoder = is_encoder_dir(folder)
    tok = load_encoder_tokenizer(folder) if encoder else load_tokenizer(folder)
    labels = list(record["labels"])
    # Exports written before the record carried the input format: an encoder reads [CLS] text [SEP], a decoder
    # the text alone, as training does (train/classification.py).
    special_tokens = bool(record.get("special_tokens", encoder))
    return Classifier(load_head_model(folder, len(labels), tok.pad_token_id).eval(), tok, labels,
                      float(record.get("temperature") or 1.0), record.get("pooling", "last"), special_tokens,
                      load_fusion(folder, record))


def classifier_parity(reference: Classifier, folder: Path, prompts: list[list[dict]]) -> ParityReport:
    """The exported folder, loaded as a runtime loads it, against the run on sample inputs (fused when the run
    is, from the exported files)."""
    exported = load_exported_classifier(folder)
    texts = [classifier_input(p) for p in prompts]
    mismatches = []
    for text, (a, _), (b, _) in zip(texts, reference.predict(texts), exported.predict(texts)):
        if a != b:
            mismatches.append({"input": text, "run": a, "exported": b})
    return ParityReport("merged-classifier", len(texts), len(texts) - len(mismatches), mismatches)
