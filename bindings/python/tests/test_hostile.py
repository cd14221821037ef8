"""Hostile and broken servers, through the installed wheel: echoed secrets,
spoiled auth answers, capped or stuck paging, compression, lock-outs."""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from pathlib import Path
from typing import Any, List

import pytest

import runtel
from conftest import LOGIN, PASSWORD


def shown(e: BaseException) -> List[str]:
    """Every way an exception's text reaches a person or a log."""
    texts = [str(e), repr(e), repr(e.args), repr(vars(e))]
    texts += [str(v) for v in vars(e).values()]
    texts += traceback.format_exception(type(e), e, e.__traceback__)
    return texts


def logged(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records] + [caplog.text]


@pytest.mark.parametrize("action", ["auth", "list"])
@pytest.mark.parametrize("fault", ["echo_request", "echo_envelope"])
def test_an_echoed_request_shows_no_password_or_token(
    make_sim: Any, caplog: pytest.LogCaptureFixture, fault: str, action: str
) -> None:
    login, password = "echo@sim.runtel.local", "Pw-echo-7c41d9a2e0"
    s = make_sim("--user", f"{login}:{password}")
    caplog.set_level(logging.DEBUG, logger="runtel")
    c = runtel.Client(s.url, login=login, password=password, max_retries=0)
    secrets = [password]
    if action == "list":
        secrets.append(c.login(login, password).token)
    s.fault(fault, action=action)
    with pytest.raises(runtel.RuntelError) as e:
        if action == "auth":
            c.login(login, password)
        else:
            c.User.list()
    assert s.counters()["faults_applied"] == 1, "the server did echo the request"
    assert e.value.http_status == 400
    texts = shown(e.value) + logged(caplog)
    assert any("runtel" in r.name for r in caplog.records), "the log was captured"
    for secret in secrets:
        for text in texts:
            assert secret not in text, text


@pytest.mark.parametrize("variant", ["truncated", "trailing_garbage", "no_code", "array", "http500"])
def test_a_spoiled_auth_answer_shows_no_token(
    make_sim: Any, caplog: pytest.LogCaptureFixture, variant: str
) -> None:
    s = make_sim()
    caplog.set_level(logging.DEBUG, logger="runtel")
    c = runtel.Client(s.url, max_retries=0)
    s.fault(f"auth_malformed:{variant}", action="auth")
    with pytest.raises(runtel.RuntelError) as e:
        c.login(LOGIN, PASSWORD)
    token = s.control("last-token")["token"]
    assert isinstance(token, str) and len(token) >= 16, "the server issued a token"
    assert c.status != "authenticated"
    for text in shown(e.value) + logged(caplog):
        assert token not in text, text


def test_a_server_capping_pages_still_gives_every_record(make_sim: Any) -> None:
    s = make_sim("--seed", "DomainCDR=250")
    assert s.control("paging", {"max_page_size": 100})["ok"]
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    it = c.records("DomainCDR")
    assert (it.shortfall, it.server_page_size) == (None, None)
    assert [r["id"] for r in it] == list(range(1, 251))
    assert (it.total_count, it.server_page_size, it.shortfall) == (250, 100, None)
    assert s.counters()["by_action"]["list"] == 3


def test_a_list_ending_below_its_count_reports_the_shortfall(make_sim: Any, tmp_path: Path) -> None:
    # A hand-made answer: an empty page while the count still says 10.
    body = {"action": "list", "action_id": "v1", "obj": "DomainCDR", "code": 200,
            "notifies": [], "list": [], "total_count": 10}
    vector = {"request": {"action_id": "v1"}, "expect": {"ok": True},
              "response": {"status": 200, "body_text": json.dumps(body),
                           "headers": [["Content-Type", "application/json"]]}}
    (tmp_path / "empty_page.json").write_text(json.dumps(vector))
    s = make_sim("--seed", "DomainCDR=4", vectors=tmp_path)
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    it = c.records("DomainCDR", page_size=2)
    assert next(it)["id"] == 1
    s.control("replay", {"vector": "empty_page"})
    assert [r["id"] for r in it] == [2]
    assert (it.total_count, it.shortfall, it.position) == (10, 8, 2)


