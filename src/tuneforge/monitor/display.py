"""One window's numbers as (name, text) rows, each with its interval or its test: the terminal summary and the
HTML report print the same rows (a web page can too), so a number never appears anywhere without them."""

from __future__ import annotations

from tuneforge.monitor.intervals import fmt_interval


def _p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2g}"


def _psi(test: dict | None) -> str:
    if not test or test.get("value") is None:
        return "-"
    return (f"{test['value']:.3g} (permutation p = {_p(test.get('p_value'))}, same-distribution 95% threshold "
            f"{test['threshold']:.3g}; n = {test['n_reference']} vs {test['n_current']})")


def window_rows(w: dict) -> list[tuple[str, str]]:
    """The latest window's figures, each with a 95% interval or the test behind it and its sample sizes."""
    if not w:
        return []
    volume, latency = w.get("volume") or {}, w.get("latency") or {}
    error, valid = w.get("error") or {}, w.get("valid") or {}
    est, meas = w.get("estimated_accuracy") or {}, w.get("measured_accuracy") or {}
    adj = w.get("estimated_accuracy_adjusted") or {}
    ld, lt, dom = w.get("label_drift") or {}, w.get("length_test") or {}, w.get("domain") or {}
    rows = [
        ("requests", f"{w.get('requests', 0)}" + (f"; {fmt_interval(volume)} per hour (Poisson exact)"
                                                   if volume.get("value") is not None else "")),
        ("latency p50 ms (bootstrap)", f"{fmt_interval(latency.get('p50'))} (n = {latency.get('n', 0)})"),
        ("latency p95 ms (bootstrap)", fmt_interval(latency.get("p95"))),
        ("error rate (Wilson)", f"{fmt_interval(error, pct=True)} ({error.get('k', 0)} of {error.get('n', 0)})"),
        ("valid answers (Wilson)", f"{fmt_interval(valid, pct=True)} ({valid.get('k', 0)} of {valid.get('n', 0)})"),
        ("estimated accuracy (CBPE)", f"{fmt_interval(est, pct=True)} (n = {est.get('n', 0)})"),
        *([("estimated accuracy, reviewed new category taken out", f"{fmt_interval(adj, pct=True)} (new-category "
            f"share of random reviews {adj['new_category_share'].get('k', 0)} of {adj['new_category_share']['n']})")]
          if adj.get("new_category_share") else []),
        ("measured accuracy (reviewed, Wilson)", f"{fmt_interval(meas, pct=True)} (n = {meas.get('n', 0)})"),
        ("mean confidence (bootstrap)", fmt_interval(w.get("confidence"), pct=True)),
    ]
    if ld:
        new = f"; new: {', '.join(ld['new_categories'])}" if ld.get("new_categories") else ""
        against = ld.get("reference") or f"training labels (n = {ld['n_reference']})"
        rows.append(("label drift", f"Jensen-Shannon {ld['js_distance']:.3g}; chi-square p = {_p(ld.get('p_value'))} "
                                    f"(n = {ld['n_reference']} reference vs {ld['n_current']} answers){new}"))
        rows.append(("label drift reference", against))
        fresh = w.get("new_labels_reviewed") or {}
        rows.append(("new labels in reviews (distinct inputs)",
                     ", ".join(f"{k}: {v}" for k, v in fresh.items()) if fresh else "none"))
    rows += [
        ("input length PSI", _psi(w.get("length_psi_test"))),
        ("input length test", f"{lt.get('test') or '-'} " + (f"p = {_p(lt.get('p_value'))}" if lt.get("p_value")
                                                              is not None else f"distance {lt.get('distance')}")
         + f" (n = {lt.get('n_reference', 0)} vs {lt.get('n_current', 0)})"),
        ("vocabulary PSI", _psi(w.get("vocabulary_psi_test"))),
        ("domain classifier ROC AUC", (f"{dom['auc']:.3g} [{dom['ci'][0]:.3g}-{dom['ci'][1]:.3g}] "
                                       f"(Hanley-McNeil; n = {dom['n_reference']} vs {dom['n_current']} distinct)")
         if dom.get("auc") is not None else "-"),
    ]
    return rows
