"""Client settings: every core option is a keyword of ``Client(...)`` and shows in
``client.options``; typos are refused with the nearest name; ``verify=`` takes a
CA file path as requests and httpx do."""

from __future__ import annotations

import pathlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest

import runtel
from conftest import LOGIN, PASSWORD, Sim

OFFLINE = "http://127.0.0.1:9"


def samples(ca: Path) -> Dict[str, Tuple[Any, Any]]:
    """For every option: a value unlike its default, and how ``options`` shows it."""
    return {
        "timeout": (12.5, 12.5),
        "connect_timeout": (3, 3.0),
        "ca_file": (str(ca), str(ca)),
        "accept_invalid_certs": (True, True),
        "proxy": ("http://127.0.0.1:3128", "http://127.0.0.1:3128"),
        "proxy_from_env": (True, True),
        "user_agent": ("probe/1.0", "probe/1.0"),
        "max_response_bytes": (1024, 1024),
        "login": ("someone@pbx.example", "someone@pbx.example"),
        "password": ("Pw-never-shown-4711", "***"),
        "max_auth_failures": (5, 5),
        "auth_lockout_cooldown": (60, 60.0),
        "max_retries": (0, 0),
        "retry_base_delay": (0.05, 0.05),
        "retry_max_delay": (1, 1.0),
        "relogin_margin": (10, 10.0),
        "logout_on_drop": (False, False),
        "max_idle_age": (5, 5.0),
        "warn_plain_http": (False, False),
    }


@pytest.fixture
def tls(make_sim: Callable[..., Sim], tmp_path: Path) -> Tuple[Sim, Path]:
    ca = tmp_path / "ca.pem"
    return make_sim("--tls", "--tls-name", "localhost", "--cert-out", str(ca)), ca


def test_every_core_option_is_a_keyword_that_reaches_the_client(tls: Tuple[Sim, Path]) -> None:
    _, ca = tls
    names = runtel.Client.OPTION_NAMES
    assert isinstance(names, tuple) and len(set(names)) == len(names) > 15
    assert {"timeout", "max_idle_age", "logout_on_drop", "warn_plain_http"} <= set(names)
    table = samples(ca)
    defaults = runtel.Client(OFFLINE).options
    assert list(defaults) == list(names), "options has one key per name, in order"
    assert defaults["timeout"] == 30.0 and defaults["password"] is None
    for name in names:
        assert name in table, f"a new option {name!r}: add a sample value to this test"
        given, shown = table[name]
        kwargs: Dict[str, Any] = {name: given}
        # Credentials go in pairs.
        if name == "login":
            kwargs["password"] = "pw"
        if name == "password":
            kwargs["login"] = "someone@pbx.example"
        options = runtel.Client(OFFLINE, **kwargs).options
        assert options[name] == shown and options[name] != defaults[name], name
        unchanged = {k: v for k, v in options.items() if k not in kwargs}
        assert unchanged == {k: v for k, v in defaults.items() if k not in kwargs}, name
    everything = {name: table[name][0] for name in names}
    c = runtel.Client(OFFLINE, **everything)
    assert c.options == {name: table[name][1] for name in names}
    assert "Pw-never-shown-4711" not in repr(c.options) + repr(c)
    # A copy each time: changing it changes nothing.
    c.options["timeout"] = 1
    assert c.options["timeout"] == 12.5


def test_unknown_keywords_name_the_nearest_valid_one() -> None:
    for typo, nearest in [("timout", "timeout"), ("verfy", "verify"), ("max_retry", "max_retries"),
                          ("lockout_coldown", "lockout_cooldown"), ("caFile", "ca_file"),
                          ("userAgent", "user_agent")]:
        wrong: Dict[str, Any] = {typo: 1}
        with pytest.raises(TypeError, match=f"'{typo}'.*did you mean '{nearest}'") as e:
            runtel.Client(OFFLINE, **wrong)
        assert not isinstance(e.value, runtel.RuntelError)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'") as far:
        runtel.Client(OFFLINE, colour="blue")  # type: ignore[call-arg]
    assert "did you mean" not in str(far.value)


