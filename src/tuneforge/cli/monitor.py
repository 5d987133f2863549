"""`tuneforge feedback | review | monitor | retrain | traffic`: the maintenance cycle of a served variant."""

from __future__ import annotations

import json
from typing import Optional

import typer

from tuneforge.errors import UserError

traffic_app = typer.Typer(help="List, export and expire logged traffic.", no_args_is_help=True)


def feedback(
    request_id: str = typer.Argument(..., help="The response id (chatcmpl-...) the feedback is about."),
    correct_output: Optional[str] = typer.Option(None, "--correct-output", help="The answer that was right."),
    rating: Optional[int] = typer.Option(None, "--rating", help="+1/-1, or a 1-5 score."),
    comment: Optional[str] = typer.Option(None, "--comment", help="Free text."),
):
    """Record feedback on one served answer (the same as POST /v1/feedback)."""
    from tuneforge.config import FeedbackBody, build_config
    from tuneforge.monitor.feedback import FeedbackStore, UnknownRequest

    body = build_config(FeedbackBody, {"id": request_id, "correct_output": correct_output, "rating": rating,
                                       "comment": comment}, source="feedback")
    store = FeedbackStore()
    try:
        saved = store.add(body.id, body.correct_output, body.rating, body.comment, source="cli")
    except UnknownRequest as err:
        raise UserError(str(err), field="id", hint="ids are in `tuneforge traffic list`") from None
    finally:
        store.close()
    typer.echo(f"feedback {saved.id} stored for {saved.request_id} ({saved.variant})")


def _ask(item, index: int, total: int) -> tuple[str, str | None]:
    """One item: Enter accepts, a number picks a label, e edits, s skips, q quits."""
    typer.echo(f"\n[{index}/{total}] {item.reason}  {item.variant}  {item.request_id}"
               + (f"  confidence {item.confidence:.2f}" if item.confidence is not None else ""))
    typer.echo(f"  input : {item.input}")
    typer.echo(f"  answer: {item.answer}" + (f"   (second opinion: {item.second_opinion})"
                                              if item.second_opinion and item.second_opinion != item.answer else ""))
    if item.labels:
        typer.echo("  " + "  ".join(f"{i}:{lab}" for i, lab in enumerate(item.labels, 1)))
    key = typer.prompt("  Enter=accept, number=label, e=edit, s=skip, q=quit", default="", show_default=False).strip()
    if key == "":
        return "accept", item.answer
    if key.isdigit() and item.labels and 1 <= int(key) <= len(item.labels):
        return "correct", item.labels[int(key) - 1]
    if key == "e":
        return "correct", typer.prompt("  correct answer")
    if key == "q":
        return "quit", None
    return "skip", None


