"""The in-page benchmark's report: the best of repeated runs, ratios, targets and tables.

``summarize`` turns the raw figures (page per backend, CPython, TF.js / ConvNetJS) into
ratios and the issue's targets (printed, never asserted); ``print_report`` and
``print_recipes`` print the tables ``python -m playground.bench.browser_bench`` shows.
"""

WORKLOADS = (("mlp", "MLP bench 784-256-128-10"), ("cnn", "CNN bench conv16-conv32-fc128"),
             ("digits", "digits app default (784-512-256-10, aug)"), ("gan", "GAN studio default"))
# issue 10's targets, printed beside the figures (never asserted)
TARGETS = {"mlp_vs_numpy": 5.0, "cnn_vs_numpy": 3.0, "mlp_vs_tfjs_wasm": 3.0, "cnn_vs_fastest_js": 10.0}


def keep_best(runs, key, r):
    """Keep the fastest run under ``key`` (its ``all_rates`` lists every run's figure)."""
    rate = r.get("samples_per_s")
    prev = runs.get(key)
    rates = (prev or {}).get("all_rates", []) + [rate]
    if prev is None or (rate is not None and (prev.get("samples_per_s") or 0) < rate):
        runs[key] = r
    runs[key]["all_rates"] = rates


def figure(wl, r):
    s = (f"{r['steps_per_s']:7.2f} steps/s" if wl == "gan" else f"{r['samples_per_s']:8,.0f} samples/s")
    s += f" ({r['steps']} steps, loss {r['loss_first']:.3f} -> {r['loss_last']:.3f}"
    if r.get("accuracy") is not None:
        s += f", held-out {r['accuracy']:.1%}"
    if r.get("judge"):
        s += f", judge {r['judge']['mean_max_prob']:.2f} / {r['judge']['classes']} classes"
    calls = ", ".join(f"{k} {v['calls']}" for k, v in r.get("matmul", {}).items())
    return s + f"; matmuls: {calls})"


def recipe_check(kind, c):
    got = (f"held-out {c['accuracy']:.2%}" if kind == "digits" else
           f"val loss {c['val_loss']:.3f}: {', '.join(c['names'])}" if kind == "names" else
           f"judge {c['mean_max_prob']:.3f}, {c['classes']}/10 classes")
    return (f"{c['seconds']:6.1f} s trained ({c['wall']:6.1f} s wall), step {c['steps']:5d}, "
            f"epoch {c['epochs']:5.2f}: {got}")


def print_recipes(res, say):
    say("\n| recipe (page, backend) | target | budget | met at (training s / wall s) | where it got | steps/s |")
    say("|---|---|---|---|---|---|")
    for kind, r in res["page"]["recipes"].items():
        t = r["target"]
        goal = (f">= {t['accuracy']:.0%} held-out" if kind == "digits" else
                f"val loss <= {t['val_loss']}" if kind == "names" else
                f"judge >= {t['mean_max_prob']}, >= {t['classes']} classes")
        x = r["crossed"]
        when = f"{x['seconds']:.0f} s / {x['wall']:.0f} s (step {x['steps']})" if x else "NOT met"
        last = r["final"]
        got = (f"{last['accuracy']:.2%} after {last['epochs']:.1f} epochs" if kind == "digits" else
               f"val loss {last['val_loss']:.3f} after {last['steps']} steps" if kind == "names" else
               f"{last['mean_max_prob']:.3f}, {last['classes']}/10 classes after {last['steps']} steps")
        say(f"| {kind} default ({r['backend']}) | {goal} | {r['budget']:.0f} s | {when} | {got} "
            f"| {r['steps_per_s']:.1f} |")


def _rate(r, wl):
    if not r or "error" in r:
        return None
    return r["steps_per_s"] if wl == "gan" else r["samples_per_s"]


def _x(v):
    return f"{v:.2f}x" if v else "—"


def summarize(res):
    """Ratios and targets from the raw figures (goes into the JSON and the tables)."""
    page, cpy, js = res["page"]["runs"], res["cpython"]["runs"], res["page"]["js"]
    base = page.get("numpy", {})
    table = {}
    for wl, _ in WORKLOADS:
        row = {"cpython": _rate(cpy.get(wl), wl)}
        for be, runs in page.items():
            v = _rate(runs.get(wl), wl)
            row[be] = v
            calls = {k: c["calls"] for k, c in (runs.get(wl) or {}).get("matmul", {}).items()}
            row[f"{be}_share"] = calls.get(be, 0) / max(1, sum(calls.values()))  # products it took
            row[f"{be}/numpy"] = v / _rate(base[wl], wl) if v and base.get(wl) else None
            row[f"{be}/cpython"] = v / row["cpython"] if v and row["cpython"] else None
        table[wl] = row
    best_be = {wl: max((be for be in page if page[be].get(wl)), key=lambda be: _rate(page[be][wl], wl))
               for wl in ("mlp", "cnn")}
    versus = {}
    for kind in ("mlp", "cnn"):
        ours = _rate(page[best_be[kind]][kind], kind)
        libs = {name: _rate(v.get(kind), kind) for name, v in js.items() if isinstance(v, dict)}
        trained = {k: v for k, v in libs.items() if v}
        fastest = max(trained, key=trained.get) if trained else None
        versus[kind] = {"descent": ours, "descent_backend": best_be[kind], "js": libs,
                        "vs_tfjs_wasm": ours / libs["tfjs-wasm"] if libs.get("tfjs-wasm") else None,
                        "fastest_js": fastest,
                        "vs_fastest_js": ours / trained[fastest] if fastest else None}
    best = {k: max((v for k2, v in table[k].items() if "/" in k2 and k2.endswith("/numpy")
                    and v is not None), default=None) for k in ("mlp", "cnn")}
    targets = {"mlp_vs_numpy": best["mlp"], "cnn_vs_numpy": best["cnn"],
               "mlp_vs_tfjs_wasm": versus["mlp"]["vs_tfjs_wasm"],
               "cnn_vs_fastest_js": versus["cnn"]["vs_fastest_js"]}
    return {"table": table, "versus_js": versus,
            "targets": {k: {"value": v, "target": TARGETS[k], "met": bool(v and v >= TARGETS[k])}
                        for k, v in targets.items()}}


