"""Log in, list users, read the object catalog, filter and page through CDRs,
log out. Checked with mypy --strict.

    python quickstart.py URL LOGIN      (password from RUNTEL_PASSWORD)
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta, timezone

import runtel


def main(url: str, login: str, password: str) -> int:
    with runtel.Client(url, login=login, password=password, timeout=15.0) as pbx:
        users = pbx.User.list()  # a runtel.Response: a mapping over the answer
        print(f"{users.total_count} users: {', '.join(u['login'] for u in users.records)}")
        info = pbx.auth_info
        if info is not None:
            print(f"logged in as {info.user_login}, token valid until {info.exp.isoformat()}")
        try:
            pbx.call("User", "get", id=999_999)
        except runtel.ApiError as e:
            print(f"expected: HTTP {e.http_status}, code {e.code}, msg_id {e.msg_id}")
        cdr_spec = runtel.object_spec("DomainCDR")  # the catalog, from the Rust core
        print(f"{cdr_spec.name}: {cdr_spec.doc} (actions: {', '.join(cdr_spec.actions)})")
        # Calls of the first hour of 2024: a datetime goes out as Unix seconds.
        start = datetime(2024, 1, 1, tzinfo=timezone.utc)
        hour = runtel.where("dt", ">=", start) & runtel.where("dt", "<", start + timedelta(hours=1))
        print(f"{pbx.DomainCDR.list(filter=hour, limit=1).total_count} CDRs in the first hour of 2024")
        answered = 0
        records = pbx.records("DomainCDR", page_size=1000)
        for cdr in records:
            if cdr.get("disposition") == "ANSWERED":
                answered += 1
        print(f"{records.total_count} CDRs, {answered} answered")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or "RUNTEL_PASSWORD" not in os.environ:
        print("usage: RUNTEL_PASSWORD=... quickstart.py URL LOGIN", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2], os.environ["RUNTEL_PASSWORD"]))
