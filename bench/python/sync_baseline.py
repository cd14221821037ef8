"""The Python baseline of bench/sync: what users write today to copy call records
into a database, page by page (limit/offset), with requests.

    python sync_baseline.py sqlite URL N PATH [PAGE]
    python sync_baseline.py postgres URL N PG_URL [PAGE]

Prints one JSON line: records, seconds, records/s, CPU seconds, peak RSS (MiB).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import requests

LOGIN, PASSWORD = "admin@sim.runtel.local", "admin"
COLS = ["id", "domain_id", "dt", "uuid", "direction", "src", "dst", "src_name",
        "duration", "billsec", "disposition", "gateway", "record"]
PAGE = int(sys.argv[5]) if len(sys.argv) > 5 else 10_000


def pages(url: str):
    s = requests.Session()
    api = url + "/api/"

    def post(env: dict, token: str | None) -> dict:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        r = s.post(api, data=json.dumps(env), headers=headers, timeout=120)
        r.raise_for_status()
        v = r.json()
        assert v["code"] == 200 and v["action_id"] == env["action_id"]
        return v

    token = post({"action": "auth", "obj": "User", "action_id": "a",
                  "params": {"login": LOGIN, "password": PASSWORD}}, None)["body"]["token"]
    offset = 0
    while True:
        page = post({"action": "list", "obj": "DomainCDR", "action_id": f"p{offset}",
                     "params": {}, "limit": PAGE, "offset": offset}, token)["list"]
        if not page:
            return
        yield page
        offset += len(page)
        if len(page) < PAGE:
            return


def to_sqlite(url: str, path: str) -> int:
    import sqlite3
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"CREATE TABLE IF NOT EXISTS cdr ({', '.join(COLS)}, raw TEXT, PRIMARY KEY (id))")
    marks = ", ".join("?" * (len(COLS) + 1))
    n = 0
    for page in pages(url):
        with db:
            db.executemany(f"INSERT OR REPLACE INTO cdr VALUES ({marks})",
                           [[r.get(c) for c in COLS] + [json.dumps(r)] for r in page])
        n += len(page)
    return n


def to_postgres(url: str, pg: str) -> int:
    import psycopg
    n = 0
    with psycopg.connect(pg) as db:
        db.execute(f"CREATE TABLE IF NOT EXISTS cdr (id bigint PRIMARY KEY, domain_id bigint, "
                   f"dt bigint, uuid text, direction text, src text, dst text, src_name text, "
                   f"duration bigint, billsec bigint, disposition text, gateway text, "
                   f"record boolean, raw jsonb)")
        db.commit()
        for page in pages(url):
            with db.transaction():
                with db.cursor().copy(f"COPY cdr ({', '.join(COLS)}, raw) FROM STDIN") as cp:
                    for r in page:
                        cp.write_row([r.get(c) for c in COLS] + [json.dumps(r)])
            n += len(page)
    return n


def main() -> None:
    kind, url, want, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    c0, t0 = time.process_time(), time.perf_counter()
    n = to_sqlite(url, target) if kind == "sqlite" else to_postgres(url, target)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert n == want, (n, want)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"bench": f"python-{kind}", "n": n, "wall_s": round(wall, 2),
                      "per_s": round(n / wall), "cpu_s": round(cpu, 2), "peak_rss_mib": round(rss, 1)}))


if __name__ == "__main__":
    main()