def review(
    variant: str = typer.Argument(..., help="Registered name or version (invoice, invoice:2)."),
    limit: int = typer.Option(20, "--limit", help="Items to review."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random sample."),
):
    """Review the answers most worth a look: invalid, least confident, disputed, plus a random sample.

    Keyboard only: Enter accepts the answer, a number picks a label, e types the right answer, s skips, q quits.
    Each decision is stored as feedback (accepting counts as a correct answer)."""
    from tuneforge.monitor.feedback import FeedbackStore
    from tuneforge.monitor.review_queue import build_queue

    items = build_queue(variant, limit=limit, seed=seed)
    if not items:
        typer.echo("nothing to review")
        return
    store = FeedbackStore()
    done = corrected = 0
    try:
        for i, item in enumerate(items, 1):
            action, answer = _ask(item, i, len(items))
            if action == "quit":
                break
            if action == "skip":
                continue
            store.add(item.request_id, correct_output=answer, source=f"review:{item.reason}")
            done += 1
            corrected += action == "correct" and answer != item.answer
    finally:
        store.close()
    typer.echo(f"reviewed {done}, corrected {corrected}")


def print_summary(summary: dict, alerts: list[str]) -> None:
    from tuneforge.monitor.display import window_rows

    w = summary.get("latest") or {}
    typer.echo(f"{summary['variant']}: {summary['requests']} requests, {summary['corrections']} corrected; "
               f"latest window of {w.get('requests', 0)} (95% intervals in brackets):")
    for k, v in window_rows(w):
        typer.echo(f"  {k:38s} {v}")
    for a in alerts:
        typer.echo(f"  ALERT: {a}")


def monitor(
    variant: str = typer.Argument(..., help="Registered name or version (invoice, invoice@production)."),
    policy: Optional[str] = typer.Option(None, "--policy", help="Policy YAML (default: TUNEFORGE_HOME/monitor/NAME/policy.yaml)."),
    html: Optional[str] = typer.Option(None, "--html", help="Also write the charts over time to this HTML file."),
    score: bool = typer.Option(True, "--score/--no-score", help="Score unscored answers against the label set."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
):
    """Volume, latency, errors, validity, drift, confidence and accuracy (estimated and reviewed) over time;
    alerts from the policy, and a retrain when the policy says auto_retrain."""
    from tuneforge.monitor.cycle import run_cycle
    from tuneforge.monitor.policy import policy_for

    result = run_cycle(variant, policy_for(variant, policy), score=score, html=html,
                       log=lambda m: typer.echo(m, err=True))
    if as_json:
        typer.echo(json.dumps(result.summary, indent=2, default=str))
    else:
        print_summary(result.summary, result.verdict.alerts)
        typer.echo(f"retrain: {'yes' if result.verdict.retrain else 'no'} ({result.verdict.reason})")
    if result.html_path:
        typer.echo(f"report: {result.html_path}")


def retrain(
    variant: str = typer.Argument(..., help="Registered name; its production version is the parent."),
    policy: Optional[str] = typer.Option(None, "--policy", help="Policy YAML (gate margins, step cap)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Cap the retrain's optimizer steps."),
):
    """Previous data + corrections -> new dataset version -> same recipe -> gate against production -> promote."""
    from tuneforge.monitor.policy import policy_for
    from tuneforge.monitor.retrain import retrain as run

    pol = policy_for(variant, policy)
    if max_steps is not None:
        pol.retrain_max_steps = max_steps
    result = run(variant.split("@")[0].split(":")[0], pol, log=typer.echo)
    typer.echo(f"report: {result.folder / 'report.md'}")
    if not result.promoted:
        raise typer.Exit(1)


@traffic_app.command("list")
def traffic_list(
    variant: Optional[str] = typer.Option(None, "--variant", help="A name (every version) or one version."),
    since: Optional[str] = typer.Option(None, "--since", help="ISO time, e.g. 2026-11-01."),
    status: Optional[int] = typer.Option(None, "--status", help="HTTP status, e.g. 200 or 500."),
    corrected: bool = typer.Option(False, "--corrected", help="Only requests with a correction."),
    limit: int = typer.Option(50, "--limit"),
):
    """Newest first: time, id, variant, status, latency, answer (and correction)."""
    from tuneforge.monitor.feedback import response_text
    from tuneforge.monitor.request_inputs import input_text
    from tuneforge.monitor.traffic_query import query

    for r in query(variant, since, status, corrected, limit):
        fix = f"  -> {r['correct_output']!r}" if r.get("correct_output") is not None else ""
        text = input_text(r) if r.get("request_json") else ""
        typer.echo(f"{r['at']}  {r['request_id']}  {r['variant']}  {r['status']}  {r['latency_ms'] or 0:.0f}ms  "
                   f"{text[:50]!r} => {(response_text(r) or '')[:40]!r}{fix}")


@traffic_app.command("export")
def traffic_export(
    out: str = typer.Argument(..., help="JSONL file to write (training format)."),
    variant: Optional[str] = typer.Option(None, "--variant"),
    since: Optional[str] = typer.Option(None, "--since"),
    corrected: bool = typer.Option(False, "--corrected", help="Only requests with a correction."),
):
    """Export traffic as training data: {"messages": [...]}, a correction replacing the model's answer."""
    from tuneforge.monitor.traffic_query import export_jsonl, query

    n = export_jsonl(query(variant, since, 200, corrected, None), out)
    typer.echo(f"wrote {n} examples to {out}")


@traffic_app.command("prune")
def traffic_prune(days: int = typer.Option(..., "--older-than-days", help="Delete traffic older than this.")):
    """Delete old traffic and the feedback on it (also done by `monitor` when the policy sets retention_days)."""
    from tuneforge.monitor.traffic_query import prune

    typer.echo(f"deleted {prune(days)} requests older than {days} days")


def register(app: typer.Typer) -> None:
    app.command("feedback", epilog="Example:  tuneforge feedback chatcmpl-1a2b --correct-output travel")(feedback)
    app.command("review", epilog="Example:  tuneforge review invoice --limit 30")(review)
    app.command("monitor", epilog="Example:  tuneforge monitor invoice --html monitor.html")(monitor)
    app.command("retrain", epilog="Example:  tuneforge retrain invoice --max-steps 60")(retrain)
    app.add_typer(traffic_app, name="traffic")
