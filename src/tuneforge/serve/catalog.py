"""What a server serves: each `--model` (a run folder, a registry reference or a base model) mapped to an
engine and an adapter. Variants that share a base share one engine, so the base is in memory once; a full
fine-tune has whole weights of its own and gets an engine of its own.

A request's `model` may be a served id (`invoice-coder:3`, a run folder's name, a base name) or a registry
reference that points at a served version (`invoice-coder`, `invoice-coder@production`), looked up per request
so a promotion or rollback takes effect without a restart when the new version is loaded.

Models can be added and removed while the server runs (`Catalog.add`, `Catalog.remove`): the jobs API serves a
fine-tuned model the moment its job succeeds. An entry may belong to an owner (`ServedModel.owner`); it is then
listed and resolved only for that owner and admins (see serve/principal.py), everyone else gets "unknown model".
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tuneforge.models.answer_grammar import learned_answer_format
from tuneforge.models.classifier import is_classifier, is_classifier_dir, is_encoder_run
from tuneforge.models.resolve import base_display_name, resolve_base
from tuneforge.models.variant import has_own_weights
from tuneforge.run_record import is_run_dir, read_run
from tuneforge.serve.principal import current_principal


class UnknownModel(LookupError):
    pass


@dataclass
class ServedModel:
    id: str
    kind: str  # "variant" or "base"
    base_id: str
    run_path: str | None
    system_prompt: str | None
    created: int
    engine: object = None
    adapter: str = "__base__"
    owner: str | None = None  # None: every caller may use it; else its owner and admins only
    # A classification variant's label scorer (serve/labels.py); None for generative models.
    labeler: object = None
    # An extraction variant's answer format when a request brings none: the grammar of the keys learned from
    # its training answers (run.json data.answer_schema), see models/answer_grammar.py.
    answer_format: object = None  # an AnswerFormat (models/answer_grammar.py)
    # The registry version this entry serves when its id is another name (a fine-tuning job's `ft:` model is the
    # registry's `ft-<job>:1`): traffic is logged under it, so monitor, review and retrain see one name.
    variant_ref: str | None = None
    own_weights: bool = False  # a full fine-tune: its engine holds its own weights and serves nothing else

    @property
    def traffic_variant(self) -> str:
        return self.variant_ref or self.id

    def visible(self) -> bool:
        who = current_principal()
        return who is None or who.can_see(self.owner)


def _registry():
    from tuneforge.registry.store import Registry

    return Registry()


def variant_entry(model_id: str, run: dict, run_path: str | Path, **served) -> ServedModel:
    """What a run folder is served as, whether named at start-up (`plan`) or added while serving (`Catalog.add`):
    prompted with its trained system prompt, answering in its learned format."""
    return ServedModel(model_id, "variant", run["base"]["name"], str(Path(run_path).resolve()),
                       (run.get("data") or {}).get("system_prompt"), int(time.time()),
                       answer_format=learned_answer_format(run), own_weights=has_own_weights(run), **served)


def plan(specs: list[str]) -> list[ServedModel]:
    """Decide what to serve without loading weights (so bad names fail fast, before minutes of loading)."""
    entries: dict[str, ServedModel] = {}
    now = int(time.time())
    registry = None
    for spec in specs:
        if is_run_dir(spec):
            run, served_id, run_path = read_run(spec), Path(spec).resolve().name, str(Path(spec).resolve())
        else:
            registry = registry or _registry()
            variant = registry.find(spec)
            if variant is None:
                entries.setdefault(base_display_name(spec), ServedModel(base_display_name(spec), "base", spec, None, None, now))
                continue
            run, served_id, run_path = read_run(variant.run_path), variant.ref, variant.run_path
        base = run["base"]["name"]
        entries[served_id] = variant_entry(served_id, run, run_path)
        # The base is served beside its adapters for free: they share its engine. Not beside a full fine-tune, whose
        # engine holds its own weights (a second whole model in memory), nor a sentence encoder, which has no
        # language-model head to chat with; `--model BASE` serves it when wanted.
        if not is_encoder_run(run) and not has_own_weights(run):
            entries.setdefault(base_display_name(base), ServedModel(base_display_name(base), "base", base, None, None, now))
    return list(entries.values())


def _attach_labelers(entries: list[ServedModel], engine_options: dict) -> None:
    """Classification variants answer through their head (serve/labels.py's hook), not a generative engine."""
    for e in entries:
        if e.kind == "variant" and is_classifier_dir(e.run_path):
            from tuneforge.serve.classify import ClassifierLabeler

            e.labeler = ClassifierLabeler(e.run_path, **engine_options)


class Catalog:
    def __init__(self, entries: list[ServedModel], engines: list, engine_options: dict | None = None):
        self.entries = {e.id: e for e in entries}
        self.engines = engines
        self.engine_options = engine_options or {}  # for engines that `add` starts for a base not loaded yet
        self._registry = None
        self._changing = threading.Lock()  # add/remove are serialised; readers see a whole dict either way
        self.aliases: dict[str, str] = {}  # registry reference -> the served id it last resolved to
        self.follower = None  # serve/follow.py sets it when the server follows the registry

    @classmethod
    def load(cls, specs: list[str], **engine_options) -> "Catalog":
        entries = plan(specs)
        _attach_labelers(entries, engine_options)
        catalog = cls(entries, [], engine_options)
        by_base: dict[str, list[ServedModel]] = {}
        bases: dict[str, str] = {}
        for e in entries:
            if e.labeler is not None:
                continue
            if e.own_weights:
                e.engine = catalog._start_engine(e.run_path, None)  # its folder is a whole model
                e.adapter = e.engine.adapter_for(None)
                continue
            key = base_display_name(e.base_id)
            by_base.setdefault(key, []).append(e)
            if e.kind == "base" or key not in bases:
                bases[key] = e.base_id
        for key, members in by_base.items():
            engine = catalog._start_engine(resolve_base(bases[key]).path,
                                           {e.id: e.run_path for e in members if e.kind == "variant"})
            for e in members:
                e.engine = engine
                e.adapter = engine.adapter_for(e.id if e.kind == "variant" else None)
        return catalog

    def _start_engine(self, path: str, variants: dict[str, str] | None):
        """An engine for a base and its adapters, or (`variants` None) for a full fine-tune's own weights."""
        from tuneforge.serve.engine import Engine

        engine = Engine(path, variants, **self.engine_options)
        self.engines.append(engine)
        return engine

    def list(self) -> list[ServedModel]:
        return [e for e in self.entries.values() if e.visible()]

    def add(self, model_id: str, run_path: str | Path, owner: str | None = None,
            variant_ref: str | None = None) -> ServedModel:
        """Serve a run folder as `model_id` from now on, without a restart. Thread-safe.

        A LoRA adapter joins the engine of its base when that base is loaded (one copy of the base in memory);
        otherwise a new engine loads the base. A full fine-tune gets an engine of its own weights. Raises
        ValueError if `model_id` is already served.
        """
        run = read_run(run_path)
        key = base_display_name(run["base"]["name"])
        with self._changing:
            if model_id in self.entries:
                raise ValueError(f"{model_id}: already served")
            if is_classifier(run):  # a classification variant brings its own head
                from tuneforge.serve.classify import ClassifierLabeler

                entry = variant_entry(model_id, run, run_path, owner=owner, variant_ref=variant_ref,
                                      labeler=ClassifierLabeler(str(run_path), **self.engine_options))
                self.entries = {**self.entries, model_id: entry}
                return entry
            entry = variant_entry(model_id, run, run_path, owner=owner, variant_ref=variant_ref)
            engine = None if entry.own_weights else next(
                (e.engine for e in self.entries.values()
                 if e.engine is not None and base_display_name(e.base_id) == key and not e.own_weights), None)
            if entry.own_weights:
                entry.engine = self._start_engine(str(run_path), None)
                entry.adapter = entry.engine.adapter_for(None)
            elif engine is None:
                entry.engine = self._start_engine(resolve_base(entry.base_id).path, {model_id: str(run_path)})
                entry.adapter = entry.engine.adapter_for(model_id)
            else:
                entry.engine, entry.adapter = engine, engine.add_adapter(model_id, run_path)
            self.entries = {**self.entries, model_id: entry}  # a new dict: readers never see it half-changed
        return entry

    def remove(self, model_id: str) -> ServedModel:
        """Stop serving a variant and unload its adapter (its base stays). Thread-safe; KeyError if not served."""
        with self._changing:
            entry = self.entries[model_id]
            if entry.kind != "variant":
                raise ValueError(f"{model_id}: a base model cannot be removed while the server runs")
            self.entries = {k: v for k, v in self.entries.items() if k != model_id}
        if entry.own_weights:
            self._drop_engine(entry.engine)
        elif entry.engine is not None:
            entry.engine.remove_adapter(model_id)
        return entry

    def _drop_engine(self, engine) -> None:
        engine.close()
        engine.model = None
        self.engines = [e for e in self.engines if e is not engine]

    def detach(self, model_id: str) -> ServedModel | None:
        """Stop listing and resolving a variant but keep it loaded, so requests already holding it finish; a
        registry reference that last resolved to it resolves afresh. None if it is not served."""
        with self._changing:
            entry = self.entries.get(model_id)
            if entry is None or entry.kind != "variant":
                return None
            self.entries = {k: v for k, v in self.entries.items() if k != model_id}
            for alias, target in list(self.aliases.items()):
                if target == model_id:
                    self.aliases.pop(alias, None)
        return entry

    def unload(self, entry: ServedModel) -> bool:
        """Free a detached variant's memory; True once it is gone. Its adapter leaves the engine between two
        batches once no queued request names it (engine.retire_adapter; False until then: ask again); a full
        fine-tune's own engine stops once it has no request in hand or queued (engine.retire). A classifier
        goes with the entry (a request still holding it finishes, then the memory is released)."""
        if entry.own_weights:  # its engine serves nothing else: it stops once its last request is answered
            entry.engine.retire()
            if entry.engine.retired:
                self.engines = [e for e in self.engines if e is not entry.engine]
            return entry.engine.retired
        if entry.engine is not None:
            if entry.id in entry.engine.adapters:
                entry.engine.retire_adapter(entry.id)
            return entry.id not in entry.engine.adapters
        if entry.labeler is not None:
            entry.labeler.close()
        return True

    def resolve(self, model_id: str) -> ServedModel:
        entry = self.entries.get(model_id)
        if entry is not None and entry.visible():
            return entry
        if entry is not None:  # another owner's model: as unknown as one that does not exist
            raise UnknownModel(f"The model `{model_id}` does not exist.")
        self._registry = self._registry or _registry()
        variant = self._registry.find(model_id)
        served = self.serving(variant.ref) if variant is not None else None
        if served is not None and served.visible():
            self.aliases[model_id] = served.id
            return served
        if served is not None:  # another owner's variant: never loaded again as a public copy
            raise UnknownModel(f"The model `{model_id}` does not exist.")
        if variant is not None and self.follower is not None:
            # The registry moved to a version still loading: keep answering with the one served so far.
            self.follower.wanted(variant)
            previous = self.entries.get(self.aliases.get(model_id, ""))
            if previous is not None and previous.visible():  # aliases are shared: never another owner's model
                return previous
        if variant is not None:
            raise UnknownModel(f"The model `{model_id}` is {variant.ref} in the registry, which this server has not "
                               f"loaded; restart it with --model {variant.ref}")
        raise UnknownModel(f"The model `{model_id}` does not exist. Served models: "
                           f"{', '.join(e.id for e in self.list())}")

    def serving(self, ref: str) -> ServedModel | None:
        """The entry that serves registry version `ref`: under its own id, or under another (a job's `ft:` id)."""
        entries = self.entries
        return entries.get(ref) or next((e for e in entries.values() if e.variant_ref == ref), None)

    def close(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        for engine in self.engines:
            engine.close()
