"""The jobs API's pieces on their own: OpenAI hyperparameters -> TrainConfig, file checks with OpenAI's error codes,
the store's cursor pages, and the catalog serving an adapter added (and removed) while it runs, per owner."""

from __future__ import annotations

import json
import threading

import pytest
from conftest import _LINES, chat_row, write_jsonl

from tuneforge.jobs.spec import CreateJob, SpecError, resolve, shown_resolved, train_values
from tuneforge.jobs.store import JobStore
from tuneforge.jobs.validate import JobError, check_file
from tuneforge.train.auto import auto_batch_size, auto_epochs, auto_lr


def _body(**kw) -> CreateJob:
    return CreateJob(model="m", training_file="file-x", **kw)


def _values(body: CreateJob) -> dict:
    return train_values(body, "base", "data.jsonl", None, "out", seed=5)


def test_auto_hyperparameters_use_tuneforges_rules_and_the_multiplier_scales_the_rate():
    rows = _examples([f"reply {i}" for i in range(40)])
    cfg, _ = resolve(_values(_body()), rows, 1.0, "base", {})
    batch = auto_batch_size(40)
    assert (cfg.batch_size, cfg.epochs, cfg.lr) == (batch, auto_epochs(40, batch), auto_lr("lora", "sft", batch))
    assert not (cfg.auto_epochs or cfg.auto_batch_size or cfg.auto_lr)  # a resumed run gets the same values
    assert cfg.eval_split == 0.0 and cfg.seed == 5 and cfg.objective == "sft"

    body = _body(method={"type": "supervised", "supervised": {"hyperparameters": {
        "n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 2.0}}})
    cfg, _ = resolve(_values(body), rows, 2.0, "base", {})
    assert (cfg.epochs, cfg.batch_size) == (3, 8)
    assert cfg.lr == pytest.approx(2 * auto_lr("lora", "sft", 8), rel=1e-3)
    assert shown_resolved(cfg, 2.0) == {"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 2.0}


def test_dpo_method_and_the_deprecated_top_level_form():
    values = _values(_body(method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.3, "n_epochs": 2}}}))
    assert values["objective"] == "dpo" and values["dpo_beta"] == 0.3 and values["epochs"] == 2
    assert _values(_body(hyperparameters={"n_epochs": 4}))["epochs"] == 4
    with pytest.raises(SpecError) as err:
        _values(_body(method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1}}},
                      hyperparameters={"n_epochs": 4}))
    assert err.value.param == "hyperparameters"
    with pytest.raises(SpecError, match="beta is a DPO"):
        _values(_body(hyperparameters={"beta": 0.2}))
    with pytest.raises(SpecError) as err:
        _values(_body(method={"type": "reinforcement"}))
    assert err.value.param == "method.type"


def test_tuneforge_extras_are_checked_by_trainconfig():
    assert _values(_body(tuneforge={"lora_r": 4, "lr": 1e-3}))["lora_r"] == 4
    assert _values(_body(tuneforge={"lr": 1e-3}))["auto_lr"] is False  # an explicit rate is kept as given
    with pytest.raises(SpecError, match="lora_rank: unknown key"):
        _values(_body(tuneforge={"lora_rank": 4}))
    with pytest.raises(SpecError, match="tuneforge.data is set by the job"):
        _values(_body(tuneforge={"data": "/etc/passwd"}))


def _examples(answers: list[str]) -> list:
    from tuneforge.data.formats import Example

    return [Example([{"role": "user", "content": f"invoice line {i}"}, {"role": "assistant", "content": a}])
            for i, a in enumerate(answers)]


def _label_rows() -> list:
    return _examples([("travel", "software", "hardware", "bank_fees")[i % 4] for i in range(60)])


def _free_text_rows() -> list:
    return _examples([f"Thank you for message {i}; a reply follows within {i % 5 + 1} days." for i in range(60)])


