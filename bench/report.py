"""Turns bench/run's JSON lines and criterion's estimates into a table of medians and
ratios, states each target as met or not, and writes BENCHMARKS.md."""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional


def load(path: str) -> Dict[str, List[dict]]:
    runs: Dict[str, List[dict]] = {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            key = r["bench"] + (f"@{r['threads']}" if "threads" in r else "")
            runs.setdefault(key, []).append(r)
    return runs


def med(runs: Dict[str, List[dict]], key: str, field: str) -> Optional[float]:
    rs = runs.get(key)
    return statistics.median(r[field] for r in rs) if rs else None


def criterion(root: Path) -> List[tuple]:
    rows = []
    for est in sorted(root.glob("*/*/new/estimates.json")):
        group, name = est.parts[-4], est.parts[-3]
        bench = json.loads((est.parent / "benchmark.json").read_text())
        ns = json.loads(est.read_text())["median"]["point_estimate"]
        tp = bench.get("throughput") or {}
        nbytes = tp.get("Bytes") or tp.get("BytesDecimal")
        rows.append((group, name, ns, (nbytes / (ns / 1e9) / 1e6) if nbytes else None))
    return rows


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    import os
    return (f"{cpu}, {os.cpu_count()} cores, {int(mem) // 1024 // 1024} GiB RAM, Linux {platform.release()}, "
            f"{rustc}, Python {platform.python_version()}")


# The size of the 100,000-CDR answer (issue 15's memory target is relative to it).
ANSWER_BYTES = 25_000_000


def main() -> None:
    runs, crit_root, out = load(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    lines: List[str] = []
    p = lines.append
    fmt = lambda v, d=1: "–" if v is None else f"{v:,.{d}f}"  # noqa: E731

    p("## 1. Per-call cost, keep-alive loopback (small `get`)\n")
    p("| client | calls/s | CPU µs/call | peak RSS MiB |")
    p("|---|---:|---:|---:|")
    names = [("ureq-calls", "hand-written ureq + serde_json (Rust floor)"), ("rust-calls", "runtel (Rust)"),
             ("c-calls", "libruntel (C)"), ("curl-calls", "hand-written libcurl (C)"),
             ("py-runtel-calls", "runtel (Python)"), ("py-requests-calls", "requests.Session + json"),
             ("py-httpx-calls", "httpx.Client + json")]
    for key, label in names:
        p(f"| {label} | {fmt(med(runs, key, 'per_s'), 0)} | {fmt(med(runs, key, 'cpu_us_per_op'))} | "
          f"{fmt(med(runs, key, 'peak_rss_mib'))} |")

    p("\n## 2. Large answer: `list` of 100,000 CDRs in one call\n")
    p("| client | seconds to usable values | CPU s | peak RSS MiB |")
    p("|---|---:|---:|---:|")
    for key, label in [("ureq-list", "ureq + serde_json `Value`"), ("rust-list", "runtel (Rust) `Value` records"),
                       ("rust-list-typed", "runtel (Rust) typed records through `Value`"),
                       ("rust-list-direct", "runtel (Rust) typed records from the bytes (`call_as`)"),
                       ("baseline-rust-list-typed", "baseline: runtel (Rust) typed records as of issue 15"),
                       ("py-runtel-list", "runtel (Python) dicts"),
                       ("py-requests-list", "requests + json"), ("py-requests-orjson-list", "requests + orjson")]:
        p(f"| {label} | {fmt(med(runs, key, 'wall_s'), 3)} | {fmt(med(runs, key, 'cpu_s'), 3)} | "
          f"{fmt(med(runs, key, 'peak_rss_mib'))} |")

    p("\n## 3. Streaming `records()` over 1,000,000 CDRs (pages of 1000)\n")
    p("| client | records/s | client CPU s | peak RSS MiB |")
    p("|---|---:|---:|---:|")
    for key, label in [("rust-stream", "runtel (Rust), next page fetched ahead"),
                       ("rust-stream-noprefetch", "runtel (Rust), `prefetch(false)`"),
                       ("rust-stream-typed", "runtel (Rust) `records_as::<DomainCdr>()`, fetched ahead"),
                       ("rust-stream-typed-noprefetch", "runtel (Rust) `records_as::<DomainCdr>()`, `prefetch(false)`"),
                       ("py-runtel-stream", "runtel (Python), next page fetched ahead"),
                       ("baseline-rust-stream", "baseline: runtel (Rust) as of issue 15"),
                       ("baseline-py-runtel-stream", "baseline: runtel (Python) as of issue 15")]:
        p(f"| {label} | {fmt(med(runs, key, 'per_s'), 0)} | {fmt(med(runs, key, 'cpu_s'), 2)} | "
          f"{fmt(med(runs, key, 'peak_rss_mib'))} |")

    p("\n## 4. Protocol alone (criterion, median)\n")
    p("| group | function | time | throughput MB/s |")
    p("|---|---|---:|---:|")
    for group, name, ns, mbs in criterion(crit_root):
        t = f"{ns / 1e3:,.2f} µs" if ns < 1e6 else f"{ns / 1e6:,.2f} ms"
        p(f"| {group} | {name} | {t} | {fmt(mbs)} |")

    p("\n## 5. Threads sharing one client (calls/s)\n")
    p("| threads | Rust | Python |")
    p("|---:|---:|---:|")
    for t in (1, 4, 16):
        p(f"| {t} | {fmt(med(runs, f'rust-threads@{t}', 'per_s'), 0)} | {fmt(med(runs, f'py-runtel-threads@{t}', 'per_s'), 0)} |")

    p("\n## 6. Async clients: `get`s from 50 tasks sharing one client (Rust 10,000, Python 1,000)\n")
    p("| client | calls/s | CPU µs/call | peak RSS MiB |")
    p("|---|---:|---:|---:|")
    for key, label in [("reqwest-calls", "hand-written reqwest + serde_json (Rust floor)"),
                       ("rust-async-calls", "runtel-async `AsyncClient` (Rust)"),
                       ("py-runtel-async-calls", "runtel.AsyncClient (Python)"),
                       ("py-httpx-async-calls", "httpx.AsyncClient + json"),
                       ("py-aiohttp-calls", "aiohttp.ClientSession + json")]:
        p(f"| {label} | {fmt(med(runs, key, 'per_s'), 0)} | {fmt(med(runs, key, 'cpu_us_per_op'))} | "
          f"{fmt(med(runs, key, 'peak_rss_mib'))} |")

    # Written by bench/instructions (callgrind), when valgrind is there.
    instructions = Path(sys.argv[1]).parent / "instructions.md"
    if instructions.exists():
        p("\n## 7. Instructions per call in user space (callgrind, `get`)\n")
        p("Counted, not timed: the same on a busy machine as on an idle one. The "
          "difference of a 1,000- and a 3,000-call run, per call (`bench/instructions`).\n")
        p(instructions.read_text().rstrip())

    def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
        return None if a is None or b is None or b == 0 else a / b

    cpu = lambda k: med(runs, k, "cpu_us_per_op")  # noqa: E731
    rate = lambda k: med(runs, k, "per_s")  # noqa: E731
    targets = [
        ("Rust runtel CPU/call ≤ 1.0× hand-written libcurl", ratio(cpu("rust-calls"), cpu("curl-calls")), lambda r: r <= 1.0),
        ("C CPU/call ≤ 1.05× Rust client", ratio(cpu("c-calls"), cpu("rust-calls")), lambda r: r <= 1.05),
        ("Python runtel CPU/call ≤ 1.2× Rust client", ratio(cpu("py-runtel-calls"), cpu("rust-calls")), lambda r: r <= 1.2),
        ("Typed 100k list CPU ≤ 0.2× the typed path as of issue 15 (baseline)",
         ratio(med(runs, "rust-list-direct", "cpu_s"), med(runs, "baseline-rust-list-typed", "cpu_s")), lambda r: r <= 0.2),
        ("Typed 100k list CPU ≤ 0.2× today's typed path through `Value` (stricter)",
         ratio(med(runs, "rust-list-direct", "cpu_s"), med(runs, "rust-list-typed", "cpu_s")), lambda r: r <= 0.2),
        ("Typed 100k list peak RSS ≤ 3× the answer (25 MB)",
         ratio(None if med(runs, "rust-list-direct", "peak_rss_mib") is None
               else med(runs, "rust-list-direct", "peak_rss_mib") * 2**20, ANSWER_BYTES), lambda r: r <= 3),
        ("Python 100k list wall ≤ 0.8× requests + orjson",
         ratio(med(runs, "py-runtel-list", "wall_s"), med(runs, "py-requests-orjson-list", "wall_s")), lambda r: r <= 0.8),
        ("Rust streaming ≥ 3× the baseline's records/s (×)",
         ratio(rate("rust-stream"), rate("baseline-rust-stream")), lambda r: r >= 3),
        ("Rust typed streaming (`records_as`) ≥ 3× the baseline's records/s (×)",
         ratio(rate("rust-stream-typed"), rate("baseline-rust-stream")), lambda r: r >= 3),
        ("Python streaming ≥ 3× the baseline's records/s (×)",
         ratio(rate("py-runtel-stream"), rate("baseline-py-runtel-stream")), lambda r: r >= 3),
        ("Rust AsyncClient CPU/call ≤ 1.1× hand-written reqwest",
         ratio(cpu("rust-async-calls"), cpu("reqwest-calls")), lambda r: r <= 1.1),
        ("Python AsyncClient calls/s ≥ 3× httpx.AsyncClient",
         ratio(rate("py-runtel-async-calls"), rate("py-httpx-async-calls")), lambda r: r >= 3),
        ("Python AsyncClient CPU/call ≤ ⅓ of httpx.AsyncClient",
         ratio(cpu("py-runtel-async-calls"), cpu("py-httpx-async-calls")), lambda r: r <= 1 / 3),
        ("Python AsyncClient calls/s ≥ aiohttp",
         ratio(rate("py-runtel-async-calls"), rate("py-aiohttp-calls")), lambda r: r >= 1),
        ("Streaming peak RSS < 64 MiB (Rust)", med(runs, "rust-stream", "peak_rss_mib"), lambda r: r < 64),
        ("Streaming peak RSS < 64 MiB (Python)", med(runs, "py-runtel-stream", "peak_rss_mib"), lambda r: r < 64),
    ]
    p("\n## Targets\n")
    p("| target | measured | met |")
    p("|---|---:|:---:|")
    for name, value, ok in targets:
        p(f"| {name} | {fmt(value, 2)} | {'–' if value is None else ('yes' if ok(value) else '**no**')} |")

    table = "\n".join(lines)
    print(table)
    reps = max((len(v) for v in runs.values()), default=0)
    doc = (
        "# Benchmarks\n\n"
        "Produced by `bench/run` (one command; medians of "
        f"{reps} runs per mode, each mode in its own process, against a release-built `runtel-sim` "
        "on loopback in a separate process). CPU time is the client process's user + system time. "
        "These are measurements, never pass/fail tests.\n\n"
        f"Machine: {machine()}.\n\n{table}\n"
    )
    notes = Path(__file__).with_name("NOTES.md")
    if notes.exists():
        doc += "\n" + notes.read_text()
    out.write_text(doc)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
