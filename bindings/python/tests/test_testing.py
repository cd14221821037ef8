"""runtel.testing, the simulator for users' own tests: run as a user would (a
project of its own, no conftest), found through RUNTEL_SIM or PATH, and a
clear error when it is nowhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Dict, Optional

import pytest

import runtel
import runtel.testing
from runtel.testing import Simulator, SimulatorError, SimulatorNotFound, find_simulator
from conftest import sim_binary

USER_PROJECT = Path(__file__).with_name("user_project")


def run_user_project(tmp_path: Path, env: Dict[str, str], *names: str) -> subprocess.CompletedProcess[str]:
    """Copies the user project into a directory of its own and runs pytest on it
    there, as its owner would, with the given environment."""
    project = tmp_path / "project"
    shutil.copytree(USER_PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *names],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )


def env_without_sim(path: Optional[str] = None) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RUNTEL_SIM", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env["PATH"] = path if path is not None else os.path.dirname(sys.executable)
    return env


def test_a_user_project_runs_with_the_sim_found_on_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "runtel-sim").symlink_to(os.path.abspath(sim_binary()))
    env = env_without_sim(f"{bin_dir}{os.pathsep}{os.path.dirname(sys.executable)}")
    run = run_user_project(tmp_path, env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 passed" in run.stdout and "warning" not in run.stdout, run.stdout


def test_without_a_sim_the_user_is_told_how_to_get_one(tmp_path: Path) -> None:
    run = run_user_project(tmp_path, env_without_sim(), "test_with_import.py")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 error" in run.stdout, run.stdout
    assert "SimulatorNotFound" in run.stdout and "RUNTEL_SIM is not set and it is not on PATH" in run.stdout
    assert "cargo install --locked --path crates/sim" in run.stdout, run.stdout


def test_runtel_sim_comes_before_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    decoy = tmp_path / "runtel-sim"
    decoy.write_text("#!/bin/sh\nexit 3\n")
    decoy.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("RUNTEL_SIM", raising=False)
    assert find_simulator() == str(decoy)
    real = os.path.abspath(sim_binary())
    monkeypatch.setenv("RUNTEL_SIM", real)
    assert find_simulator() == real
    with Simulator() as sim:
        assert sim.binary == real and sim.control("health")["ok"] is True
    monkeypatch.setenv("RUNTEL_SIM", str(tmp_path / "missing"))
    with pytest.raises(SimulatorNotFound, match="missing does not exist.*cargo install"):
        find_simulator()
    monkeypatch.setenv("RUNTEL_SIM", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="is not an executable file"):
        Simulator()
    # A program that exits at once: the error says so, with what it printed.
    monkeypatch.setenv("RUNTEL_SIM", str(decoy))
    with pytest.raises(SimulatorError, match="exit code 3"):
        Simulator()


def test_a_refused_start_shows_the_simulators_message() -> None:
    with pytest.raises(SimulatorError, match="did not start .*--no-such-option") as err:
        Simulator("--no-such-option", binary=sim_binary())
    assert not isinstance(err.value, SimulatorNotFound)


def test_stop_ends_the_process_and_control_refusals_raise() -> None:
    sim = Simulator(binary=sim_binary())
    assert "running" in repr(sim) and sim.url in repr(sim)
    with pytest.raises(SimulatorError, match="/_sim/faults: HTTP 400"):
        sim.fault("no_such_fault")
    sim.reset_counters()
    assert sim.counters()["requests"] == 0
    proc = sim._proc
    sim.stop()
    sim.stop()
    assert proc.returncode is not None and not sim.running


def test_the_module_imports_without_pytest() -> None:
    child = (
        "import sys; sys.modules['pytest'] = None\n"
        "import runtel.testing as t\n"
        "assert not hasattr(t, 'runtel_sim')\n"
        f"with t.Simulator(binary={os.path.abspath(sim_binary())!r}) as s:\n"
        "    print(s.client().User.list().total_count is not None)\n"
    )
    run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout == "True\n", run.stderr


def test_the_module_is_in_the_installed_package_and_no_plugin_is_registered() -> None:
    assert Path(runtel.testing.__file__).parent == Path(runtel.__file__).parent
    files = {str(f) for f in metadata.distribution("runtel").files or []}
    assert "runtel/testing.py" in files, sorted(files)
    plugins = [e for e in metadata.entry_points().select(group="pytest11") if e.value.startswith("runtel")] \
        if hasattr(metadata.entry_points(), "select") else []
    assert plugins == [], "runtel.testing is opt-in (README: Testing your code)"


def test_the_module_and_a_users_typed_tests_pass_mypy_strict(tmp_path: Path) -> None:
    for target in (["-p", "runtel.testing"], [str(USER_PROJECT)]):
        run = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *target],
            capture_output=True, text=True, cwd=tmp_path, timeout=300,
        )
        assert run.returncode == 0, run.stdout + run.stderr
