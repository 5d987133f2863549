"""Classification variants at inference: the base model with a classification head over the run's label set.

A classification variant answers with one of its labels, never anything else (argmax over the head), and
knows how sure it is: softmax(logits / T) with the temperature T calibrated on the held-out split at training
time. train/classification.py writes the run; predict, eval, the server and export read it through this module,
so the input format the head was trained on (`classifier_input`) exists once.

run.json of such a run holds `variant_type: "classification"`, `labels` (index order of the head),
`calibration` (temperature, ECE before/after) and `input: "user_text"`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tuneforge.errors import UserError
from tuneforge.models.transformers_api import loading_quietly, peft_wrapping

VARIANT_TYPE = "classification"
INPUT_FORMAT = "user_text"  # what the head reads: the user turns' text, no system prompt, no chat template


def is_classifier(run: dict | None) -> bool:
    return bool(run) and run.get("variant_type") == VARIANT_TYPE


def is_encoder_run(run: dict | None) -> bool:
    """A classification variant fine-tuned from a sentence encoder: its base cannot generate text, so nothing
    serves that base as a chat model (serve/catalog.py)."""
    return is_classifier(run) and run.get("architecture") == "encoder"


def classifier_tokenizer(base_path: str | Path, max_seq_len: int):
    """(tokenizer, is an encoder) as a classification head of this base reads its inputs: an encoder's own
    tokenizer with its [CLS]/[SEP], or the decoder's without special tokens; at most max_seq_len tokens."""
    from tuneforge.models.encoder import is_encoder_dir, load_encoder_tokenizer
    from tuneforge.models.load import load_tokenizer

    encoder = is_encoder_dir(base_path)
    tokenizer = load_encoder_tokenizer(base_path) if encoder else load_tokenizer(base_path)
    tokenizer.model_max_length = min(tokenizer.model_max_length, max_seq_len) if encoder else max_seq_len
    return tokenizer, encoder


@dataclass
class HeadReader:
    """What a classification head on one base reads of each example: its user text (`classifier_input`) in that
    base's tokens (`classifier_tokenizer`), cut at `limit`. Training, the estimate of `data report` and `data check
    --base ENCODER` all count through this one reader, so they cannot disagree on what the head reads."""

    tokenizer: object
    encoder: bool

    @classmethod
    def of(cls, base_path: str | Path, max_seq_len: int) -> HeadReader:
        return cls(*classifier_tokenizer(base_path, max_seq_len))

    @property
    def limit(self) -> int:
        return self.tokenizer.model_max_length

    @staticmethod
    def texts(examples: list) -> list[str]:
        return [classifier_input(e.prompt_messages) for e in examples]

    def lengths(self, texts: list[str]) -> list[int]:
        """Tokens of each text before the cut at `limit` (`data check` names the rows that are longer)."""
        # verbose=False: counting a text past the limit is the point here, not the mistake transformers warns about
        return ([len(ids) for ids in self.tokenizer(texts, add_special_tokens=self.encoder, verbose=False)["input_ids"]]
                if texts else [])

    def counts(self, texts: list[str]) -> tuple[list[int], int]:
        """(tokens the head reads per text, capped at `limit`; how many texts were longer): training batches by
        these lengths and the estimate counts them."""
        lengths = self.lengths(texts)
        return [min(n, self.limit) for n in lengths], sum(n > self.limit for n in lengths)


def head_token_counts(base: str, examples: list, max_seq_len: int) -> tuple[Path, list[int], bool, str]:
    """(the base's folder, tokens a head on it reads per example, whether it is an encoder, a note on the inputs it
    cuts or ""): what the training estimate needs for a classification run that has not started (`tuneforge data
    report`)."""
    from tuneforge.models.resolve import resolve_base

    folder = resolve_base(base).path
    reader = HeadReader.of(folder, max_seq_len)
    counts, cut = reader.counts(reader.texts(examples))
    return Path(folder), counts, reader.encoder, cut_inputs_note(cut, len(counts), reader.limit)


