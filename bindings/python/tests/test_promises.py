"""Promises of the Python front end itself: Ctrl-C within half a second, no Rust
lock held against the GIL, clients that survive a fork, and checked durations.

The interrupt and lock tests run their subject in a child process: a deadlock or
an ignored signal there fails the test by a timeout instead of hanging pytest.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import runtel
from conftest import LOGIN, PASSWORD, Sim, wait_for_child

# The child of the interrupt tests. It warms up a client, says "ready", waits for
# "go" on stdin (the parent sets the slow fault in between), runs one blocking
# method and reports how it ended, then shows the same client still works.
INTERRUPT_CHILD = r'''
import signal, sys, time
import runtel

url, method, how = sys.argv[1:4]
LOGIN, PASSWORD = "admin@sim.runtel.local", "admin"


class FromHandler(Exception):
    pass


# Python turns SIGINT into KeyboardInterrupt only if SIGINT was not ignored when
# it started, and a harness may start us with it ignored (a background job of a
# non-interactive shell is). An interactive user's program has the default.
signal.signal(signal.SIGINT, signal.default_int_handler)


if how == "raise":
    def handler(signum, frame):
        raise FromHandler(signum)
    signal.signal(signal.SIGUSR1, handler)
elif how == "quiet":
    hits = []
    signal.signal(signal.SIGUSR1, lambda signum, frame: hits.append(signum))

c = runtel.Client(url, login=LOGIN, password=PASSWORD, max_retries=0)
c.User.list()
records = c.records("DomainCDR", page_size=10)


def blocking():
    if method == "call":
        return c.call("User", "list")
    if method == "proxy":
        return c.User.list()
    if method == "list":
        return c.list("User", limit=1)
    if method == "login":
        return c.login(LOGIN, PASSWORD)
    if method == "logout":
        return c.logout()
    if method == "next":
        return next(records)
    if method == "close":
        return c.close()
    if method == "exit":
        with c:
            pass
        return None
    raise SystemExit("unknown method " + method)


print("ready", flush=True)
sys.stdin.readline()
try:
    blocking()
    print("returned", flush=True)
except (KeyboardInterrupt, FromHandler) as e:
    print("interrupted", type(e).__name__, flush=True)
after = runtel.Client(url, login=LOGIN, password=PASSWORD) if method in ("close", "exit") else c
print("next", after.User.get(id=1)["body"]["id"], flush=True)
if how == "resume":
    # The page the interrupted next() was fetching is not lost: iteration
    # resumes at the first record.
    print("records", next(records)["id"], next(records)["id"], flush=True)
'''

# The action each method sends, so the parent can slow exactly that one down.
ACTION_OF = {
    "call": "list", "proxy": "list", "list": "list", "next": "list",
    "login": "auth", "logout": "logout", "close": "logout", "exit": "logout",
}


class Child:
    """A Python child process whose stdout lines can be awaited with a deadline."""

    def __init__(self, tmp_path: Path, source: str, *args: str) -> None:
        script = tmp_path / "child.py"
        script.write_text(source)
        self.proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=tmp_path,
        )
        self.lines: "queue.Queue[Tuple[float, str]]" = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line.strip()))

    def line(self, within: float) -> Tuple[float, str]:
        try:
            return self.lines.get(timeout=within)
        except queue.Empty:
            self.proc.kill()
            _, err = self.proc.communicate()
            pytest.fail(f"no line from the child within {within} s; stderr: {err}")

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self) -> None:
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail("the child did not exit")
        assert self.proc.stderr is not None
        assert rc == 0, self.proc.stderr.read()


def interrupt(sim: Sim, tmp_path: Path, method: str, how: str, delay_ms: int, after: float) -> Tuple[Child, float]:
    """Starts the child, slows its method's action by `delay_ms`, signals it
    `after` seconds into the call; returns the child and when the signal left."""
    child = Child(tmp_path, INTERRUPT_CHILD, sim.url, method, how)
    assert child.line(30)[1] == "ready"
    sim.fault(f"delay:{delay_ms}", action=ACTION_OF[method])
    child.send("go")
    time.sleep(after)
    sent = time.monotonic()
    child.proc.send_signal(signal.SIGUSR1 if how in ("raise", "quiet") else signal.SIGINT)
    return child, sent


@pytest.mark.parametrize("method", list(ACTION_OF))
def test_ctrl_c_interrupts_every_blocking_method_within_half_a_second(
    make_sim: Any, tmp_path: Path, method: str
) -> None:
    sim = make_sim("--seed", "DomainCDR=30")
    child, sent = interrupt(sim, tmp_path, method, "int", delay_ms=20000, after=1.0)
    at, line = child.line(25)
    assert line == "interrupted KeyboardInterrupt", line
    assert at - sent < 0.5, f"KeyboardInterrupt {at - sent:.2f} s after SIGINT"
    at_next, line = child.line(5)
    assert line == "next 1", line
    assert at_next - at < 2, "the next call did not wait for the abandoned one"
    child.finish()


def test_a_signal_handler_s_own_exception_comes_out(make_sim: Any, tmp_path: Path) -> None:
    sim = make_sim()
    child, sent = interrupt(sim, tmp_path, "call", "raise", delay_ms=20000, after=0.5)
    at, line = child.line(25)
    assert line == "interrupted FromHandler" and at - sent < 0.5, (line, at - sent)
    assert child.line(5)[1] == "next 1"
    child.finish()


def test_a_handler_that_returns_does_not_end_the_call(make_sim: Any, tmp_path: Path) -> None:
    sim = make_sim()
    child, sent = interrupt(sim, tmp_path, "call", "quiet", delay_ms=1500, after=0.5)
    at, line = child.line(10)
    assert line == "returned", line
    assert at - sent > 0.7, "the call ended before the server answered"
    assert child.line(5)[1] == "next 1"
    child.finish()


def test_an_interrupted_next_loses_no_record(make_sim: Any, tmp_path: Path) -> None:
    sim = make_sim("--seed", "DomainCDR=30")
    child, sent = interrupt(sim, tmp_path, "next", "resume", delay_ms=1500, after=0.3)
    at, line = child.line(10)
    assert line == "interrupted KeyboardInterrupt" and at - sent < 0.5, (line, at - sent)
    assert child.line(5)[1] == "next 1"
    assert child.line(10)[1] == "records 1 2"
    child.finish()


AHEAD_CHILD = r'''
import signal, sys
import runtel
url, LOGIN, PASSWORD = sys.argv[1], "admin@sim.runtel.local", "admin"
signal.signal(signal.SIGINT, signal.default_int_handler)
c = runtel.Client(url, login=LOGIN, password=PASSWORD, max_retries=0)
records = c.records("DomainCDR", page_size=10)
first = next(records)["id"]
print("first", first, flush=True)
sys.stdin.readline()  # the parent slows the next list answer down
got = [next(records)["id"] for _ in range(9)]  # the second starts the fetch ahead
print("waiting", flush=True)
try:
    next(records)  # page two, still with the helper
    print("returned", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
print("records", " ".join(str(next(records)["id"]) for _ in range(3)), flush=True)
'''


def test_an_interrupted_wait_for_a_page_fetched_ahead_loses_nothing(
    make_sim: Any, tmp_path: Path
) -> None:
    # next() waits for the helper's page on the calling thread, in slices:
    # Ctrl-C ends the wait, the page stays with the helper, nothing is
    # fetched twice and iteration resumes where it was.
    sim = make_sim("--seed", "DomainCDR=30")
    child = Child(tmp_path, AHEAD_CHILD, sim.url)
    assert child.line(30)[1] == "first 1"
    lists = sim.counters()["by_action"]["list"]
    sim.fault("delay:2000", action="list")
    child.send("go")
    assert child.line(10)[1] == "waiting"
    time.sleep(0.5)
    sent = time.monotonic()
    child.proc.send_signal(signal.SIGINT)
    at, line = child.line(10)
    assert line == "interrupted" and at - sent < 0.5, (line, at - sent)
    assert child.line(10)[1] == "records 11 12 13"
    child.finish()
    assert sim.counters()["by_action"]["list"] == lists + 2, "page two once, page three once"


HANDLER_NEXT_CHILD = r'''
import signal, sys
import runtel
url, LOGIN, PASSWORD = sys.argv[1], "admin@sim.runtel.local", "admin"
c = runtel.Client(url, login=LOGIN, password=PASSWORD, max_retries=0)
records = c.records("DomainCDR", page_size=10)
from_handler = []
signal.signal(signal.SIGALRM, lambda signum, frame: from_handler.append(next(records)["id"]))
print("first", next(records)["id"], flush=True)
sys.stdin.readline()  # the parent slows the next list answer down
for _ in range(9):
    next(records)
signal.setitimer(signal.ITIMER_REAL, 0.3)
main = next(records)["id"]  # waits for page two; the handler runs meanwhile
print("handler", from_handler, "main", main, "then", next(records)["id"], flush=True)
'''


def test_a_signal_handler_may_use_the_iterator_a_next_is_waiting_on(
    make_sim: Any, tmp_path: Path
) -> None:
    # The wait for a page fetched ahead runs the handlers without holding the
    # iterator: a handler's own next() gets the next record, no deadlock.
    sim = make_sim("--seed", "DomainCDR=30")
    child = Child(tmp_path, HANDLER_NEXT_CHILD, sim.url)
    assert child.line(30)[1] == "first 1"
    sim.fault("delay:1500", action="list")
    child.send("go")
    assert child.line(15)[1] == "handler [11] main 12 then 13"
    child.finish()


# A child whose call waits where no answer is awaited: in a retry pause after a
# 503 ("pause"), or in a connect that hangs ("connect", to a listener whose
# accept queue is full, so the kernel drops the SYN).
WAIT_CHILD = r'''
import signal, socket, sys
import runtel

url, where = sys.argv[1:3]
signal.signal(signal.SIGINT, signal.default_int_handler)
LOGIN, PASSWORD = "admin@sim.runtel.local", "admin"
fillers = []
if where == "pause":
    c = runtel.Client(url, login=LOGIN, password=PASSWORD, max_retries=3,
                      retry_base_delay=20, retry_max_delay=20)
    c.User.get(id=1)
elif where == "login":
    # Not logged in yet: the call's own login is what is slow.
    c = runtel.Client(url, login=LOGIN, password=PASSWORD, max_retries=0)
else:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    for _ in range(4096):
        s = socket.socket()
        s.settimeout(0.2)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            break
        fillers.append(s)
    c = runtel.Client(f"http://127.0.0.1:{port}", login=LOGIN, password=PASSWORD,
                      connect_timeout=20, max_retries=0)
print("ready", flush=True)
sys.stdin.readline()
try:
    c.User.list()
    print("returned", flush=True)
except KeyboardInterrupt as e:
    print("interrupted", type(e).__name__, flush=True)
if where in ("pause", "login"):
    print("next", c.User.get(id=1)["body"]["id"], flush=True)
'''


@pytest.mark.parametrize("where", ["pause", "connect", "login"])
def test_ctrl_c_interrupts_a_retry_pause_a_hanging_connect_and_a_slow_login(
    make_sim: Any, tmp_path: Path, where: str
) -> None:
    sim = make_sim()
    child = Child(tmp_path, WAIT_CHILD, sim.url, where)
    assert child.line(30)[1] == "ready"
    if where == "pause":
        sim.fault("html_503", action="list")
    if where == "login":
        sim.fault("delay:2000", action="auth")
    child.send("go")
    time.sleep(1.0)
    sent = time.monotonic()
    child.proc.send_signal(signal.SIGINT)
    at, line = child.line(25)
    assert line == "interrupted KeyboardInterrupt", line
    assert at - sent < 0.5, f"KeyboardInterrupt {at - sent:.2f} s after SIGINT"
    if where == "pause":
        assert child.line(5)[1] == "next 1"
        assert sim.counters()["by_action"]["list"] == 1, "the retry was sent"
    if where == "login":
        # The interrupted call's login ran to its end: one login, a success
        # (not a lost one counted against the lock-out), its token used next.
        assert child.line(10)[1] == "next 1"
        counters = sim.counters()
        assert (counters["auth_attempts"], counters["auth_failures"]) == (1, 0), counters
    child.finish()


# The child of the lock tests: one thread inside next(records) while the page is
# delayed, another reading the iterator's properties. It prints what it saw.
LOCK_CHILD = r'''
import json, sys, threading, time
import runtel

url, who = sys.argv[1:3]
c = runtel.Client(url, login="admin@sim.runtel.local", password="admin")
it = c.records("DomainCDR", page_size=100)
got = []


def iterate():
    got.append(next(it)["id"])


def read():
    started = time.monotonic()
    seen = [it.position, it.total_count, it.pages_fetched, it.shortfall, it.server_page_size]
    return seen, time.monotonic() - started


if who == "thread_iterates":
    t = threading.Thread(target=iterate)
    t.start()
    time.sleep(0.3)
    seen, took = read()
    t.join()
elif who == "main_iterates":
    out = []
    t = threading.Thread(target=lambda: (time.sleep(0.3), out.append(read())))
    t.start()
    iterate()
    t.join()
    seen, took = out[0]
else:
    threads = [threading.Thread(target=iterate) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    seen, took = read()
    for t in threads:
        t.join()
print(json.dumps({"seen": seen, "took": took, "got": sorted(got),
                  "after": [it.position, it.total_count, it.pages_fetched]}))
'''


@pytest.mark.parametrize("who", ["thread_iterates", "main_iterates", "two_threads_iterate"])
def test_records_properties_never_wait_for_a_next_in_flight(make_sim: Any, who: str) -> None:
    sim = make_sim("--seed", "DomainCDR=250")
    sim.fault("delay:1500", action="list")
    run = subprocess.run(
        [sys.executable, "-c", LOCK_CHILD, sim.url, who], capture_output=True, text=True, timeout=20,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["seen"] == [0, None, 0, None, None]
    assert out["took"] < 0.2, f"reading the properties took {out['took']:.2f} s"
    n = 2 if who == "two_threads_iterate" else 1
    assert out["got"] == list(range(1, n + 1))
    assert out["after"] == [n, 250, 1]


def test_the_package_registers_its_fork_hook() -> None:
    spy = (
        "import os\n"
        "seen = []\n"
        "real = os.register_at_fork\n"
        "def spy(**kw):\n"
        "    seen.append(kw)\n"
        "    real(**kw)\n"
        "os.register_at_fork = spy\n"
        "import runtel\n"
        "hooks = [kw.get('after_in_child') for kw in seen]\n"
        "assert runtel._runtel._after_fork_in_child in hooks, seen\n"
        "runtel._runtel._after_fork_in_child()\n"
    )
    run = subprocess.run([sys.executable, "-c", spy], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr


def test_children_forked_at_page_boundaries_log_in_and_close_without_hanging(sim: Sim) -> None:
    import os
    import random

    # Forked the moment next() returns around a page boundary, when the page
    # fetcher is busy with the client's session; the token then expires, so the
    # child must log in again, and it closes. (Before the session was per
    # process, ~1 child in 30 hung in close() or in the login.)
    rng = random.Random(7)
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    it = c.records("DomainCDR", page_size=100)
    for _ in range(60):
        for _ in range(rng.choice([1, 2, 98, 99, 100, 101])):
            if next(it, None) is None:
                it = c.records("DomainCDR", page_size=100)
        expire = rng.random() < 0.5
        info = c.auth_info
        assert info is not None
        token = info.token
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                if expire:
                    sim.control("tokens/expire", {})
                code = 0 if c.User.get(id=1)["body"]["id"] == 1 else 2
                c.close()
            except BaseException:
                code = 3
            os._exit(code)
        assert wait_for_child(pid, 20) == 0
        if expire:
            # The child ended the parent's token too. The parent renews it now:
            # otherwise its page fetcher could renew the dead token while the
            # next child ends tokens again, and a call whose token is refused
            # twice reports the 401 (the policy's one re-login and one replay).
            assert c.User.get(id=1)["body"]["id"] == 1
        else:
            # A child that only read: the parent's token still works (the child
            # neither logged it out on close() nor replaced it).
            assert c.User.get(id=1)["body"]["id"] == 1
            info = c.auth_info
            assert info is not None and info.token == token, "a child ended the parent's token"
    assert c.User.get(id=1)["body"]["id"] == 1, "the parent goes on"


@pytest.mark.parametrize("what", ["call", "login", "next"])
def test_a_signal_handler_that_forks_mid_call_leaves_the_call_to_the_parent(sim: Sim, what: str) -> None:
    import os

    # The main thread runs signal handlers while it waits; one that forks
    # returns in the child into the parent's call, whose worker thread or
    # connection the child must not wait for nor read.
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    assert c.User.get(id=1)["body"]["id"] == 1
    it = c.records("DomainCDR", page_size=100, prefetch=False)
    action = {"call": "get", "login": "auth", "next": "list"}[what]
    sim.fault("delay:1500", times=1, action=action)
    forked: Dict[str, int] = {}

    def fork_here(signum: int, frame: Any) -> None:
        forked["pid"] = os.fork()

    previous = signal.signal(signal.SIGALRM, fork_here)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        if what == "call":
            got = c.call("DomainCDR", "get", {"id": 77})["body"]["id"]
        elif what == "login":
            got = c.login(LOGIN, PASSWORD).user_id
        else:
            got = next(it)["id"]
        err = None
    except Exception as e:  # noqa: BLE001 - judged below, in the child
        got, err = None, e
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if forked.get("pid") == 0:  # the child, back from the handler
        ok = isinstance(err, runtel.RuntelTimeoutError) and "forked during this call" in str(err)
        os._exit(0 if ok else 1 if err else 2)
    assert "pid" in forked, "the handler ran"
    assert err is None, err
    if what == "login":
        assert got == c.auth_info.user_id
    else:
        assert got == (77 if what == "call" else 1)
    assert wait_for_child(forked["pid"], 20) == 0
    assert c.User.get(id=1)["body"]["id"] == 1, "the parent goes on"


def test_a_fork_while_another_thread_is_inside_next_gives_the_child_an_error_not_a_hang(sim: Sim) -> None:
    import os

    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    assert c.User.get(id=1)["body"]["id"] == 1
    it = c.records("DomainCDR", page_size=100)
    # Long enough for a loaded machine to see the delay begin and fork within it.
    sim.fault("delay:5000", times=1, action="list")
    got: List[int] = []
    reader = threading.Thread(target=lambda: got.append(next(it)["id"]))
    reader.start()
    deadline = time.monotonic() + 10
    while sim.counters()["faults_applied"] == 0:  # the reader waits for page one, inside next()
        assert time.monotonic() < deadline, "the page was never asked for"
        time.sleep(0.01)
    pid = os.fork()
    if pid == 0:  # the child: the reader, and the lock it holds, stay in the parent
        code = 1
        try:
            try:
                next(it)
                code = 2
            except runtel.InvalidInputError as e:
                code = 0 if "forked" in str(e) else 4
            if code == 0 and it.position != 0:
                code = 5
            if code == 0:  # what the message advises works, with the same client
                fresh = c.records("DomainCDR", page_size=500, start=it.position)
                code = 0 if [r["id"] for r in fresh] == list(range(1, 2501)) else 6
        except BaseException:
            code = 3
        os._exit(code)
    assert wait_for_child(pid, 20) == 0
    reader.join(20)
    assert got == [1], "the parent's reader gets its record"
    assert [r["id"] for r in it] == list(range(2, 2501)), "and the parent's iterator goes on"


def _fork_child(c: runtel.Client, n: int, results: Any) -> None:
    problems: List[str] = []
    try:
        for k in range(100):
            offset = (n * 100 + k * 7) % 2500
            env = c.list("DomainCDR", limit=1, offset=offset)
            if env["list"][0]["id"] != offset + 1:
                problems.append(f"offset {offset} gave {env['list'][0]['id']}")
        # Both ways of ending a client, neither may log out the parent's token.
        if n % 2:
            c.close()
        else:
            with c:
                c.User.get(id=1)
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        problems.append(repr(e))
    results.put((n, problems))


def test_a_client_used_before_fork_works_in_four_children_and_the_parent(sim: Sim) -> None:
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD, max_retries=0)
    assert c.User.get(id=1)["body"]["id"] == 1
    logins = sim.counters()["auth_attempts"]
    assert logins == 1
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    children = [ctx.Process(target=_fork_child, args=(c, n, results)) for n in range(4)]
    for p in children:
        p.start()
    problems: List[str] = []
    for k in range(100):
        offset = (2000 + k * 3) % 2500
        env = c.list("DomainCDR", limit=1, offset=offset)
        if env["list"][0]["id"] != offset + 1:
            problems.append(f"parent: offset {offset} gave {env['list'][0]['id']}")
    reports: Dict[int, List[str]] = {}
    for _ in children:
        n, found = results.get(timeout=60)
        reports[n] = found
    for p in children:
        p.join(30)
        assert p.exitcode == 0
    assert not problems
    assert reports == {n: [] for n in range(4)}
    k = sim.counters()
    assert k["by_action"].get("logout", 0) == 0, "a child logged out the parent's token"
    assert k["auth_attempts"] == logins
    assert c.User.get(id=1)["body"]["id"] == 1 and c.status == "authenticated"
    assert sim.counters()["auth_attempts"] == logins, "the parent had to log in again"


SECONDS_KEYWORDS = ["timeout", "connect_timeout", "lockout_cooldown", "retry_base_delay",
                    "retry_max_delay", "relogin_margin"]
BAD_SECONDS = [1e300, math.nan, -1.0, math.inf, -math.inf, 10**400]


@pytest.mark.parametrize("value", BAD_SECONDS, ids=["1e300", "nan", "-1", "inf", "-inf", "10**400"])
@pytest.mark.parametrize("keyword", SECONDS_KEYWORDS)
def test_bad_seconds_are_invalid_input(keyword: str, value: Any) -> None:
    with pytest.raises(runtel.InvalidInputError, match=keyword) as e:
        runtel.Client("http://127.0.0.1:9", **{keyword: value})
    assert isinstance(e.value, ValueError)


def test_good_seconds_are_accepted_and_zero_timeouts_refused() -> None:
    runtel.Client("http://127.0.0.1:9", timeout=0.5, connect_timeout=2, lockout_cooldown=0,
                  retry_base_delay=0, retry_max_delay=0.1, relogin_margin=0)
    runtel.Client("http://127.0.0.1:9", timeout=30 * 24 * 3600)
    for keyword in ("timeout", "connect_timeout"):
        with pytest.raises(runtel.InvalidInputError):
            zero: Dict[str, Any] = {keyword: 0}
            runtel.Client("http://127.0.0.1:9", **zero)
    with pytest.raises(TypeError):
        runtel.Client("http://127.0.0.1:9", timeout="10")  # type: ignore[arg-type]


@pytest.mark.parametrize("holder", ["client", "records"])
def test_dropping_the_last_handle_logs_out_without_holding_the_gil(make_sim: Any, holder: str) -> None:
    s = make_sim()
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    c.User.list()
    last: Any = c
    if holder == "records":
        last = c.records("User")
        assert next(last)["id"] == 1
    del c
    s.fault("delay:1000", action="logout")
    ticks = 0
    done = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    started = time.monotonic()
    del last  # the last handle: its drop logs out, waiting a second for the answer
    took = time.monotonic() - started
    done.set()
    t.join()
    assert s.counters()["by_action"]["logout"] == 1 and took > 0.9
    assert ticks > 100, f"the other thread ran only {ticks} times during the logout"
