"""Writes the "Sync" section at the end of BENCHMARKS.md from bench/sync's results
(target/bench/sync.jsonl), replacing the one a previous run wrote.

    python3 bench/sync_report.py RESULTS.jsonl BENCHMARKS.md PAGE
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

MARK = "\n## Sync\n"


def main() -> None:
    every: dict[str, list[dict]] = {}
    for line in Path(sys.argv[1]).read_text().splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            every.setdefault(r["bench"], []).append(r)
    # Per run and column, the median of the rounds.
    runs = {name: {k: (statistics.median(r[k] for r in rs) if isinstance(rs[0][k], (int, float)) else rs[0][k])
                   for k in rs[0]} for name, rs in every.items()}
    rounds = max((len(rs) for rs in every.values()), default=0)
    out, page = Path(sys.argv[2]), int(sys.argv[3])
    n = int(next(iter(runs.values()))["n"]) if runs else 0
    lines = [MARK.strip("\n"), "",
             f"Produced by `bench/sync` (run at the end of `bench/run`): `runtel sync DomainCDR` of {n:,} "
             f"seeded call records from a release-built `runtel-sim` on loopback, pages of {page:,}, "
             "into SQLite (a new file) and PostgreSQL 15 (the throwaway server of `scripts/with-postgres`, "
             "fsync off), against what users write today in Python: `requests` with limit/offset pages, "
             "then `sqlite3` `executemany` or `psycopg` `COPY`, same columns plus the record as JSON. "
             "CPU and peak RSS are the syncing process's own (the simulator runs apart). "
             f"Medians of {rounds} interleaved rounds.",
             "",
             "| run | records/s | wall s | CPU s | peak RSS MiB |",
             "|---|---:|---:|---:|---:|"]
    for name in ["runtel-sqlite", "python-sqlite", "runtel-postgres", "python-postgres"]:
        r = runs.get(name)
        if r:
            lines.append(f"| {name} | {round(r['per_s']):,} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
                         f"{r['peak_rss_mib']:.1f} |")

    def get(name: str, key: str):
        return runs.get(name, {}).get(key)

    lines += ["", "| target | measured | met |", "|---|---:|:---:|"]
    for name, label, goal in [("runtel-sqlite", "SQLite ≥ 100,000 records/s", 100_000),
                              ("runtel-postgres", "PostgreSQL ≥ 50,000 records/s", 50_000)]:
        v = get(name, "per_s")
        lines.append(f"| {label} | {v if v is None else f'{round(v):,}'} | "
                     f"{'–' if v is None else ('yes' if v >= goal else '**no**')} |")
    for kind in ["sqlite", "postgres"]:
        a, b = get(f"runtel-{kind}", "cpu_s"), get(f"python-{kind}", "cpu_s")
        if a and b:
            lines.append(f"| CPU against the Python baseline ({kind}) | {a / b:.2f}× | – |")
    lines.append("")
    doc = out.read_text() if out.exists() else "# Benchmarks\n"
    if MARK in doc:
        doc = doc[: doc.index(MARK)]
    notes = Path(__file__).with_name("SYNC_NOTES.md")
    extra = ("\n" + notes.read_text()) if notes.exists() else ""
    out.write_text(doc.rstrip("\n") + "\n" + "\n".join(lines) + extra)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
