"""Summarize which Kafka APIs and versions each client sent, from Apache Kafka's request log
(KafkaBroker(request_log=True) writes it; STREAMLET_INTEROP_API_LOG=1 with the kafka target turns it on for
the suite and prints this summary at the end).

    python tests/interop/request_summary.py path/to/requests.log
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict


def summarize(path) -> dict[str, dict[str, set[int]]]:
    """{client id (software name/version): {API name: {versions}}}, client listener only."""
    out: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    software: dict[str, str] = {}
    for line in open(path, errors="replace"):
        i = line.find("Completed request:")
        if i < 0:
            continue
        try:
            d = json.loads(line[i + len("Completed request:"):])
        except ValueError:
            continue
        if d.get("listener") != "PLAINTEXT":
            continue
        h = d["requestHeader"]
        cid = h.get("clientId") or "(none)"
        ci = d.get("clientInformation") or {}
        if ci.get("softwareName") and ci.get("softwareName") != "unknown":
            software[cid] = f"{ci['softwareName']} {ci.get('softwareVersion', '')}".strip()
        out[cid][h["requestApiKeyName"]].add(h["requestApiVersion"])
    return {(f"{cid} ({software[cid]})" if cid in software else cid): dict(apis) for cid, apis in out.items()}


def render(summary) -> str:
    lines = []
    for client in sorted(summary):
        apis = summary[client]
        lines.append(f"{client}:")
        lines.append("    " + ", ".join(f"{api} v{'/'.join(map(str, sorted(v)))}" for api, v in sorted(apis.items())))
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(summarize(sys.argv[1])))