def cut_inputs_note(cut: int, total: int, limit: int) -> str:
    """What `train` and `data report` say of the training inputs a head cuts ("" when none): it reads the first
    `limit` tokens and refuses nothing, so without this the cut goes unseen."""
    return (f"{cut} of {total} training inputs are longer than the classification head reads ({limit} tokens): "
            "it learns from their start only" if cut else "")


def prompted_base(run: dict) -> str:
    """The model the prompted baselines run on beside this variant: its own base, or, for a sentence encoder
    (which cannot be prompted), the default bundled LLM."""
    from tuneforge.models.resolve import DEFAULT_BASE

    return DEFAULT_BASE if is_encoder_run(run) else run["base"]["name"]


def classifier_input(messages: list[dict]) -> str:
    """The text a classification head reads for a conversation: its user turns, joined by blank lines.

    The head needs no instructions (the label set is in its weights), and the system prompt would only add
    tokens to every forward pass; training, predict, eval and the server all build the input here.
    """
    users = [m["content"] for m in messages if m.get("role") == "user"]
    if not users:
        raise UserError("a classification variant needs a user message to classify", field="messages")
    return "\n\n".join(users)


def load_head_model(path: str | Path, num_labels: int, pad_token_id: int, dtype: str = "float32", depth: int = 0):
    """The base (or a fully fine-tuned folder) as a sequence classifier over `num_labels`.

    Llama-family classifiers pool the last non-pad token: the config's pad id must be the tokenizer's, or every
    prediction reads the wrong position. `depth` > 0 keeps only the bottom `depth` layers (the config says so, so
    a saved or merged model loads with that many); the layers above are never read. A depth at or above the
    base's own layer count keeps them all (never adds untrained layers).
    """
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from tuneforge.models.encoder import encoder_classifier, is_encoder_dir

    if is_encoder_dir(path):  # a sentence encoder: trained whole, its head on the mean-pooled states
        return encoder_classifier(path, num_labels, dtype)
    if depth and depth >= AutoConfig.from_pretrained(str(path)).num_hidden_layers:
        depth = 0

    with loading_quietly(expected_warnings=True):  # "score.weight newly initialised" is expected for a fresh head
        model = AutoModelForSequenceClassification.from_pretrained(
            str(path), num_labels=num_labels, dtype=getattr(torch, dtype), use_safetensors=True,
            **({"num_hidden_layers": depth} if depth else {}))
    model.config.pad_token_id = pad_token_id
    return model


def head_of(model):
    """The sequence classifier itself (embeddings, layers, norm, `score`), inside a PEFT wrapper or not."""
    return model.base_model.model if hasattr(model, "peft_config") else model


def pool(states, mask, pooling: str):
    """One vector per row of `states` (batch, tokens, hidden): the mean over real tokens, or the last real token.

    Mean pooling is the default: on the invoice demo the base model's mean-pooled states separate the labels far
    better than its last token's (docs/training.md), and fine-tuning starts from there.
    """
    import torch

    if pooling == "mean":
        weights = mask.unsqueeze(-1).to(states.dtype)
        return (states * weights).sum(1) / weights.sum(1).clamp(min=1)
    last = mask.shape[1] - 1 - mask.flip(1).argmax(1)  # the last real position, for left or right padding
    return states[torch.arange(states.shape[0], device=states.device), last]


def pooled_states(model, input_ids, attention_mask, pooling: str):
    """What the head reads for a batch: the transformer (with any adapter), then pooling."""
    states = head_of(model).model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return pool(states, attention_mask, pooling)


def pooled_logits(model, input_ids, attention_mask, pooling: str):
    """Label logits for a batch: pooled_states, then the head."""
    return head_of(model).score(pooled_states(model, input_ids, attention_mask, pooling)).float()


