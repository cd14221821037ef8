"""A user's own tests, written as the README tells: the plugin named in
``pytest_plugins``, no conftest, nothing from runtel's own test suite."""

from typing import Callable, List

import pytest

import runtel
from runtel.testing import Simulator

pytest_plugins = ["runtel.testing"]


@pytest.fixture
def runtel_sim_args() -> List[str]:
    return ["--seed", "DomainCDR=30", "--seed-epoch", "1704067200"]


def count_calls(url: str, login: str, password: str) -> int:
    """The code under test: how many calls the PBX logged."""
    with runtel.Client(url, login=login, password=password) as pbx:
        return sum(1 for _ in pbx.records("DomainCDR", page_size=7))


def test_the_fixture_serves_the_seeded_data(runtel_sim: Simulator) -> None:
    assert runtel_sim.url.startswith("http://127.0.0.1:")
    assert count_calls(runtel_sim.url, runtel_sim.login, runtel_sim.password) == 30
    counters = runtel_sim.counters()
    assert counters["auth_attempts"] == 1 and counters["by_action"]["list"] == 5, counters


def test_faults_reach_the_client(runtel_sim: Simulator) -> None:
    runtel_sim.fault("html_502", times=None, action="list")
    with runtel_sim.client(max_retries=1, retry_base_delay=0.01) as pbx:
        with pytest.raises(runtel.ApiError) as err:
            pbx.User.list()
    assert err.value.http_status == 502
    runtel_sim.clear_faults()
    with runtel_sim.client() as pbx:
        assert pbx.User.list().records


def test_the_factory_starts_more_with_their_own_arguments(runtel_sim_factory: Callable[..., Simulator]) -> None:
    plain = runtel_sim_factory()
    secure = runtel_sim_factory("--user", "ops@example.com:s3cret", tls=True)
    assert plain.url != secure.url and secure.url.startswith("https://")
    with secure.client() as pbx:  # trusts the simulator's certificate
        assert pbx.login("ops@example.com", "s3cret").user_login == "ops@example.com"
    assert secure.control("health")["ok"] is True
    plain.stop()
    assert not plain.running and secure.running


def test_a_502_is_retried(runtel_sim_factory: Callable[..., Simulator]) -> None:
    sim = runtel_sim_factory("--seed", "DomainCDR=3", tls=True)
    sim.fault("html_502", times=1, action="list")
    with sim.client() as pbx:
        assert len(pbx.DomainCDR.list().records) == 3
    assert sim.counters()["faults_applied"] == 1


def test_the_context_manager_stops_the_process() -> None:
    with Simulator("--seed", "User=3") as sim:
        with sim.client() as pbx:
            assert pbx.User.list().total_count is not None
        pid = sim.pid
    assert not sim.running, pid
