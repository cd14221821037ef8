"""Fixtures: a fresh runtel-sim process per test, and its control endpoint,
through the package's own ``runtel.testing``."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from runtel.testing import DEFAULT_LOGIN, DEFAULT_PASSWORD, Simulator

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors"
LOGIN = DEFAULT_LOGIN
PASSWORD = DEFAULT_PASSWORD
# A user-like project that uses runtel.testing without this conftest (test_testing.py runs it).
collect_ignore = ["user_project"]


def sim_binary() -> str:
    """The simulator: ``$RUNTEL_SIM``, else ``release/runtel-sim`` under
    ``$CARGO_TARGET_DIR`` (relative to the working directory, as cargo takes
    it), else under the checkout's ``target``."""
    path = os.environ.get("RUNTEL_SIM")
    if not path:
        target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
        path = str(target / "release" / "runtel-sim")
    if not Path(path).exists():
        pytest.fail(f"runtel-sim not found at {path}: build it (cargo build --release -p runtel-sim)")
    return path


class Sim(Simulator):
    """A running simulator (the package's own ``runtel.testing.Simulator``),
    given the shared test vectors and the binary found by :func:`sim_binary`."""

    def __init__(self, args: List[str], vectors: Path = VECTORS) -> None:
        super().__init__("--vectors", str(vectors), *args, binary=sim_binary())


def wait_for_child(pid: int, seconds: float) -> int:
    """The exit code of the forked child ``pid``; fails the test (and kills
    the child) if it has not ended within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the child hung")
        time.sleep(0.02)


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Sim]]:
    started: List[Sim] = []

    def make(*args: str, vectors: Path = VECTORS) -> Sim:
        s = Sim(list(args), vectors)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def sim(make_sim: Callable[..., Sim]) -> Sim:
    # A pinned epoch: the same dates every run (record N has dt 1704067200 + 7*(N-1)).
    return make_sim("--seed", "DomainCDR=2500", "--seed-epoch", "1704067200")