def test_a_server_ignoring_offset_is_caught_after_one_page(make_sim: Any) -> None:
    s = make_sim("--seed", "DomainCDR=250")
    s.control("paging", {"ignore_offset": True})
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    got: List[int] = []
    started = time.monotonic()
    with pytest.raises(runtel.ProtocolError, match="offset"):
        for r in c.records("DomainCDR", page_size=100):
            got.append(r["id"])
    assert time.monotonic() - started < 5
    assert got == list(range(1, 101))
    assert s.counters()["by_action"]["list"] == 2


def test_gzip_answers_are_read_and_a_gzip_bomb_refused_quickly(make_sim: Any) -> None:
    s = make_sim("--seed", "DomainCDR=50")
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD, max_retries=0)
    c.User.list()
    s.fault("gzip", action="list")
    page = c.list("DomainCDR", limit=20)
    assert [r["id"] for r in page["list"]] == list(range(1, 21)) and page["total_count"] == 50
    assert s.counters()["faults_applied"] == 1
    s.fault("gzip_bomb:4294967296", action="list")
    started = time.monotonic()
    with pytest.raises(runtel.ProtocolError):
        c.User.list()
    assert time.monotonic() - started < 3
    assert c.User.list()["code"] == 200


def test_a_byte_order_mark_is_accepted(make_sim: Any) -> None:
    s = make_sim()
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD, max_retries=0)
    s.fault("bom", action="auth")
    s.fault("bom", action="list")
    assert c.User.list()["total_count"] == 1
    assert c.status == "authenticated"
    assert s.counters()["faults_applied"] == 2


def test_an_expiry_already_past_does_not_cause_a_login_per_call(make_sim: Any) -> None:
    s = make_sim()
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    s.fault("exp_past", action="auth")
    for _ in range(5):
        assert c.User.get(id=1)["body"]["id"] == 1
    assert s.counters()["auth_attempts"] == 1


def test_thirty_two_wrong_passwords_at_once_send_three_logins(make_sim: Any) -> None:
    s = make_sim("--defender-max-failures", "1000")
    outcomes: List[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(32)

    def work() -> None:
        c = runtel.Client(s.url, max_retries=0, lockout_cooldown=60)
        barrier.wait()
        try:
            c.login(LOGIN, "not-the-password")
            r = "accepted"
        except runtel.RuntelError as e:
            r = type(e).__name__
        with lock:
            outcomes.append(r)

    threads = [threading.Thread(target=work) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert sorted(set(outcomes)) == ["AuthError", "AuthLockoutError"], outcomes
    assert outcomes.count("AuthError") == 3
    assert s.counters()["auth_attempts"] == 3


@pytest.mark.parametrize("fault", ["delay:2000", "html_401"])
def test_logins_that_time_out_or_hit_html_401_count_as_failures(make_sim: Any, fault: str) -> None:
    s = make_sim("--defender-max-failures", "1000")
    s.fault(fault, times=5, action="auth")
    c = runtel.Client(s.url, timeout=0.4, max_retries=0, lockout_cooldown=60)
    errors: List[BaseException] = []
    for _ in range(5):
        with pytest.raises(runtel.RuntelError) as e:
            c.login(LOGIN, PASSWORD)
        errors.append(e.value)
    kinds = [type(e) for e in errors]
    assert runtel.AuthLockoutError not in kinds[:3], kinds
    assert kinds[3:] == [runtel.AuthLockoutError, runtel.AuthLockoutError], kinds
    assert s.counters()["auth_attempts"] == 3


def test_records_properties_are_typed_in_the_stub() -> None:
    stub = Path(runtel.__file__).with_name("_runtel.pyi").read_text()
    for prop in ("shortfall", "server_page_size"):
        assert f"def {prop}(self) -> Optional[int]" in stub, prop
    assert runtel.Records.shortfall.__doc__ and runtel.Records.server_page_size.__doc__
