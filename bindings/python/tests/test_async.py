"""runtel.AsyncClient through the installed wheel, against runtel-sim over loopback:
round trip, the shared fault matrix, single-flight re-login under 500 tasks,
cancellation, timeouts, the login guard shared with the blocking client, logging,
and the event loop kept free (asyncio, uvloop, anyio)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, List, TypeVar

import pytest

import runtel
from conftest import LOGIN, PASSWORD, wait_for_child
from test_reliability import CLIENT, FAULTS, MATRIX

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(main())  # type: ignore[arg-type]


def wait_until(what: str, check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def test_round_trip_with_proxies_records_and_logout(sim: Any) -> None:
    async def main() -> None:
        async with runtel.AsyncClient(sim.url, login=LOGIN, password=PASSWORD) as pbx:
            assert pbx.status == "unauthenticated"
            r = await pbx.call("User", "list")
            assert isinstance(r, runtel.Response)
            assert r["code"] == 200 and r.total_count == 1
            assert r.records[0]["login"] == LOGIN
            assert r["action_id"].startswith("ra")
            assert pbx.status == "authenticated"
            assert pbx.auth_info is not None and pbx.auth_info.user_login == LOGIN
            same = await pbx.User.list()
            assert same.records == r.records
            page = await pbx.list("DomainCDR", limit=10, offset=20,
                                  filter=runtel.where("id", ">", 0))
            assert [c["id"] for c in page.records] == [c["id"] for c in
                                                      (await pbx.DomainCDR.list(limit=30))["list"]][20:]
            one = await pbx.User.get(id=r.records[0]["id"])
            assert one.record is not None and one.record["login"] == LOGIN
            ids: List[int] = []
            records = pbx.records("DomainCDR", page_size=1000)
            assert (records.pages_fetched, records.total_count) == (0, None)
            async for cdr in records:
                ids.append(cdr["id"])
                if len(ids) == 1500:
                    assert (records.position, records.pages_fetched) == (1500, 2)
            assert len(ids) == 2500 and len(set(ids)) == 2500
            assert (records.total_count, records.position, records.shortfall) == (2500, 2500, None)
            with pytest.raises(AttributeError, match="did you mean User"):
                pbx.Usr  # type: ignore[attr-defined]  # noqa: B018
        assert pbx.status == "closed"
        with pytest.raises(runtel.InvalidInputError):
            await pbx.call("User", "list")

    run(main)
    counters = sim.counters()
    assert counters["by_action"]["auth"] == 1
    assert counters["by_action"]["logout"] == 1
    assert counters["by_action"]["list"] == 4 + 3  # four calls, three pages


def test_login_and_logout_explicitly(sim: Any) -> None:
    async def main() -> None:
        pbx = runtel.AsyncClient(sim.url)
        with pytest.raises(runtel.NotAuthenticatedError):
            await pbx.User.list()
        info = await pbx.login(LOGIN, PASSWORD)
        assert isinstance(info, runtel.AuthInfo) and info.user_login == LOGIN
        assert "token='***'" in repr(info)
        assert (await pbx.User.list()).total_count == 1
        await pbx.logout()
        assert pbx.status == "logged_out"
        with pytest.raises(runtel.AuthError) as e:
            await pbx.login(LOGIN, "wrong-Password-1")
        assert e.value.kind == "auth"
        await pbx.close()

    run(main)


@pytest.mark.parametrize("fault,cls", FAULTS, ids=[f for f, _ in FAULTS])
def test_fault_gives_its_class_in_time_and_the_client_recovers(make_sim: Any, fault: str, cls: type) -> None:
    s = make_sim()

    async def main() -> None:
        async with runtel.AsyncClient(s.url, login=LOGIN, password=PASSWORD, **CLIENT) as pbx:
            await pbx.User.list()
            s.fault(fault)
            started = time.monotonic()
            with pytest.raises(cls) as e:
                await pbx.User.list()
            assert type(e.value) is cls
            assert time.monotonic() - started < MATRIX["within_seconds"]
            assert (await pbx.User.list())["code"] == 200
            # A write hit by the same fault is reported, and sent exactly once.
            s.control("counters/reset", {})
            s.fault(fault, action="update")
            with pytest.raises(cls):
                await pbx.User.update(id=1, surname="X")
            assert s.counters()["by_action"]["update"] == 1

    run(main)


def test_five_hundred_tasks_through_a_token_expiry_cause_one_relogin(make_sim: Any) -> None:
    s = make_sim("--max-connections", "1024")

    async def main() -> None:
        async with runtel.AsyncClient(s.url, login=LOGIN, password=PASSWORD) as pbx:
            await pbx.User.list()
            s.control("tokens/expire", {})
            answers = await asyncio.gather(*(pbx.User.list() for _ in range(500)))
            assert [a["code"] for a in answers] == [200] * 500

    run(main)
    counters = s.counters()
    assert counters["auth_attempts"] == 2, counters
    assert counters["by_action"]["list"] >= 501


def test_cancelling_a_hundred_calls_leaks_no_connection(make_sim: Any) -> None:
    s = make_sim()

    async def main() -> None:
        async with runtel.AsyncClient(s.url, login=LOGIN, password=PASSWORD) as pbx:
            await pbx.User.list()
            before = s.counters()["open_connections"]
            assert before >= 1
            s.fault("delay:3000", times=100)
            tasks = [asyncio.ensure_future(pbx.User.list()) for _ in range(100)]
            while s.counters()["faults_applied"] < 100:
                await asyncio.sleep(0.02)
            for t in tasks:
                t.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            assert all(isinstance(r, asyncio.CancelledError) for r in results)
            deadline = time.monotonic() + 5
            while s.counters()["open_connections"] > before:
                assert time.monotonic() < deadline, s.counters()
                await asyncio.sleep(0.02)
            started = time.monotonic()
            assert (await pbx.User.list())["code"] == 200
            assert time.monotonic() - started < 1

    run(main)
    assert s.counters()["auth_attempts"] == 1, "cancellation cost no login"


def test_a_timeout_raises_runtel_timeout_error(make_sim: Any) -> None:
    s = make_sim()

    async def main() -> None:
        async with runtel.AsyncClient(s.url, login=LOGIN, password=PASSWORD, timeout=0.5) as pbx:
            await pbx.User.list()
            s.fault("delay:1500")
            started = time.monotonic()
            with pytest.raises(runtel.RuntelTimeoutError) as e:
                await pbx.User.list()
            assert isinstance(e.value, TimeoutError)
            assert time.monotonic() - started < 1.2
            assert (await pbx.User.list())["code"] == 200

    run(main)


def test_the_lockout_guard_is_shared_with_the_blocking_client(make_sim: Any) -> None:
    s = make_sim("--defender-max-failures", "1000")
    blocking = runtel.Client(s.url)

    async def main() -> List[str]:
        pbx = runtel.AsyncClient(s.url)
        kinds = []
        for i in range(5):
            try:
                if i % 2 == 0:
                    await asyncio.to_thread(blocking.login, LOGIN, "wrong-Password-1")
                else:
                    await pbx.login(LOGIN, "wrong-Password-1")
            except runtel.RuntelError as e:
                kinds.append(e.kind)
        with pytest.raises(runtel.AuthLockoutError):
            await pbx.login(LOGIN, PASSWORD)
        return kinds

    kinds = run(main)
    assert kinds == ["auth", "auth", "auth", "auth_lockout", "auth_lockout"]
    assert s.counters()["auth_attempts"] == 3


def test_the_event_loop_keeps_running_during_calls(make_sim: Any) -> None:
    s = make_sim()

    async def main() -> int:
        async with runtel.AsyncClient(s.url, login=LOGIN, password=PASSWORD) as pbx:
            await pbx.User.list()
            s.fault("delay:500", times=50)
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            t = asyncio.ensure_future(ticker())
            answers = await asyncio.gather(*(pbx.User.list() for _ in range(50)))
            t.cancel()
            assert all(a["code"] == 200 for a in answers)
            return ticks

    ticks = run(main)
    # 50 calls of 0.5 s each, concurrently: the loop ticked all along.
    assert ticks >= 25, ticks


def test_logging_reaches_the_runtel_logger_without_secrets(sim: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG, logger="runtel")
    before = runtel._runtel._async_log_counts()

    async def main() -> None:
        async with runtel.AsyncClient(sim.url, login=LOGIN, password=PASSWORD) as pbx:
            await asyncio.gather(*(pbx.User.list() for _ in range(20)))
            sim.fault("html_502", times=3, action="get")
            with pytest.raises(runtel.ApiError):
                await pbx.User.get(id=1)

    run(main)
    after = runtel._runtel._async_log_counts()
    queued = after["queued"] - before["queued"]
    batches = after["batches"] - before["batches"]
    # Runtime threads queue their records (no GIL per record); Python gets them
    # in batches, at most one per result delivered (22 here, and one when the
    # client was made).
    assert queued >= 22, (before, after)
    assert 1 <= batches <= 23 and batches < queued, (before, after)
    lines = [r.getMessage() for r in caplog.records if r.name == "runtel"]
    assert sum("User.list action_id=" in line for line in lines) >= 20, lines
    assert any("User.auth" in line and "logged in" in line for line in lines), lines
    assert any("User.get" in line and "failed kind=api" in line for line in lines), lines
    for line in lines:
        assert PASSWORD not in line or len(PASSWORD) < 4


def test_a_level_lowered_between_calls_counts_from_the_next_async_call(make_sim: Any, caplog: Any) -> None:
    # The runtime's threads filter their records by the level last read (at
    # the last result): a level lowered after it must count from the next
    # call, and from the next iteration's first page.
    sim = make_sim("--seed", "DomainCDR=30")

    def logged(what: str) -> int:
        return sum(what in r.getMessage() for r in caplog.records if r.name == "runtel")

    async def main() -> None:
        async with runtel.AsyncClient(sim.url, login=LOGIN, password=PASSWORD) as pbx:
            for _ in range(3):
                caplog.set_level(logging.WARNING, logger="runtel")
                caplog.clear()
                await pbx.User.list()
                assert [r async for r in pbx.records("DomainCDR", page_size=10)][-1]["id"] == 30
                assert logged("action_id=") == 0
                caplog.set_level(logging.DEBUG, logger="runtel")
                await pbx.User.list()
                assert logged("User.list action_id=") == 1
                assert len([r async for r in pbx.records("DomainCDR", page_size=10)]) == 30
                # Pages 1-3 and the empty fourth.
                assert logged("DomainCDR.list action_id=") == 4

    run(main)


def test_works_under_uvloop(sim: Any) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> int:
        async with runtel.AsyncClient(sim.url, login=LOGIN, password=PASSWORD) as pbx:
            answers = await asyncio.gather(*(pbx.User.list() for _ in range(50)))
            assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
            n = 0
            async for _ in pbx.records("DomainCDR", page_size=700):
                n += 1
            return n + len(answers)

    assert uvloop.run(main()) == 2500 + 50


def test_works_with_anyio_on_asyncio(make_sim: Any) -> None:
    anyio = pytest.importorskip("anyio")
    s = make_sim()

    async def main() -> List[int]:
        codes: List[int] = []
        async with runtel.AsyncClient(s.url, login=LOGIN, password=PASSWORD) as pbx:

            async def one() -> None:
                codes.append((await pbx.User.list())["code"])

            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(one)
            # anyio's cancel scope cancels the request like asyncio's cancel().
            s.fault("delay:2000")
            with anyio.move_on_after(0.2) as scope:
                await pbx.User.list()
            assert scope.cancelled_caught
            codes.append((await pbx.User.list())["code"])
        return codes

    assert anyio.run(main, backend="asyncio") == [200] * 21


def test_the_stub_types_every_catalog_object_as_an_async_client_property() -> None:
    import ast
    from pathlib import Path

    tree = ast.parse(Path(runtel.__file__).with_name("_runtel.pyi").read_text())
    stub = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "AsyncClient")
    props = {
        m.name: ast.unparse(m.returns) if m.returns else ""
        for m in stub.body
        if isinstance(m, ast.FunctionDef) and m.name[:1].isupper()
    }
    names = [o.name for o in runtel.objects()]
    assert props == {name: "AsyncObjectProxy" for name in names}
    # At runtime every one is there too, and gives the object's proxy.
    pbx = runtel.AsyncClient("http://127.0.0.1:9")
    for name in names:
        assert getattr(pbx, name).spec.name == name
    assert "list" in dir(pbx.DomainCDR)


def test_a_forked_child_gets_a_clear_error_instead_of_a_hang(sim: Any) -> None:
    import os

    async def one() -> int:
        async with runtel.AsyncClient(sim.url, login=LOGIN, password=PASSWORD) as pbx:
            return int((await pbx.User.list())["code"])

    assert run(one) == 200  # the runtime runs in this process now
    pid = os.fork()
    if pid == 0:  # the child: its copy of the runtime has no threads
        code = 1
        try:
            run(one)
        except runtel.InvalidInputError as e:
            code = 0 if "fork" in str(e) else 2
        except BaseException:
            code = 3
        os._exit(code)
    assert wait_for_child(pid, 10) == 0
    assert run(one) == 200, "the parent's client still works"


def test_tls_failures_name_their_cause_and_verify_works(make_sim: Any, tmp_path: Any) -> None:
    ca = tmp_path / "ca.pem"
    s = make_sim("--tls", "--tls-name", "localhost", "--cert-out", str(ca))
    expired_ca = tmp_path / "expired.pem"
    old = make_sim("--tls", "--tls-expired", "--cert-out", str(expired_ca))
    cases: Any = [
        (s.url, {}, "tls_unknown_issuer"),
        (s.url.replace("localhost", "127.0.0.1"), {"verify": str(ca)}, "tls_wrong_name"),
        (old.url, {"verify": str(expired_ca)}, "tls_expired"),
    ]

    async def main() -> None:
        for url, kwargs, cause in cases:
            with pytest.raises(runtel.TransportError) as e:
                await runtel.AsyncClient(url, max_retries=0, **kwargs).login(LOGIN, PASSWORD)
            assert e.value.cause == cause, (url, str(e.value))
        async with runtel.AsyncClient(s.url, verify=str(ca), login=LOGIN, password=PASSWORD) as pbx:
            assert (await pbx.User.list())["code"] == 200
        async with runtel.AsyncClient(s.url, verify=False, login=LOGIN, password=PASSWORD) as pbx:
            assert (await pbx.User.list())["code"] == 200

    run(main)


# A short program whose last answers arrive just before it ends: the runtime
# thread handing the last result over may still want the GIL back as the
# interpreter finalizes. Before the exit hook waited for those threads, a few
# percent of such runs aborted or crashed ("PyGILState_Release: thread state
# must be current"). "tasks" also leaves calls running, never awaited.
EXIT_CHILD = r'''
import asyncio, sys
import runtel

url, how = sys.argv[1:3]

async def main():
    pbx = runtel.AsyncClient(url, login="admin@sim.runtel.local", password="admin")
    await pbx.call("User", "get", id=1)
    for _ in range(10):
        got = await asyncio.gather(*(pbx.call("User", "get", id=1) for _ in range(100)))
        assert all(r["body"]["id"] == 1 for r in got)
    if how == "tasks":
        for _ in range(50):
            asyncio.ensure_future(pbx.call("User", "get", id=1))
        await asyncio.sleep(0)
    print("done", flush=True)

asyncio.run(main())
'''


@pytest.mark.parametrize("how", ["answers", "tasks"])
def test_a_program_ending_right_after_its_answers_exits_cleanly(
    sim: Any, tmp_path: Any, how: str
) -> None:
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(EXIT_CHILD)
    for run_no in range(20):
        p = subprocess.run(
            [sys.executable, str(script), sim.url, how],
            capture_output=True, text=True, timeout=60,
        )
        assert (p.returncode, p.stdout) == (0, "done\n"), (run_no, p.returncode, p.stderr[-2000:])
