"""runtel (the installed wheel) against runtel-sim over loopback."""

from __future__ import annotations

import datetime
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, List

import pytest

import runtel
from conftest import LOGIN, PASSWORD, ROOT, VECTORS, Sim, wait_for_child


def test_imports_the_installed_wheel_not_the_source_tree() -> None:
    assert "site-packages" in runtel.__file__, runtel.__file__
    assert runtel._runtel.__file__.endswith(".so")
    assert runtel.__version__.count(".") == 2


def test_login_call_logout_round_trip(sim: Sim) -> None:
    c = runtel.Client(sim.url)
    assert c.status == "unauthenticated" and c.auth_info is None
    info = c.login(LOGIN, PASSWORD)
    assert c.status == "authenticated"
    assert (info.user_id, info.user_login, info.role_type, info.domain_id) == (1, LOGIN, 1, 1)
    assert info.domain_name == "sim.runtel.local" and info.role_name == "PBX administrator"
    assert info.auth_type == "http" and info.tz == "Europe/Prague" and info.locale == "en_US"
    assert info.version == {"software": "2.9.0", "last_update": 1631889200.532154}
    assert info.domain_billing_options == {
        "balance": "1000.0", "block_inbound": False, "block_outbound": False, "block_face": False,
    }
    assert info.role_perms == {} and info.role_visible == {} and info.role_filters == {}
    assert info.domain_test_until is None and info.domain_mode == 2 and not info.is_platform_operator
    assert isinstance(info.exp, datetime.datetime) and info.exp.tzinfo is datetime.timezone.utc
    left = info.exp - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=3, minutes=59) < left <= datetime.timedelta(hours=4)
    assert info.expires_at is not None and abs((info.expires_at - info.exp).total_seconds()) < 3
    assert len(info.token) >= 32 and info.to_dict()["token"] == "***"

    env = c.call("User", "list", {})
    assert env["code"] == 200 and env["total_count"] == 1 and env["list"][0]["login"] == LOGIN
    assert env["notifies"] == [] and env["action_id"].startswith("rt")
    created = c.call("User", "append", {"login": "n@sim.runtel.local", "password": "p"}, name="N", status=1)
    uid = created["body"]["id"]
    assert c.call("User", "get", id=uid)["body"]["name"] == "N"
    assert c.User.get(id=uid)["body"]["login"] == "n@sim.runtel.local"
    assert c.User.update({"id": uid}, surname="S")["body"]["surname"] == "S"
    page = c.list("DomainCDR", limit=2, offset=10)
    assert [r["id"] for r in page["list"]] == [11, 12] and page["total_count"] == 2500
    c.logout()
    assert c.status == "logged_out"
    assert sim.counters()["by_action"]["logout"] == 1


def test_every_exception_class_from_real_answers(make_sim: Any) -> None:
    s = make_sim()
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD, timeout=0.8, max_retries=0, max_auth_failures=2)

    with pytest.raises(runtel.ApiError) as api:
        c.call("User", "get", id=4242)
    e = api.value
    assert (e.kind, e.http_status, e.code, e.msg_id, e.message) == ("api", 404, 404, "not_found", "User 4242 not found")
    assert e.action_id is not None and e.action_id.startswith("rt") and "not_found" in (e.body or "")
    assert type(e) is runtel.ApiError and isinstance(e, runtel.RuntelError)

    with pytest.raises(runtel.ApiError) as val:
        c.User.append(login="nope")
    assert val.value.field_errors["login"] == ["Not a valid email address."]

    s.fault("wrong_action_id")
    with pytest.raises(runtel.ProtocolError) as proto:
        c.User.list()
    assert isinstance(proto.value, ValueError) and "action_id" in str(proto.value)

    s.fault("delay:1500")
    started = time.monotonic()
    with pytest.raises(runtel.RuntelTimeoutError) as tmo:
        c.User.list()
    assert isinstance(tmo.value, TimeoutError) and time.monotonic() - started < 1.4

    with pytest.raises(runtel.InvalidInputError) as bad:
        c.call("User", "list", {"x": {1, 2}})
    assert isinstance(bad.value, ValueError) and "set" in str(bad.value)
    with pytest.raises(ValueError):
        c.call("", "list")
    with pytest.raises(runtel.InvalidInputError):
        c.call("User", "list", {1: "non-str key"})  # type: ignore[dict-item]
    with pytest.raises(runtel.InvalidInputError, match="JSON number"):
        c.call("User", "list", {"n": float("nan")})
    with pytest.raises(runtel.InvalidInputError):
        runtel.Client("ftp://nowhere")

    with pytest.raises(runtel.NotAuthenticatedError):
        runtel.Client(s.url).User.list()

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{free.getsockname()[1]}"
    with pytest.raises(runtel.TransportError):
        runtel.Client(dead, max_retries=0).login(LOGIN, PASSWORD)

    anon = runtel.Client(s.url, max_auth_failures=2)
    for _ in range(2):
        with pytest.raises(runtel.AuthError) as auth:
            anon.login(LOGIN, "wrong-password-123")
        assert isinstance(auth.value, runtel.ApiError) and auth.value.code == 401
        assert "wrong-password-123" not in str(auth.value) + repr(auth.value)
    with pytest.raises(runtel.AuthLockoutError) as lock:
        anon.login(LOGIN, PASSWORD)
    assert lock.value.retry_after is not None and 890 < lock.value.retry_after <= 900
    assert s.counters()["auth_failures"] == 2


