"""The error table: every kind of the Rust core has its own exception class, and
transport errors carry their stable cause."""

from __future__ import annotations

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