def test_option_values_are_type_checked_by_the_option_s_kind() -> None:
    for name, bad in [("timeout", "10"), ("max_retries", 1.5), ("max_retries", True),
                      ("logout_on_drop", "yes"), ("logout_on_drop", 1), ("proxy", 5),
                      ("user_agent", b"bytes"), ("max_response_bytes", 1e6)]:
        kwargs: Dict[str, Any] = {name: bad}
        with pytest.raises(TypeError, match=name):
            runtel.Client(OFFLINE, **kwargs)
    for name, bad in [("max_retries", -1), ("max_auth_failures", 2**40), ("max_response_bytes", 0)]:
        kwargs = {name: bad}
        with pytest.raises(runtel.InvalidInputError, match=name):
            runtel.Client(OFFLINE, **kwargs)
    # None keeps the default.
    assert runtel.Client(OFFLINE, timeout=None, proxy=None).options["timeout"] == 30.0


def test_lockout_cooldown_is_the_python_name_of_auth_lockout_cooldown() -> None:
    assert runtel.Client(OFFLINE, lockout_cooldown=60).options["auth_lockout_cooldown"] == 60.0
    with pytest.raises(TypeError, match="lockout_cooldown"):
        runtel.Client(OFFLINE, lockout_cooldown=60, auth_lockout_cooldown=60)


def test_verify_takes_true_false_or_a_ca_file_path(tls: Tuple[Sim, Path]) -> None:
    s, ca = tls
    assert runtel.Client(s.url, verify=False).options["accept_invalid_certs"] is True
    default = runtel.Client(s.url, verify=True).options
    assert (default["accept_invalid_certs"], default["ca_file"]) == (False, None)
    for given in (str(ca), pathlib.Path(ca)):
        c = runtel.Client(s.url, verify=given)
        assert c.options["ca_file"] == str(ca) and c.options["accept_invalid_certs"] is False
        assert c.login(LOGIN, PASSWORD).user_login == LOGIN
    with pytest.raises(runtel.TransportError):
        runtel.Client(s.url, verify=True).login(LOGIN, PASSWORD)
    with pytest.raises(TypeError, match="verify"):
        runtel.Client(s.url, verify=str(ca), ca_file=str(ca))
    with pytest.raises(TypeError, match="verify"):
        runtel.Client(s.url, verify=False, accept_invalid_certs=False)
    with pytest.raises(TypeError, match="verify"):
        runtel.Client(s.url, verify=5)  # type: ignore[arg-type]
    with pytest.raises(runtel.InvalidInputError, match="no-such-ca.pem"):
        runtel.Client(s.url, verify=str(ca.with_name("no-such-ca.pem")))


def test_verify_true_with_accept_invalid_certs_is_refused(make_sim: Any) -> None:
    s = make_sim()
    with pytest.raises(TypeError, match="contradict"):
        runtel.Client(s.url, verify=True, accept_invalid_certs=True)
    c = runtel.Client(s.url, verify=True, accept_invalid_certs=False)
    assert c.options["accept_invalid_certs"] is False


def test_short_token_lifetimes_mean_a_handful_of_logins(make_sim: Any) -> None:
    """Tokens living 2 s with the default 60 s margin: 8 threads calling for 3 s
    log in a few times (the margin is clamped to a quarter of the lifetime)."""
    import threading
    import time

    s = make_sim("--token-lifetime", "2")
    c = runtel.Client(s.url, login="admin@sim.runtel.local", password="admin")
    errors: List[runtel.RuntelError] = []

    def work() -> None:
        end = time.monotonic() + 3
        while time.monotonic() < end:
            try:
                c.User.list()
            except runtel.RuntelError as e:
                errors.append(e)
            time.sleep(0.02)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    logins = s.counters()["auth_attempts"]
    assert 1 <= logins <= 5, logins
