"""The other way in: importing the fixture by name (no plugin, no conftest)."""

from runtel.testing import Simulator, runtel_sim  # noqa: F401 (a fixture)


def test_an_imported_fixture_starts_with_no_arguments(runtel_sim: Simulator) -> None:
    assert runtel_sim.control("health")["ok"] is True
    with runtel_sim.client() as pbx:
        assert pbx.DomainCDR.list().total_count == 0
