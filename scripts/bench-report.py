#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench's report: bench.csv (pnalloc_bench.ko's rows) into
linux-alloc-bench CSVs per side and workload, a table of pnalloc/kernel
ratios with the targets, and PNG plots.

    bench-report.py <vm output dir>

Every figure is the median over the measured rounds (the warm-up round is
not in the CSV), with the min-max range of the rounds.
"""
import csv
import os
import statistics
import sys
from collections import defaultdict

LAB_COLS = ["order", "x", "iteration", "allocs", "get_min", "get_avg", "get_max",
            "put_min", "put_avg", "put_max"]


def load(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def med(rows, col):
    vals = [float(r[col]) for r in rows]
    return statistics.median(vals), min(vals), max(vals)


def main():
    out = sys.argv[1]
    rows = load(os.path.join(out, "bench.csv"))
    env = open(os.path.join(out, "bench-env.txt")).read().strip()
    mode = env.splitlines()[0].split(": ", 1)[1]
    labdir = os.path.join(out, "bench")
    os.makedirs(labdir, exist_ok=True)

    groups = defaultdict(list)
    for r in rows:
        groups[(r["side"], r["workload"])].append(r)
    for (side, w), rs in groups.items():
        with open(os.path.join(labdir, f"{w}-{side}.csv"), "w", newline="") as f:
            wr = csv.writer(f)
            wr.writerow(LAB_COLS)
            for r in rs:
                wr.writerow([r[c] for c in LAB_COLS])

    frag = defaultdict(list)
    for r in rows:
        if r["workload"] == "frag":
            # get_max is the share of fully free frames in 1/10000
            frag[r["side"]].append((int(r["iteration"]), int(r["get_max"]) / 100.0,
                                    int(r["allocs"])))
    rows = [r for r in rows if r["workload"] != "frag"]

    # (workload, order, x) -> side -> rounds
    cells = defaultdict(lambda: defaultdict(list))
    for r in rows:
        cells[(r["workload"], int(r["order"]), int(r["x"]))][r["side"]].append(r)

    # A figure with a round missing, or one side only, is not a figure.
    reps = int(dict(l.split(": ", 1) for l in env.splitlines() if ": " in l)["reps"])
    bad = [f"{key}: " + ", ".join(f"{side} {len(sides.get(side, []))}"
                                  for side in ("pnalloc", "kernel"))
           for key, sides in sorted(cells.items())
           if any(len(sides.get(side, [])) != reps for side in ("pnalloc", "kernel"))]
    for side, pts in frag.items():
        if len(pts) < 2:
            bad.append(f"frag {side}: {len(pts)} rows")
    if bad:
        sys.exit("bench-report: rounds missing (want %d per side):\n  %s" % (reps, "\n  ".join(bad)))

    lines = [f"# make bench, {mode}", "", env, "",
             "ns per operation: median of the rounds [min-max]; ratio = pnalloc / kernel",
             ""]
    fmt = "{:<8} {:>5} {:>4}  {:>7} {:>22} {:>22} {:>6}"
    lines.append(fmt.format("workload", "order", "x", "op", "pnalloc", "kernel", "ratio"))
    ratios = {}
    for key in sorted(cells):
        w, order, x = key
        sides = cells[key]
        # nolock rows carry p50,p95,p99,max,tries in the time columns.
        if w.startswith("nolock"):
            ops = [("get_min", "p50"), ("get_avg", "p95"), ("get_max", "p99")]
        else:
            ops = [("get_avg", "get")]
        if w in ("bulk", "rand", "bulkapi"):
            ops.append(("put_avg", "put"))
        for col, name in ops:
            pm, plo, phi = med(sides["pnalloc"], col)
            km, klo, khi = med(sides["kernel"], col)
            if not km:
                sys.exit(f"bench-report: {w} order {order} x {x} {name}: the kernel's median is 0")
            ratio = pm / km
            ratios[(w, order, x, name)] = ratio
            lines.append(fmt.format(w, order, x, name, f"{pm:.0f} [{plo:.0f}-{phi:.0f}]",
                                    f"{km:.0f} [{klo:.0f}-{khi:.0f}]", f"{ratio:.2f}"))
        if w.startswith("nolock"):
            for side in ("pnalloc", "kernel"):
                rs = sides[side]
                ok = sum(int(r["allocs"]) for r in rs)
                tries = sum(int(r["put_avg"]) for r in rs)
                p99 = statistics.median(float(r["get_max"]) for r in rs)
                p50 = statistics.median(float(r["get_min"]) for r in rs)
                lines.append(f"         {w} {side} x={x}: success {100.0 * ok / tries:.2f}% "
                             f"p99/p50 {p99 / p50:.2f}")

    lines += ["", "targets (ratios measured side by side in this boot):"]

    def target(label, key, limit, le=True):
        v = ratios.get(key)
        if v is None:
            lines.append(f"  {label}: not measured")
            return
        ok = v <= limit if le else v >= limit
        lines.append(f"  {label}: {v:.2f} ({'met' if ok else 'not met'}, target {'<=' if le else '>='} {limit})")

    target("LAB-repeat order 0, 1 thread <= 0.7x", ("repeat", 0, 1, "get"), 0.7)
    for o in range(4, 9):
        target(f"LAB-repeat order {o}, 1 thread <= 0.2x", ("repeat", o, 1, "get"), 0.2)
    target("LAB-bulk order 9 alloc, 1 thread <= 0.1x", ("bulk", 9, 1, "get"), 0.1)
    xs = sorted({k[2] for k in cells if k[0] == "rand"})
    if len(xs) > 1:
        one = statistics.median(float(r["put_avg"]) for r in cells[("rand", 0, xs[0])]["pnalloc"])
        top = statistics.median(float(r["put_avg"]) for r in cells[("rand", 0, xs[-1])]["pnalloc"])
        lines.append(f"  LAB-rand free, {xs[-1]} threads / 1 thread (pnalloc) <= 2.5x: {top / one:.2f}")

    for side, pts in sorted(frag.items()):
        last = max(pts)
        lines.append(f"  LAB-frag iteration {last[0]} ({side}): {last[1]:.2f}% of 2 MiB frames "
                     f"fully free, {last[2]} pages held (target >= 50% for pnalloc; "
                     "published: buddy 0.14%, LLFree 46.6%)")

    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "bench-summary.txt"), "w") as f:
        f.write(text)
    print(text)
    plots(out, cells, mode, frag)


def plots(out, cells, mode, frag):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not found: no plots")
        return

    def series(w, x=None, order=None, col="get_avg"):
        res = {}
        for (ww, o, xx), sides in cells.items():
            if ww != w or (x is not None and xx != x) or (order is not None and o != order):
                continue
            for side, rs in sides.items():
                res.setdefault(side, []).append((o if x is not None else xx, med(rs, col)[0]))
        return {s: sorted(v) for s, v in res.items()}

    figs = []
    xs = sorted({k[2] for k in cells if k[0] == "repeat"})
    fig, axes = plt.subplots(1, len(xs), figsize=(6 * len(xs), 4), squeeze=False)
    for ax, x in zip(axes[0], xs):
        for side, pts in series("repeat", x=x).items():
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=side)
        ax.set_yscale("log")
        ax.set_xlabel("order")
        ax.set_ylabel("ns per alloc+free pair")
        ax.set_title(f"LAB-repeat, {x} thread(s), {mode}")
        ax.legend()
    figs.append((fig, "repeat-by-order.png"))

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, (w, order, col, label) in zip(axes, [("repeat", 0, "get_avg", "ns per pair, order 0"),
                                               ("rand", 0, "put_avg", "ns per free, order 0")]):
        for side, pts in series(w, order=order, col=col).items():
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=side)
        ax.set_xlabel("threads")
        ax.set_ylabel(label)
        ax.set_title(f"LAB-{w} by threads, {mode}")
        ax.legend()
    figs.append((fig, "by-threads.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    for side, pts in series("bulkapi", order=0).items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{side} alloc")
    for side, pts in series("bulkapi", order=0, col="put_avg").items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="x", ls="--", label=f"{side} free")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch")
    ax.set_ylabel("ns per page")
    ax.set_title(f"alloc_pages_bulk (page_bench04), {mode}")
    ax.legend()
    figs.append((fig, "bulkapi.png"))

    # The nolock latency CDF: per side, workload and thread count, each
    # percentile is the median of that percentile over the rounds.
    cdf_path = os.path.join(out, "nolock-cdf.csv")
    cdf = defaultdict(lambda: defaultdict(list))
    if os.path.exists(cdf_path):
        for r in load(cdf_path):
            cdf[(r["workload"], int(r["x"]), r["side"])][int(r["percentile"])].append(int(r["ns"]))
    if cdf:
        workloads = sorted({k[0] for k in cdf})
        fig, axes = plt.subplots(1, len(workloads), figsize=(6 * len(workloads), 4), squeeze=False)
        for ax, w in zip(axes[0], workloads):
            for (cw, x, side), pts in sorted(cdf.items()):
                if cw != w:
                    continue
                qs = sorted(pts)
                ax.plot([statistics.median(pts[q]) for q in qs], qs,
                        label=f"{side}, {'contended' if x > 1 else 'alone'}")
            ax.set_xscale("log")
            ax.set_xlabel("ns per alloc+free pair")
            ax.set_ylabel("percentile")
            where = "hrtimer (hardirq)" if w == "nolockirq" else "task"
            ax.set_title(f"{w}: alloc/free_pages_nolock from {where}, {mode}")
            ax.legend()
        figs.append((fig, "nolock.png"))

    if frag:
        fig, ax = plt.subplots(figsize=(6, 4))
        for side, pts in sorted(frag.items()):
            pts = sorted(pts)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=side)
        ax.set_xlabel("iteration (free 10% at random, reallocate)")
        ax.set_ylabel("% of 2 MiB frames fully free")
        ax.set_title(f"LAB-frag, order 0, {mode}")
        ax.legend()
        figs.append((fig, "frag.png"))

    pics = [(label, read_pageblocks(os.path.join(out, f"pageblocks-{label}-frag.txt")))
            for label in ("before", "after")]
    pics = [(label, nodes) for label, nodes in pics if nodes]
    if pics:
        figs.append((pageblock_picture(plt, pics, mode), "pageblocks.png"))

    for fig, name in figs:
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=100)
        print(f"plot: {os.path.join(out, name)}")


def read_pageblocks(path):
    """pnalloc/pageblocks: {nid: [(type letter, free pages), ...]} in pfn order."""
    if not os.path.exists(path):
        return {}
    nodes, nid = {}, None
    with open(path) as f:
        per_block = int(f.readline().split()[3].rstrip(";"))
        for line in f:
            words = line.split()
            if words and words[0] == "node":
                nid = int(words[1])
                nodes.setdefault(nid, [])
            elif words and nid is not None:
                nodes[nid] += [(w[0], int(w[1:]) / per_block) for w in words]
    return nodes


def pageblock_picture(plt, pics, mode):
    """One pixel per pageblock: hue by migratetype, light when free, dark when used."""
    hues = {"U": (0.8, 0.1, 0.1), "M": (0.1, 0.5, 0.1), "R": (0.1, 0.2, 0.8),
            "H": (0.8, 0.6, 0.0)}
    nids = sorted({n for _, nodes in pics for n in nodes})
    fig, axes = plt.subplots(len(nids), len(pics), figsize=(5 * len(pics), 2.5 * len(nids)),
                             squeeze=False)
    for row, nid in enumerate(nids):
        for col, (label, nodes) in enumerate(pics):
            blocks = nodes.get(nid, [])
            width = 32
            grid = [[(1.0, 1.0, 1.0)] * width for _ in range((len(blocks) + width - 1) // width)]
            for i, (t, free) in enumerate(blocks):
                h = hues.get(t, (0.0, 0.0, 0.0))
                # free 1.0 -> a pale tint, free 0.0 -> the full hue
                grid[i // width][i % width] = tuple(c + (1 - c) * 0.85 * free for c in h)
            ax = axes[row][col]
            ax.imshow(grid, interpolation="nearest", aspect="equal")
            full_free = sum(1 for _, free in blocks if free >= 1.0)
            ax.set_title(f"node {nid} {label} LAB-frag: {full_free}/{len(blocks)} "
                         "pageblocks free", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"pnalloc pageblocks (U red, M green, R blue, H yellow; pale = free), {mode}",
                 fontsize=9)
    return fig


if __name__ == "__main__":
    main()