def print_report(res, say):
    s, page = res["summary"], res["page"]
    bes = list(page["runs"])
    say("\n| workload | unit | " + " | ".join(f"page {b}" for b in bes) + " | CPython | "
        + " | ".join(f"{b}/numpy" for b in bes if b != "numpy")
        + (" | " if len(bes) > 1 else "") + " | ".join(f"page {b}/CPython" for b in bes) + " |")
    say("|---|---|" + "---|" * (2 * len(bes) + len(bes) - 1 + 1))
    for wl, label in WORKLOADS:
        row = s["table"][wl]
        unit = "steps/s" if wl == "gan" else "samples/s"
        cells = [f"{row[b]:,.1f}" if row.get(b) else "—" for b in bes]
        ratios = [_x(row.get(f"{b}/numpy")) + ("*" if not row[f"{b}_share"] else "")
                  for b in bes if b != "numpy"]
        say(f"| {label} | {unit} | " + " | ".join(cells) + f" | {row['cpython']:,.1f} | "
            + " | ".join(ratios) + (" | " if ratios else "")
            + " | ".join(f"1/{1 / row[f'{b}/cpython']:.1f}" if row.get(f"{b}/cpython") else "—"
                         for b in bes) + " |")
    if any(not s["table"][wl][f"{b}_share"] for wl, _ in WORKLOADS for b in bes if b != "numpy"):
        say("* the backend took none of this workload's products (all below its threshold): "
            "the ratio is noise between two numpy runs")
    for be in bes:
        d = page["runs"][be].get("digits")
        if d:
            say(f"digits default on page {be}: held-out {d['accuracy']:.2%} after {d['seconds']:.0f} s "
                f"({d['epochs']:.2f} epochs of the 20 the recipe runs)")
    libs = sorted({n for k in ("mlp", "cnn") for n in s["versus_js"][k]["js"]})
    say("\n| model | Descent (page, best backend) | " + " | ".join(libs)
        + " | Descent / TF.js-wasm | Descent / fastest JS |")
    say("|---|---|" + "---|" * (len(libs) + 2))
    for kind in ("mlp", "cnn"):
        v = s["versus_js"][kind]
        js = page["js"]
        cells = [f"{v['js'][n]:,.1f}" if v["js"].get(n) else
                 ("cannot train" if "cannot train" in js.get(n, {}).get(kind, {}).get("error", "") else "—")
                 for n in libs]
        say(f"| {kind.upper()} | {v['descent']:,.1f} ({v['descent_backend']}) | " + " | ".join(cells)
            + f" | {_x(v['vs_tfjs_wasm'])} | {_x(v['vs_fastest_js'])} ({v['fastest_js'] or '—'}) |")
    say("\nissue 10 targets (printed, not asserted):")
    for k, t in s["targets"].items():
        say(f"  {k:20s} {_x(t['value']):>8s}  target >= {t['target']}x  {'met' if t['met'] else 'NOT met'}")
    for be, profs in page["profiles"].items():
        for kind, p in profs.items():
            print_profile(p, f"{be} backend, {kind.upper()} step", say)
    if page["blocked"]:
        say(f"\nrefused requests to other addresses: {page['blocked']}")
    if page["console_errors"]:
        say(f"console errors: {page['console_errors']}")


def print_profile(p, what, say, shapes=None, top=10):
    """A page step's cProfile (step_profile's categories, products by shape, the functions with
    the most own time), as the bench prints it."""
    say(f"\ncProfile in the page, {what}: {p['ms_per_step']:.1f} ms/step plain, "
        f"{p['ms_per_step_profiled']:.1f} ms/step profiled ({p['steps']} steps)")
    for c in p["categories"]:
        if c["share"] >= 0.005:
            say(f"  {c['category']:22s} {c['ms_per_step']:8.2f} ms  {c['share']:6.1%}")
    say("  products by shape (ms/step, calls/step, GFLOP/s):")
    for m in p["matmul_shapes"][:shapes]:
        say(f"    {m['ms_per_step']:7.2f} {m['calls_per_step']:4.0f}  {m['gflops'] or 0:6.2f}  {m['shape']}")
    say("  top functions by own time (ms/step, calls/step):")
    for e in p["top"][:top]:
        say(f"    {e['ms_per_step']:7.2f} {e['calls_per_step']:6.0f}  {e['function']}  [{e['category']}]")
