"""Fixtures: a fresh runtel-sim process per test, and its control endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors"
LOGIN = "admin@sim.runtel.local"
PASSWORD = "admin"


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


class Sim:
    """A running simulator: its URL and its /_sim/ control endpoint."""

    def __init__(self, args: List[str], vectors: Path = VECTORS) -> None:
        self.proc = subprocess.Popen(
            [sim_binary(), "--listen", "127.0.0.1:0", "--vectors", str(vectors), *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), line
        self.url = line.split()[-1]

    def control(self, op: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/_sim/{op}", data=data, method="GET" if data is None else "POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def fault(self, fault: str, times: int = 1, action: str | None = None) -> None:
        assert self.control("faults", {"fault": fault, "times": times, "action": action}) == {"ok": True}

    def counters(self) -> Any:
        return self.control("counters")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


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