@dataclass
class Classifier:
    model: object
    tokenizer: object
    labels: list[str]
    temperature: float = 1.0
    pooling: str = "last"
    special_tokens: bool = False  # an encoder reads [CLS] text [SEP], as in its pretraining; a decoder the text alone
    fusion: object = None  # models/fusion.Fusion: the head fused with an n-gram model (None: the head alone)
    default_system_prompt = None  # the head reads the user text only (batch predict asks every model for this)

    def logits(self, texts: list[str], batch_size: int = 32):
        """Raw head logits (n, labels), computed in length-sorted batches (less padding)."""
        import torch

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = torch.zeros((len(texts), len(self.labels)))
        device = next(self.model.parameters()).device
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for s in range(0, len(order), batch_size):
                idx = order[s: s + batch_size]
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True, return_tensors="pt",
                                       add_special_tokens=self.special_tokens)
                logits = pooled_logits(self.model, batch["input_ids"].to(device), batch["attention_mask"].to(device),
                                       self.pooling).cpu()
                out[idx] = logits
        self.model.train(was_training)
        return out

    def probabilities(self, texts: list[str], batch_size: int = 32) -> list[list[float]]:
        """Calibrated label probabilities, one row per text, in `labels` order (fused with the n-gram model when
        the variant has one: every caller, from predict to the monitor, gets the same probabilities)."""
        import torch

        if self.fusion is not None:
            return self.fusion.probabilities(self.logits(texts, batch_size).numpy(), self.temperature, texts)
        return torch.softmax(self.logits(texts, batch_size) / self.temperature, dim=-1).tolist()

    def predict(self, texts: list[str], batch_size: int = 32) -> list[tuple[str, list[float]]]:
        """(label, probabilities) per text; the label is the argmax, so always one of `labels`."""
        out = []
        for p in self.probabilities(texts, batch_size):
            out.append((self.labels[max(range(len(p)), key=p.__getitem__)], p))
        return out


def load_classifier(run_dir: str | Path, run: dict | None = None, dtype: str = "float32") -> Classifier:
    """A classification run folder as a ready Classifier (LoRA adapter + head over the base, or full weights)."""
    from tuneforge.models.encoder import load_encoder_tokenizer
    from tuneforge.models.fusion import load_fusion
    from tuneforge.models.load import load_tokenizer
    from tuneforge.models.resolve import resolve_base
    from tuneforge.run_record import read_run

    run = run or read_run(run_dir)
    if not is_classifier(run):
        raise UserError("not a classification variant (run.json has no variant_type: classification)", file=str(run_dir))
    labels = list(run["labels"])
    encoder = is_encoder_run(run)
    tokenizer = load_encoder_tokenizer(run_dir) if encoder else load_tokenizer(run_dir)
    if run.get("method") == "full":
        model = load_head_model(run_dir, len(labels), tokenizer.pad_token_id, dtype)
    else:
        from peft import PeftModel

        base = resolve_base(run["base"]["name"])
        with peft_wrapping():
            head = load_head_model(base.path, len(labels), tokenizer.pad_token_id, dtype, int(run.get("depth") or 0))
            model = PeftModel.from_pretrained(head, str(run_dir))
    model.eval()
    temperature = float((run.get("calibration") or {}).get("temperature") or 1.0)
    # The input format the head was trained on ([CLS] text [SEP] for an encoder), as training recorded it.
    return Classifier(model, tokenizer, labels, temperature, run.get("pooling", "last"),
                      bool(run.get("special_tokens")), load_fusion(run_dir, run))


def is_classifier_dir(folder: str | Path) -> bool:
    from tuneforge.run_record import is_run_dir, read_run

    return is_run_dir(folder) and is_classifier(read_run(folder))


def print_classification(clf: Classifier, text: str, probabilities: bool = False) -> None:
    """`tuneforge predict` for a classification variant: the label, then (optionally) every label's probability."""
    label, probs = clf.predict([text])[0]
    print(label)
    if probabilities:
        for p, name in sorted(zip(probs, clf.labels), reverse=True):
            print(f"  {p:7.2%}  {name}")