def test_context_manager_logs_in_lazily_and_out_on_exit(sim: Sim) -> None:
    with runtel.Client(sim.url, login=LOGIN, password=PASSWORD) as c:
        assert sim.counters()["auth_attempts"] == 0, "lazy"
        assert c.User.list()["total_count"] == 1
    assert c.status == "closed"
    k = sim.counters()
    assert k["auth_attempts"] == 1 and k["by_action"]["logout"] == 1
    with pytest.raises(runtel.InvalidInputError, match="closed"):
        c.User.list()
    c.close()  # idempotent


def test_context_exit_never_hides_the_raised_exception(sim: Sim) -> None:
    with pytest.raises(ZeroDivisionError):
        with runtel.Client(sim.url, login=LOGIN, password=PASSWORD, max_retries=0) as c:
            c.User.list()
            sim.fault("drop_before", action="logout")
            1 / 0
    # Without an exception in flight, the failed logout is reported.
    with pytest.raises(runtel.TransportError):
        with runtel.Client(sim.url, login=LOGIN, password=PASSWORD, max_retries=0) as c:
            c.User.list()
            sim.fault("drop_before", action="logout")


def test_position_counts_the_records_yielded_in_the_middle_of_a_page(sim: Sim) -> None:
    # The rest of a page waits in a queue once its second record is taken, and
    # the page after it is fetched ahead: position counts neither.
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    it = c.records("DomainCDR", page_size=10)
    seen: List[int] = []
    for expected in [1, 2, 3, 7, 10, 11, 14]:
        while len(seen) < expected:
            seen.append(next(it)["id"])
        assert it.position == expected, (expected, seen)
    assert seen == list(range(1, 15))
    # Resuming at the position reported goes on with the next record.
    assert next(iter(c.records("DomainCDR", start=it.position)))["id"] == 15


def test_records_pages_through_everything(sim: Sim) -> None:
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    it = c.records("DomainCDR", page_size=100)
    before: Any = it.total_count
    assert before is None
    ids = [r["id"] for r in it]
    assert ids == list(range(1, 2501))
    # A full last page is followed by one more request: a count may be stale.
    assert (it.total_count, it.pages_fetched, it.position) == (2500, 26, 2500)
    since = 1704067200 + 2400 * 7
    flt = {"field_list": [{"field": "dt", "condition_type": 5, "value": since}], "type": 0}
    assert len(list(c.records("DomainCDR", filter=flt, page_size=30))) == 100
    assert [r["id"] for r in c.records("DomainCDR", start=2497)] == [2498, 2499, 2500]
    assert sim.counters()["by_action"]["list"] == 26 + 4 + 1


def test_threads_share_a_client_through_token_expiry(sim: Sim) -> None:
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    c.User.list()
    sim.control("tokens/expire", {})
    sim.control("counters/reset", {})
    errors: List[BaseException] = []
    barrier = threading.Barrier(16)

    def work() -> None:
        barrier.wait()
        try:
            for _ in range(10):
                assert c.User.get(id=1)["body"]["id"] == 1
        except BaseException as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and not any(t.is_alive() for t in threads)
    assert sim.counters()["auth_attempts"] == 1, "one re-login for sixteen threads"


def test_gil_is_released_while_waiting(sim: Sim) -> None:
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    c.User.list()
    sim.fault("delay:600")
    ticks = 0
    done = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    c.User.list()
    done.set()
    t.join()
    assert ticks > 100, f"the other thread ran only {ticks} times during a 600 ms call"