def test_a_job_that_leaves_the_kind_to_the_data_is_planned_as_train_plans_a_head():
    """The web app's Train page asks for `variant_type: auto`. On labels the job must train the head `tuneforge train`
    would (its measured schedule, rate and depth), not a head at the jobs API's adapter rate for text generators."""
    from tuneforge.config import TrainConfig
    from tuneforge.train.defaults import CLS_BATCH, CLS_DEPTH, CLS_LR, choose_defaults

    labels = _label_rows()
    values = _values(_body(tuneforge={"variant_type": "auto"}))
    cfg, notes = resolve(values, labels, 1.0, "base", {"variant_type": "auto"})
    assert cfg.variant_type == "classification" and notes[0].startswith("variant_type=classification")
    assert (cfg.lr, cfg.batch_size, cfg.classifier_depth) == (CLS_LR, CLS_BATCH, CLS_DEPTH)
    assert not (cfg.auto_epochs or cfg.auto_batch_size or cfg.auto_lr)
    # The job's child runs `tuneforge train --config` on this config: every field is given, nothing changes.
    child = TrainConfig(**cfg.model_dump())
    assert choose_defaults(child, labels)[0].model_dump() == child.model_dump()

    asked = _body(tuneforge={"variant_type": "auto"}, method={"type": "supervised", "supervised": {
        "hyperparameters": {"n_epochs": 5, "learning_rate_multiplier": 0.5}}})
    cfg, _ = resolve(_values(asked), labels, 0.5, "base", {"variant_type": "auto"})
    assert cfg.epochs == 5 and cfg.lr == pytest.approx(CLS_LR * 0.5)

    # Free text left to the data, or a text generator asked for: the jobs API's adapter rules, as before.
    free = _free_text_rows()
    cfg, notes = resolve(values, free, 1.0, "base", {"variant_type": "auto"})
    assert cfg.variant_type == "generative" and notes[0].startswith("variant_type=generative")
    assert cfg.lr == auto_lr("lora", "sft", cfg.batch_size)
    cfg, _ = resolve(_values(_body()), labels, 1.0, "base", {})
    assert cfg.variant_type == "generative" and cfg.lr == auto_lr("lora", "sft", cfg.batch_size)


def test_a_job_with_model_auto_gets_its_base_from_the_rows(tiny_encoder_dir, monkeypatch):
    """`model: "auto"` (the Train page's default base): labels get the sentence encoder `tuneforge train` picks with
    no --base, anything else the server's first base, which learns an adapter as every chat-base job does."""
    import tuneforge.train.encoder_defaults as encoder_defaults
    from tuneforge.jobs.spec import AUTO_BASE, choose_base

    monkeypatch.setattr(encoder_defaults, "choose_encoder", lambda texts: (str(tiny_encoder_dir), "base=ENC (why)"))
    labels = _label_rows()
    free = _free_text_rows()
    def auto(**extras):  # the job's values as the service builds them: base_for("auto") is "auto"
        return train_values(CreateJob(model=AUTO_BASE, training_file="file-x", **extras), AUTO_BASE, "data.jsonl",
                            None, "out", seed=5)

    values = auto()
    assert values["variant_type"] == "auto" and "method" not in values

    chosen, why = choose_base(values, {}, labels, "served-base")
    assert chosen["base"] == str(tiny_encoder_dir) and "method" not in chosen and why == "base=ENC (why)"
    chosen, why = choose_base(values, {}, free, "served-base")
    assert (chosen["base"], chosen["method"]) == ("served-base", "lora") and "free text" in why
    # A text generator asked for, or an explicit method, is kept; a named base is never changed.
    asked = auto(tuneforge={"variant_type": "generative"})
    assert choose_base(asked, {"variant_type": "generative"}, labels, "served-base")[0]["base"] == "served-base"
    full = auto(tuneforge={"method": "full"})
    assert choose_base(full, {"method": "full"}, free, "served-base")[0]["method"] == "full"
    assert choose_base(_values(_body()), {}, labels, "served-base") == (_values(_body()), None)


def test_a_job_trains_an_adapter_even_on_a_base_that_train_would_fine_tune_whole():
    """The server keeps every job's model as an adapter over one base: train's small-base rule must not apply."""
    from tuneforge.train.defaults import choose_defaults

    data = _free_text_rows()
    for extras, method in (({}, "lora"), ({"method": "full"}, "full")):
        values = _values(_body(tuneforge=extras))
        assert values["method"] == method  # asked for, not left to the rule (which a resolved rate also stops)
        cfg, _ = resolve(values, data, 1.0, "base", extras)
        chosen, _ = choose_defaults(cfg, data, params_of=lambda base: 135_000_000)
        assert chosen.method == method, extras


