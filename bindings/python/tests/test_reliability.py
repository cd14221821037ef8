"""Faults, TLS failures and the Defender, through the installed wheel."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import runtel
from conftest import LOGIN, PASSWORD, ROOT

# The fault matrix every front end runs: one table, tests/fault-matrix.json.
MATRIX = json.loads((ROOT / "tests" / "fault-matrix.json").read_text())
KIND_CLASS = {cls.kind: cls for cls in (runtel.RuntelTimeoutError, runtel.TransportError,
                                          runtel.ProtocolError, runtel.ApiError)}
FAULTS = [(case["fault"], KIND_CLASS[case["kind"]]) for case in MATRIX["faults"]]
CLIENT = {"timeout": MATRIX["client"]["timeout"], "max_retries": MATRIX["client"]["max_retries"],
          "max_response_bytes": MATRIX["client"]["max_response_bytes"]}


@pytest.mark.parametrize("fault,cls", FAULTS, ids=[f for f, _ in FAULTS])
def test_fault_gives_its_class_in_time_and_the_client_recovers(make_sim: Any, fault: str, cls: type) -> None:
    s = make_sim()
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD, **CLIENT)
    c.User.list()
    s.fault(fault)
    started = time.monotonic()
    with pytest.raises(cls) as e:
        c.User.list()
    assert type(e.value) is cls
    assert time.monotonic() - started < MATRIX["within_seconds"]
    assert c.User.list()["code"] == 200
    # A write hit by the same fault is reported, and sent exactly once.
    s.control("counters/reset", {})
    s.fault(fault, action="update")
    with pytest.raises(cls):
        c.User.update(id=1, surname="X")
    assert s.counters()["by_action"]["update"] == 1


def test_reads_are_retried_through_502s(make_sim: Any) -> None:
    s = make_sim()
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    c.User.list()
    s.control("counters/reset", {})
    s.fault("html_502", times=2, action="list")
    assert c.User.list()["code"] == 200
    assert s.counters()["by_action"]["list"] == 3


def test_defender_block_page(make_sim: Any) -> None:
    s = make_sim("--defender-max-failures", "1")
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    c.User.list()
    with pytest.raises(runtel.AuthError):
        runtel.Client(s.url.replace("127.0.0.1", "localhost")).login(LOGIN, "wrong")
    with pytest.raises(runtel.ApiError) as e:
        c.User.list()
    assert type(e.value) is runtel.ApiError
    assert (e.value.http_status, e.value.code) == (403, None)
    assert "403 Forbidden" in (e.value.body or "")
    s.control("defender/unblock", {})
    assert c.User.list()["code"] == 200


def test_tls_verification(make_sim: Any, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    s = make_sim("--tls", "--tls-name", "localhost", "--cert-out", str(ca))
    assert s.url.startswith("https://localhost:")
    with pytest.raises(runtel.TransportError, match="not trusted"):
        runtel.Client(s.url).login(LOGIN, PASSWORD)
    assert runtel.Client(s.url, ca_file=str(ca)).login(LOGIN, PASSWORD).user_login == LOGIN
    assert runtel.Client(s.url, verify=False).login(LOGIN, PASSWORD).user_login == LOGIN
    with pytest.raises(runtel.TransportError, match="not valid for this host name"):
        runtel.Client(s.url.replace("localhost", "127.0.0.1"), ca_file=str(ca)).login(LOGIN, PASSWORD)
    expired_ca = tmp_path / "expired.pem"
    old = make_sim("--tls", "--tls-expired", "--cert-out", str(expired_ca))
    with pytest.raises(runtel.TransportError, match="certificate has expired"):
        runtel.Client(old.url, ca_file=str(expired_ca)).login(LOGIN, PASSWORD)