def test_close_while_sixteen_threads_hammer(sim: Sim) -> None:
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    c.User.list()
    outcomes: List[str] = []
    lock = threading.Lock()

    def work() -> None:
        # Until the close is seen (bounded), then once more to show it sticks.
        for _ in range(5000):
            try:
                c.User.get(id=1)
                r = "ok"
            except runtel.InvalidInputError as e:
                r = "closed" if "closed" in str(e) else f"other: {e!r}"
            except BaseException as e:  # noqa: BLE001
                r = f"other: {e!r}"
            with lock:
                outcomes.append(r)
            if r != "ok":
                break

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    c.close()
    for t in threads:
        t.join(30)
    assert set(outcomes) <= {"ok", "closed"}, {o for o in outcomes if o.startswith("other")}
    assert outcomes.count("closed") == 16, "every thread got a clear error after close"
    assert outcomes.count("ok") >= 16


def test_shared_vectors_raise_the_documented_classes(make_sim: Any) -> None:
    s = make_sim()
    classes = {
        "api": runtel.ApiError, "auth": runtel.AuthError, "protocol": runtel.ProtocolError,
    }
    names = sorted(p.stem for p in VECTORS.glob("*.json"))
    assert len(names) >= 12
    for name in names:
        vector = json.loads((VECTORS / f"{name}.json").read_text())
        req = vector["request"]
        c = runtel.Client(s.url, max_retries=0)
        c.login(LOGIN, PASSWORD)
        expect = s.control("replay", {"vector": name})
        try:
            if req["action"] == "auth":
                c.login("someone@pbx.example", "pw")
            else:
                c.call(req["obj"], req["action"])
            outcome: Any = None
        except runtel.RuntelError as e:
            outcome = e
        if expect["ok"]:
            assert outcome is None, f"{name}: {outcome!r}"
            continue
        kind = expect.get("auth_kind") or expect["kind"]
        assert type(outcome) is classes[kind], f"{name}: {outcome!r}"
        assert outcome.http_status == expect["http_status"], name
        if expect.get("code") is not None:
            assert outcome.code == expect["code"], name


def test_secrets_never_in_repr_str_errors_or_logs(make_sim: Any, caplog: pytest.LogCaptureFixture) -> None:
    password = "S3cret-pass-word-never-shown"
    s = make_sim("--user", f"leak@sim.runtel.local:{password}")
    caplog.set_level(logging.DEBUG, logger="runtel")
    c = runtel.Client(s.url, login="leak@sim.runtel.local", password=password, timeout=0.8, max_retries=1)
    info = c.login("leak@sim.runtel.local", password)
    token = info.token
    shown = [repr(c), repr(info), str(info.to_dict())]
    for fault in ["html_502", "wrong_action_id", "truncated_json", "delay:1500", "invalid_utf8", "drop_mid_body"]:
        s.fault(fault)
        try:
            c.User.list()
        except runtel.RuntelError as e:
            shown += [str(e), repr(e), repr(e.__dict__)]
    s.control("tokens/expire", {})
    c.User.list()
    try:
        c.login("leak@sim.runtel.local", "another-Secret-42")
    except runtel.AuthError as e:
        shown += [str(e), repr(e), repr(e.__dict__)]
    c.close()
    logs = [r.getMessage() for r in caplog.records]
    assert any("action_id=" in line for line in logs), "runtel log records reach Python logging"
    assert all(r.name == "runtel" for r in caplog.records)
    for text in shown + logs:
        for secret in (password, token, "another-Secret-42"):
            assert secret not in text, text