def _rows(n: int) -> list[dict]:
    texts = [(label, t) for label, ts in _LINES.items() for t in ts]
    return [chat_row(f"{t} {i}", label) for i, (label, t) in zip(range(n), texts * 5)]


def test_invalid_training_file_names_the_line(tmp_path):
    rows = _rows(12)
    rows[2] = {"messages": [{"role": "user", "content": "no answer"}]}
    path = write_jsonl(tmp_path / "blob", rows)
    with pytest.raises(JobError) as err:
        check_file(path, "file-1", "mine.jsonl", "sft", "training")
    assert err.value.code == "invalid_training_file" and err.value.param == "training_file"
    assert "line 3" in err.value.message and "mine.jsonl" in err.value.message

    with pytest.raises(JobError) as err:
        check_file(write_jsonl(tmp_path / "few", _rows(9)), "file-2", "few.jsonl", "sft", "training")
    assert err.value.code == "invalid_n_examples"
    assert len(check_file(write_jsonl(tmp_path / "ten", _rows(10)), "file-3", "t.jsonl", "sft", "training").examples) == 10
    # A small validation file is fine; chat rows for a DPO job are not.
    assert check_file(write_jsonl(tmp_path / "v", _rows(3)), "file-4", "v.jsonl", "sft", "validation").examples
    with pytest.raises(JobError) as err:
        check_file(write_jsonl(tmp_path / "d", _rows(12)), "file-5", "d.jsonl", "dpo", "training")
    assert err.value.code == "invalid_training_file" and "preference pairs" in err.value.message


