"""Throughput and latency over time, with the fault windows shaded: one PNG per run."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write files only
import matplotlib.pyplot as plt  # noqa: E402


def _percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def plot(events: list[dict], windows: list[dict], out: Path, title: str) -> Path:
    if not events:
        return out
    t0 = events[0]["time"]
    sec = lambda ns: (ns - t0) / 1e9  # noqa: E731
    invoked = {e["op"]: e["time"] for e in events if e["type"] == "invoke" and e.get("op")}
    ok, indet, polled = defaultdict(int), defaultdict(int), defaultdict(int)
    lat: dict[int, list[float]] = defaultdict(list)
    for e in events:
        b = int(sec(e["time"]))
        if e["f"] == "send" and e["type"] == "ok":
            ok[b] += 1
            if e["op"] in invoked:
                lat[b].append((e["time"] - invoked[e["op"]]) / 1e6)
        elif e["f"] == "send" and e["type"] in ("info", "fail"):
            indet[b] += 1
        elif e["f"] == "poll" and e["type"] == "ok" and e["process"] != "drain":
            polled[b] += len(e["value"]["msgs"])
    last = int(sec(events[-1]["time"])) + 1
    xs = list(range(last))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    ax1.plot(xs, [ok[x] for x in xs], label="sends acknowledged/s", color="tab:green")
    ax1.plot(xs, [indet[x] for x in xs], label="sends failed or indeterminate/s", color="tab:red")
    ax1.plot(xs, [polled[x] for x in xs], label="records polled/s", color="tab:blue", alpha=0.6)
    ax1.set_ylabel("operations / s")
    ax1.legend(loc="upper right", fontsize=8)
    lx = [x for x in xs if lat[x]]
    ax2.plot(lx, [_percentile(lat[x], 0.5) for x in lx], label="send latency p50", color="tab:green", marker=".")
    ax2.plot(lx, [_percentile(lat[x], 0.99) for x in lx], label="send latency p99", color="tab:orange", marker=".")
    ax2.plot(lx, [max(lat[x]) for x in lx], label="send latency max", color="tab:red", alpha=0.4)
    ax2.set_yscale("log")
    ax2.set_ylabel("ms (by completion time)")
    ax2.set_xlabel("seconds since the first operation")
    ax2.legend(loc="upper right", fontsize=8)
    colors = plt.get_cmap("tab10")
    names = sorted({w["nemesis"] for w in windows})
    for w in windows:
        c = colors(names.index(w["nemesis"]) % 10)
        for ax in (ax1, ax2):
            ax.axvspan(sec(w["start"]), sec(w["end"]), color=c, alpha=0.15, lw=0)
    handles = [matplotlib.patches.Patch(color=colors(i % 10), alpha=0.3, label=n) for i, n in enumerate(names)]
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=min(6, len(handles)), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05 if handles else 0, 1, 1))
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