def test_example_passes_mypy_strict_and_runs(sim: Sim) -> None:
    example = ROOT / "bindings" / "python" / "examples" / "quickstart.py"
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(example)],
        capture_output=True, text=True, cwd=ROOT / "target",  # away from the source package
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
    run = subprocess.run(
        [sys.executable, str(example), sim.url, LOGIN], capture_output=True, text=True,
        env={"RUNTEL_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"}, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "2500 CDRs" in run.stdout and "HTTP 404" in run.stdout
    # Seeded every 7 s from 2024-01-01: records 1 to 515 fall in its first hour.
    assert "515 CDRs in the first hour of 2024" in run.stdout, run.stdout
    assert "DomainCDR: call history" in run.stdout and "list_with_detail" in run.stdout


def test_records_fetch_ahead_gives_the_same_records_and_survives_a_503(sim: Sim) -> None:
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    plain = [r["id"] for r in c.records("DomainCDR", page_size=100, prefetch=False)]
    it = c.records("DomainCDR", page_size=100)
    got = [next(it)["id"] for _ in range(150)]
    # The page being fetched ahead fails once: it is retried like any read.
    sim.fault("html_503", times=1, action="list")
    got += [r["id"] for r in it]
    assert got == plain == list(range(1, 2501))
    assert it.pages_fetched == 26
    assert sim.counters()["faults_applied"] == 1


def test_a_forked_child_reads_on_without_the_parents_prefetch_thread(sim: Sim) -> None:
    import os

    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    # Forked the moment next() returns, each time: nothing runtel holds may
    # still be locked then (a worker once released the iterator just after
    # handing over the record; one child in ~40 hung).
    for _ in range(40):
        it = c.records("DomainCDR", page_size=100)
        first = [next(it)["id"] for _ in range(2)]  # page two is being fetched ahead
        pid = os.fork()
        if pid == 0:  # the child: the helper thread does not exist here
            code = 1
            try:
                rest = [r["id"] for r, _ in zip(it, range(348))]
                code = 0 if first + rest == list(range(1, 351)) else 2
            except BaseException:
                code = 3
            os._exit(code)
        assert wait_for_child(pid, 20) == 0
    assert first + [r["id"] for r in it] == list(range(1, 2501)), "the parent reads on too"


def test_a_calls_log_line_follows_the_level_set_between_calls(
    sim: Sim, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A refused level is learnt from the logger's own cache and then not asked
    # again (no GIL taken for a line nobody wants); a level lowered between
    # calls logs the very next call.
    logger = logging.getLogger("runtel")
    asked: List[int] = []
    real = logger.isEnabledFor

    def counting(level: int) -> bool:
        asked.append(level)
        return real(level)

    monkeypatch.setattr(logger, "isEnabledFor", counting)
    caplog.set_level(logging.WARNING, logger="runtel")
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)

    def call_lines() -> List[str]:
        return [r.getMessage() for r in caplog.records if "User.get action_id=" in r.getMessage()]

    c.call("User", "get", id=1)
    assert logger._cache.get(logging.DEBUG) is False
    asked.clear()
    for _ in range(5):
        c.call("User", "get", id=1)
    assert asked == [] and call_lines() == []

    caplog.set_level(logging.DEBUG, logger="runtel")
    c.call("User", "get", id=1)
    assert len(call_lines()) == 1, call_lines()
    logger.setLevel(logging.INFO)
    c.call("User", "get", id=1)
    c.call("User", "get", id=1)
    assert len(call_lines()) == 1, call_lines()
    c.close()


def test_a_level_lowered_between_iterations_logs_every_page_fetched_ahead(
    make_sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The page fetcher's records are filtered before they are queued, by the
    # level as last read: lowering it between two iterations must count from
    # the next one's first page (the first pages fetched ahead were lost).
    sim = make_sim("--seed", "DomainCDR=50")
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)

    def pages_logged() -> int:
        caplog.clear()
        assert sum(1 for _ in c.records("DomainCDR", page_size=10)) == 50
        return sum("DomainCDR.list action_id=" in r.getMessage() for r in caplog.records)

    for _ in range(3):
        caplog.set_level(logging.WARNING, logger="runtel")
        assert pages_logged() == 0
        caplog.set_level(logging.DEBUG, logger="runtel")
        # Pages 1-5 and the empty sixth.
        assert pages_logged() == 6
    c.close()


def test_records_of_the_page_fetcher_reach_logging_queued(make_sim: Any, caplog: pytest.LogCaptureFixture) -> None:
    # The thread fetching pages ahead is runtel's own: its records are queued
    # (it never takes the GIL) and reach the runtel logger with the pages.
    sim = make_sim("--seed", "DomainCDR=50")
    caplog.set_level(logging.DEBUG, logger="runtel")
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    before = runtel._runtel._async_log_counts()
    assert [r["id"] for r in c.records("DomainCDR", page_size=10)] == list(range(1, 51))
    after = runtel._runtel._async_log_counts()
    lines = [r.getMessage() for r in caplog.records if r.name == "runtel"]
    # Pages 1-5 and the empty sixth: all six calls are logged; the ones the
    # helper made (pages 2-6) went through the queue.
    assert sum("DomainCDR.list action_id=" in line for line in lines) == 6, lines
    assert after["queued"] - before["queued"] >= 5, (before, after)
    assert after["batches"] > before["batches"]
    assert not any(PASSWORD in line for line in lines)