def test_store_pages_with_cursors_and_filters_metadata(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    common = dict(created_at=1, model="m", base="b", training_file="file-1", seed=1, request={}, hyperparameters={},
                  status="queued", run_dir="r")
    for i in range(5):
        store.add_job(id=f"ftjob-{i}", owner="a" if i != 3 else "b", metadata={"k": str(i % 2)}, **common)
        store.add_event("ftjob-0", f"event {i}")
    rows, more = store.list_jobs("a", None, 2, None)
    assert [r["id"] for r in rows] == ["ftjob-4", "ftjob-2"] and more  # newest first, b's job left out
    rows, more = store.list_jobs("a", "ftjob-2", 2, None)
    assert [r["id"] for r in rows] == ["ftjob-1", "ftjob-0"] and not more
    assert [r["id"] for r in store.list_jobs(None, None, 10, {"k": "1"})[0]] == ["ftjob-3", "ftjob-1"]
    events, _ = store.list_events("ftjob-0", None, 10)
    assert [e["message"] for e in events] == [f"event {i}" for i in range(4, -1, -1)]
    after, _ = store.list_events("ftjob-0", events[1]["id"], 10)
    assert [e["message"] for e in after] == ["event 2", "event 1", "event 0"]
    assert store.transition("ftjob-0", ("running",), status="failed") is None  # compare-and-set
    assert store.transition("ftjob-0", ("queued",), status="running")["status"] == "running"


_KILLED_BETWEEN = """
import os, signal, sys
from tuneforge.jobs.store import JobStore

store = JobStore(sys.argv[1])
real = store.conn


class DiesBeforeTheStepIsCounted:  # kill -9 lands between the step's event and the job's last_step
    def __getattr__(self, name):
        return getattr(real, name)

    def execute(self, sql, args=()):
        if sql.startswith("UPDATE jobs SET last_step"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real.execute(sql, args)


store.conn = DiesBeforeTheStepIsCounted()
store.add_step_event("ftjob-1", 1, "Step 1/4: training loss=1.0000", {"step": 1})
"""


def test_a_steps_event_and_the_jobs_last_step_are_written_together(tmp_path):
    """A server killed after writing a step's metrics event but before counting the step reported that step again
    once restarted (the e2e kill -9 test saw step 1 twice). Both are written in one transaction now: a process killed
    between them leaves neither, and the restarted worker reports the step once."""
    import subprocess
    import sys

    store = JobStore(tmp_path / "jobs.db")
    store.add_job(id="ftjob-1", owner="a", created_at=1, model="m", base="b", training_file="file-1", seed=1,
                  request={}, hyperparameters={}, status="running", run_dir="r")
    killed = subprocess.run([sys.executable, "-c", _KILLED_BETWEEN, str(tmp_path / "jobs.db")])
    assert killed.returncode == -9
    reopened = JobStore(tmp_path / "jobs.db")  # what the restarted server reads

    def metrics_events():
        return [e["data"]["step"] for e in reopened.list_events("ftjob-1", None, 10)[0] if e["type"] == "metrics"]

    assert reopened.get_job("ftjob-1")["last_step"] == 0 and metrics_events() == []
    reopened.add_step_event("ftjob-1", 1, "Step 1/4: training loss=1.0000", {"step": 1})
    assert reopened.get_job("ftjob-1")["last_step"] == 1 and metrics_events() == [1]


def test_catalog_serves_an_adapter_added_at_runtime_and_only_to_its_owner(tiny_model_dir, tiny_variants):
    from tuneforge.serve.catalog import Catalog, UnknownModel
    from tuneforge.serve.engine import GenRequest
    from tuneforge.serve.principal import Principal, _current
    from tuneforge.chat_encoding import encode_prompt

    def answer(entry) -> str:
        done, parts = threading.Event(), []
        tok = entry.engine.tokenizer
        req = GenRequest(encode_prompt(tok, [{"role": "user", "content": "dell laptop"}]), adapter=entry.adapter,
                         max_tokens=8, temperature=0,
                         on_event=lambda kind, *a: parts.append(a[0]) if kind == "delta" else done.set())
        entry.engine.submit(req)
        assert done.wait(60)
        return "".join(parts)

    reference = Catalog.load([str(tiny_variants["beta"]), str(tiny_variants["alpha"])], max_batch=4)
    catalog = Catalog.load([str(tiny_model_dir)], max_batch=4)
    try:
        base_answer = answer(catalog.resolve(tiny_model_dir.name))
        added = catalog.add("ft:tiny:a::x", tiny_variants["beta"], owner="a")
        assert added.engine is catalog.resolve(tiny_model_dir.name).engine  # one copy of the base
        expected = answer(reference.resolve(tiny_variants["beta"].name))
        assert expected != base_answer
        assert answer(added) == expected
        second = catalog.add("ft:tiny:a::z", tiny_variants["alpha"], owner="a")  # joins the loaded adapters
        assert answer(second) == answer(reference.resolve(tiny_variants["alpha"].name)) != expected
        assert answer(added) == expected
        catalog.remove("ft:tiny:a::z")

        token = _current.set(Principal("b"))
        try:
            assert "ft:tiny:a::x" not in [e.id for e in catalog.list()]
            with pytest.raises(UnknownModel):
                catalog.resolve("ft:tiny:a::x")
        finally:
            _current.reset(token)
        token = _current.set(Principal("ops", admin=True))
        try:
            assert catalog.resolve("ft:tiny:a::x") is added
        finally:
            _current.reset(token)

        catalog.remove("ft:tiny:a::x")
        with pytest.raises(UnknownModel):
            catalog.resolve("ft:tiny:a::x")
        assert answer(catalog.resolve(tiny_model_dir.name)) == base_answer
        again = catalog.add("ft:tiny:a::y", tiny_variants["beta"], owner="a")  # a fresh adapter slot works
        assert answer(again) == expected
    finally:
        catalog.close()
        reference.close()


def test_admin_flag_on_keys(tmp_path):
    from tuneforge.serve.keys import KeyStore
    from tuneforge.serve.principal import principal_for

    keys = KeyStore(tmp_path / "keys.db")
    user, _ = keys.create("team-a")
    admin, _ = keys.create("ops", admin=True)
    assert principal_for(f"Bearer {user}", keys).owner == "team-a"
    assert not principal_for(f"Bearer {user}", keys).admin
    assert principal_for(f"Bearer {admin}", keys).admin
    assert not principal_for("Bearer tf-nope", keys).can_see("team-a")
    assert principal_for(None, None).admin  # local-only mode: the one local user sees all
    assert json.loads(json.dumps([k.admin for k in keys.list()])) == [False, True]


def test_files_are_stored_once_by_content_and_removed_when_nothing_needs_them(tmp_path):
    import io

    from tuneforge.jobs.files import FileStore, FileTooLarge

    store = JobStore(tmp_path / "jobs.db")
    files = FileStore(store, tmp_path / "files", max_bytes=100)
    with pytest.raises(FileTooLarge):
        files.save("a", "big.jsonl", io.BytesIO(b"x" * 101), "fine-tune")
    assert [p.name for p in (tmp_path / "files").rglob("*") if p.is_file()] == []  # nothing half-kept
    first = files.save("a", "d.jsonl", io.BytesIO(b'{"k": 1}\n'), "fine-tune")
    second = files.save("b", "other.jsonl", io.BytesIO(b'{"k": 1}\n'), "fine-tune")
    assert first["blob"] == second["blob"] and first["id"] != second["id"]
    assert files.path_of(first).read_bytes() == b'{"k": 1}\n'
    assert oct(files.path_of(first).stat().st_mode & 0o777) == "0o600"
    # A running job keeps its training data even after the user deletes the file.
    store.add_job(id="ftjob-1", owner="a", created_at=1, model="m", base="b", training_file=first["id"], seed=1,
                  request={}, hyperparameters={}, status="running", run_dir="r")
    files.delete(first)
    files.delete(second)
    assert files.path_of(first).is_file()
    store.update_job("ftjob-1", status="succeeded")
    files.collect(first["blob"])
    assert not files.path_of(first).exists()
    # Two owners' identical uploads share one blob: deleting one file leaves the other's content in place.
    mine = files.save("a", "mine.jsonl", io.BytesIO(b'{"k": 2}\n'), "fine-tune")
    theirs = files.save("b", "theirs.jsonl", io.BytesIO(b'{"k": 2}\n'), "fine-tune")
    files.delete(mine)
    assert files.path_of(theirs).read_bytes() == b'{"k": 2}\n'


class _ReaderCheckingStore(JobStore):
    """A store that, at every status change, reads the job as an API client would: a terminal status must come
    with its event already readable (`jobs create --follow` stops at the status and would miss a later event)."""

    seen: list[tuple[str, list[str]]]

    def transition(self, job_id, expected, event=None, **values):
        done = super().transition(job_id, expected, event=event, **values)
        if done is not None:
            messages = [e["message"] for e in self.list_events(job_id, None, 100)[0]]
            self.seen.append((done["status"], messages))
        return done


@pytest.mark.parametrize("ending", ["failed", "cancelled"])
def test_a_terminal_status_is_readable_only_with_its_event(tmp_path, ending):
    from tuneforge.jobs.worker import Worker

    store = _ReaderCheckingStore(tmp_path / "jobs.db")
    store.seen = []
    job = store.add_job(id="ftjob-1", owner="a", created_at=1, model="m", base="b", training_file="file-1", seed=1,
                        request={}, hyperparameters={}, status="queued", run_dir=str(tmp_path / "run"))
    worker = Worker(store, files=None)
    worker._release_files = lambda job: None  # no stored files in this test
    if ending == "failed":
        worker._fail(job, JobError("training_failed", "boom"))
    else:
        worker.cancel("ftjob-1")
    (status, messages), = store.seen
    assert status == ending
    assert messages[0] == ("The job failed: boom" if ending == "failed" else "Fine-tuning job cancelled")
    with pytest.raises(Exception, match="cannot be cancelled"):
        worker.cancel("ftjob-1")  # a finished job stays as it ended
    assert store.get_job("ftjob-1")["status"] == ending


def test_the_worker_trains_at_the_multiplied_rate_it_shows(tiny_model_dir):
    """The rate a job trains at is the one it reports: the worker resolves the config with the job's multiplier."""
    from conftest import _LINES, chat_row

    from tuneforge.jobs.service import JobsService

    service = JobsService(None, max_file_bytes=1_000_000)  # the worker thread is not started
    try:
        rows = "".join(json.dumps(chat_row(t, lab)) + "\n" for lab, ts in _LINES.items() for t in ts)
        file = service.files.save_bytes("a", "d.jsonl", rows.encode(), "fine-tune")
        lrs = []
        for multiplier in ("auto", 2.0):
            body = CreateJob(model=str(tiny_model_dir), training_file=file["id"], seed=1, method={
                "type": "supervised", "supervised": {"hyperparameters": {"learning_rate_multiplier": multiplier}}})
            job = service.create_job("a", body)
            service.worker._validate(service.store.get_job(job["id"]))
            done = service.store.get_job(job["id"])
            assert done["status"] == "queued", done
            lrs.append(done["config"]["lr"])
        assert done["hyperparameters"]["learning_rate_multiplier"] == 2.0
        assert lrs[1] == pytest.approx(2 * lrs[0], rel=1e-3)
    finally:
        service.store.close()


def test_file_pages_follow_the_cursor_in_both_orders(tmp_path):
    import io

    from tuneforge.jobs.files import FileStore

    store = JobStore(tmp_path / "jobs.db")
    files = FileStore(store, tmp_path / "files", max_bytes=100)
    ids = [files.save("a", f"{k}.jsonl", io.BytesIO(f'{{"k": {k}}}\n'.encode()), "fine-tune")["id"] for k in range(3)]
    for desc, expected in ((False, ids), (True, ids[::-1])):
        seen, after, more = [], None, True
        while more:  # one file a page, each page after the last one's id, as the openai client pages
            page, more = store.list_files("a", None, after, 1, desc)
            seen += [f["id"] for f in page]
            after = page[-1]["id"] if page else None
        assert seen == expected, desc


def test_an_auto_job_whose_fallback_base_fails_names_that_base(tmp_path, monkeypatch):
    """"auto" is not a model that can fail to load: the error names the base the job fell back to."""
    import tuneforge.jobs.datasets as datasets
    from tuneforge.jobs.service import JobsService

    missing = tmp_path / "gone-base"
    monkeypatch.setattr(datasets, "default_base", lambda catalog: str(missing))
    service = JobsService(None, max_file_bytes=1_000_000)  # the worker thread is not started
    try:
        rows = "".join(json.dumps(chat_row(t, lab)) + "\n" for lab, ts in _LINES.items() for t in ts)
        file = service.files.save_bytes("a", "d.jsonl", rows.encode(), "fine-tune")
        job = service.create_job("a", CreateJob(model="auto", training_file=file["id"], seed=1))
        service.worker._validate(service.store.get_job(job["id"]))
        done = service.store.get_job(job["id"])
        assert done["status"] == "failed" and done["error"]["code"] == "model_not_available", done
        assert "'gone-base' (the fallback for model 'auto')" in done["error"]["message"]
    finally:
        service.store.close()


def test_a_mid_epoch_evaluation_reaches_its_steps_metrics_event(label_data, tiny_model_dir, tmp_path, one_torch_thread):
    """A job with `tuneforge: {"eval_every": N}` evaluates every N steps. The worker polls metrics.jsonl while the
    run writes it and turns each step into one metrics event. The evaluation used to follow the step's record as a
    record of its own, seconds later: a poll in between sent the step without `valid_loss` and never again. Each
    evaluated step's loss and evaluation are now one record, so every poll sees both or neither."""
    from conftest import tiny_lora_config

    from tuneforge.jobs.worker import Worker
    from tuneforge.train.sft import train

    out = train(tiny_lora_config(label_data, tiny_model_dir, tmp_path / "run", epochs=2, eval_every=2),
                log=lambda *_: None)
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    evaluated = [r for r in records if "eval_loss" in r and "epoch_end" not in r]
    assert [r["step"] for r in evaluated] == [2, 4]  # 3 steps an epoch; each epoch's last is the epoch end's
    assert all("loss" in r and r["eval_loss"] > 0 for r in evaluated)

    # The worker reading the file a record at a time, as its polls may find it.
    store = JobStore(tmp_path / "jobs.db")
    job = store.add_job(id="ftjob-1", owner="a", created_at=1, model="m", base="b", training_file="file-1", seed=1,
                        request={}, hyperparameters={}, status="running", run_dir=str(tmp_path / "polled"),
                        total_steps=6)
    (tmp_path / "polled").mkdir()
    worker = Worker(store, files=None)
    for k in range(1, len(records) + 1):
        (tmp_path / "polled" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:k]))
        job = worker._sync_metrics(job)
    events = {e["data"]["step"]: e["data"] for e in store.list_events("ftjob-1", None, 100)[0]
              if e["type"] == "metrics" and "train_loss" in e["data"] and "total_steps" in e["data"]}
    assert sorted(events) == list(range(1, 7))
    assert sorted(s for s, data in events.items() if "valid_loss" in data) == [2, 4]
