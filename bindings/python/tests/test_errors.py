"""The error table: every kind of the Rust core has its own exception class, and
transport errors carry their stable cause."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Callable

import pytest

import runtel
from conftest import LOGIN, PASSWORD, Sim


def test_every_error_kind_maps_to_its_own_class() -> None:
    kinds = runtel._runtel._error_kinds()
    assert kinds == ["invalid_input", "transport", "timeout", "protocol", "api", "auth",
                     "auth_lockout", "not_authenticated"], "a new kind: give it a class"
    classes = []
    for kind in kinds:
        e = runtel._runtel._sample_error(kind)
        cls = type(e)
        assert isinstance(e, runtel.RuntelError) and e.kind == kind and cls.kind == kind, (kind, cls)
        assert cls is not runtel.RuntelError, f"{kind} fell back to the base class"
        assert getattr(runtel, cls.__name__) is cls, f"{cls.__name__} is exported"
        assert str(e), kind
        classes.append(cls)
    assert len(set(classes)) == len(kinds), "one class per kind"
    with pytest.raises(ValueError, match="no_such_kind"):
        runtel._runtel._sample_error("no_such_kind")


def test_transport_causes_are_the_core_s_names() -> None:
    causes = runtel._runtel._transport_causes()
    assert causes == ["dns", "connect", "reset", "tls_unknown_issuer", "tls_expired",
                      "tls_wrong_name", "tls_other", "proxy", "malformed_http", "io"]
    e = runtel._runtel._sample_error("transport")
    assert e.cause in causes
    assert runtel._runtel._sample_error("api").cause is None


def test_transport_error_cause_when_nothing_listens() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{free.getsockname()[1]}"
    with pytest.raises(runtel.TransportError) as e:
        runtel.Client(dead, max_retries=0).login(LOGIN, PASSWORD)
    assert e.value.cause == "connect"
    assert e.value.kind == "transport"


def test_transport_error_causes_of_tls(make_sim: Callable[..., Sim], tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    s = make_sim("--tls", "--tls-name", "localhost", "--cert-out", str(ca))
    expired_ca = tmp_path / "expired.pem"
    old = make_sim("--tls", "--tls-expired", "--cert-out", str(expired_ca))
    cases: Any = [
        (s.url, {}, "tls_unknown_issuer"),
        (s.url.replace("localhost", "127.0.0.1"), {"verify": str(ca)}, "tls_wrong_name"),
        (old.url, {"verify": str(expired_ca)}, "tls_expired"),
    ]
    for url, kwargs, cause in cases:
        with pytest.raises(runtel.TransportError) as e:
            runtel.Client(url, max_retries=0, **kwargs).login(LOGIN, PASSWORD)
        assert e.value.cause == cause, (url, str(e.value))


def test_every_error_has_a_notifies_list() -> None:
    for kind in runtel._runtel._error_kinds():
        e = runtel._runtel._sample_error(kind)
        assert e.notifies == [], kind
    assert runtel.RuntelError("x").notifies == []


def test_an_api_error_carries_the_answer_s_notifies(make_sim: Callable[..., Sim], tmp_path: Path) -> None:
    notice = {"type": "warning", "text": "Balance below 100"}
    body = {"action": "list", "action_id": "x1", "obj": "DomainCDR", "code": 402,
            "msg_id": "payment_required", "message": "Top up the balance",
            "notifies": [notice, "plain text notice"], "body": {}}
    vector = {"request": {"obj": "DomainCDR", "action": "list", "action_id": "x1"},
              "expect": {"ok": False},
              "response": {"status": 402, "body_text": json.dumps(body),
                           "headers": [["Content-Type", "application/json"]]}}
    (tmp_path / "refused_with_notifies.json").write_text(json.dumps(vector))
    s = make_sim(vectors=tmp_path)
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    c.User.list()
    s.control("replay", {"vector": "refused_with_notifies"})
    with pytest.raises(runtel.ApiError) as e:
        c.call("DomainCDR", "list")
    assert (e.value.http_status, e.value.code, e.value.msg_id) == (402, 402, "payment_required")
    assert e.value.notifies == [notice, "plain text notice"]
    assert isinstance(e.value.notifies, list)
    # A refusal without notifies has an empty list.
    with pytest.raises(runtel.ApiError) as plain:
        c.User.get(id=4242)
    assert plain.value.notifies == []


def test_a_role_without_the_permission_is_refused_with_403(make_sim: Callable[..., Sim]) -> None:
    s = make_sim("--seed", "DomainCDR=5", "--user", "reader@sim.runtel.local:reader-pw:perms=DomainCDR.list")
    reader = runtel.Client(s.url, login="reader@sim.runtel.local", password="reader-pw")
    assert [r["id"] for r in reader.DomainCDR.list().records] == [1, 2, 3, 4, 5]
    for attempt in (lambda: reader.User.list(), lambda: reader.DomainCDR.get(id=1)):
        with pytest.raises(runtel.ApiError) as e:
            attempt()
        assert type(e.value) is runtel.ApiError
        assert (e.value.http_status, e.value.code, e.value.msg_id) == (403, 403, "forbidden")


def test_an_operator_names_the_pbx_with_domain_id(make_sim: Callable[..., Sim]) -> None:
    s = make_sim("--seed", "DomainCDR=5")
    op = runtel.Client(s.url, login="operator@sim.runtel.local", password="operator")
    with pytest.raises(runtel.ApiError) as e:
        op.DomainCDR.list()
    assert (e.value.http_status, e.value.code, e.value.msg_id) == (400, 400, "domain_required")
    assert op.auth_info is not None and op.auth_info.is_platform_operator
    r = op.DomainCDR.list(domain_id=1)
    assert [x["id"] for x in r.records] == [1, 2, 3, 4, 5] and r.total_count == 5
    assert [x["id"] for x in op.records("DomainCDR", domain_id=1, page_size=2)] == [1, 2, 3, 4, 5]
