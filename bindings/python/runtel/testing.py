"""Test your own code against ``runtel-sim``, the offline Runtel API v2 simulator.

A context manager, usable anywhere::

    from runtel.testing import Simulator

    with Simulator("--seed", "DomainCDR=100") as sim:
        with sim.client() as pbx:                 # a runtel.Client, logged in lazily
            assert pbx.DomainCDR.list(limit=5).total_count == 100
        sim.fault("html_502", times=1, action="list")
        print(sim.counters())
    # the simulator process has stopped here

And pytest fixtures: put ``pytest_plugins = ["runtel.testing"]`` in your
top-level ``conftest.py`` (or in a test module), or import the fixtures
(``from runtel.testing import runtel_sim, runtel_sim_factory``)::

    def test_lists_calls(runtel_sim):
        my_app = MyApp(runtel_sim.url, runtel_sim.login, runtel_sim.password)
        ...

- ``runtel_sim``: a fresh simulator per test, started with the arguments of
  the ``runtel_sim_args`` fixture (define it to change them; none by default);
- ``runtel_sim_factory``: ``runtel_sim_factory("--seed", "User=3", tls=True)``
  starts one with those arguments, any number per test, all stopped after it.

The ``runtel-sim`` program is not in the wheel: it is looked for in
``$RUNTEL_SIM`` (its path), then on ``PATH``. From a checkout of runtel,
``cargo install --locked --path crates/sim`` puts it on ``PATH``.

The package does not register this as a plugin that pytest loads by itself:
installing runtel changes nothing in a project's test runs until the project
asks for it.

(PYTEST_DONT_REWRITE: a test module may import this module before pytest loads
it as a plugin; it has no assertions for pytest to rewrite, so pytest is told
not to warn about that.)
"""

from __future__ import annotations

import collections
import json
import os
import queue
import shutil
import ssl
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import IO, Any, Callable, Deque, Dict, Iterator, List, Optional, Sequence, Union

from ._runtel import Client

__all__ = [
    "DEFAULT_LOGIN",
    "DEFAULT_PASSWORD",
    "OPERATOR_LOGIN",
    "OPERATOR_PASSWORD",
    "Simulator",
    "SimulatorError",
    "SimulatorNotFound",
    "find_simulator",
    "runtel_sim",
    "runtel_sim_factory",
]

#: The simulator's default account: a PBX administrator of domain 1.
DEFAULT_LOGIN = "admin@sim.runtel.local"
DEFAULT_PASSWORD = "admin"
#: The simulator's platform operator (acts in any PBX with ``domain_id``).
OPERATOR_LOGIN = "operator@sim.runtel.local"
OPERATOR_PASSWORD = "operator"

_ENV = "RUNTEL_SIM"
_PROGRAM = "runtel-sim"
_HOW_TO_GET = (
    "runtel-sim is the simulator program from the runtel repository; from a checkout "
    "of it, `cargo install --locked --path crates/sim` installs it on PATH (or build it "
    "with `cargo build --release -p runtel-sim` and set RUNTEL_SIM=target/release/runtel-sim). "
    "See 'Testing your code: runtel.testing' in the Python package's README."
)


class SimulatorError(RuntimeError):
    """The simulator did not start, or its control endpoint refused a request."""


class SimulatorNotFound(SimulatorError, FileNotFoundError):
    """No ``runtel-sim`` program: neither ``$RUNTEL_SIM`` nor one on ``PATH``."""


def find_simulator() -> str:
    """The path of the ``runtel-sim`` program: ``$RUNTEL_SIM`` when set (it must
    name an executable file), else ``runtel-sim`` on ``PATH``. Raises
    :class:`SimulatorNotFound` saying how to get it."""
    named = os.environ.get(_ENV)
    if named:
        path = Path(named).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        problem = "is not an executable file" if path.exists() else "does not exist"
        raise SimulatorNotFound(f"{_ENV}={named} {problem}. {_HOW_TO_GET}")
    found = shutil.which(_PROGRAM)
    if found:
        return found
    raise SimulatorNotFound(f"{_PROGRAM} was not found: {_ENV} is not set and it is not on PATH. {_HOW_TO_GET}")


def _drain(stream: IO[str], sink: Callable[[str], None]) -> None:
    """Reads a pipe to its end (so the child never blocks writing to it)."""
    try:
        for line in stream:
            sink(line)
    except (OSError, ValueError):
        pass
    finally:
        sink("")


def _stop_process(proc: "subprocess.Popen[str]", workdir: str) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    shutil.rmtree(workdir, ignore_errors=True)


class Simulator:
    """A running ``runtel-sim`` process, stopped by :meth:`stop` or at the end of
    a ``with`` block (and, failing both, when it is garbage-collected or Python
    exits).

    ``Simulator(*args, binary=None, tls=False, listen="127.0.0.1:0",
    startup_timeout=30.0)``:

    - ``args``: the program's options, e.g. ``"--seed", "DomainCDR=1000"``,
      ``"--user", "ops@x.y:pw"``, ``"--max-page-size", "50"`` (``runtel-sim
      --help`` lists them all);
    - ``binary`` (default None): the program; None looks it up with
      :func:`find_simulator` (``$RUNTEL_SIM``, then ``PATH``);
    - ``tls`` (default False): serve HTTPS with a fresh self-signed certificate,
      whose PEM file is :attr:`ca_file` (trusted by :meth:`client`);
    - ``listen`` (default ``"127.0.0.1:0"``): the address; port 0 is a free port;
    - ``startup_timeout`` (default 30.0): seconds to wait for it to listen.
    """

    def __init__(
        self,
        *args: str,
        binary: Optional[Union[str, "os.PathLike[str]"]] = None,
        tls: bool = False,
        listen: str = "127.0.0.1:0",
        startup_timeout: float = 30.0,
    ) -> None:
        self.binary: str = os.fspath(binary) if binary is not None else find_simulator()
        self.args: List[str] = [str(a) for a in args]
        #: The default account, an administrator of PBX domain 1.
        self.login: str = DEFAULT_LOGIN
        self.password: str = DEFAULT_PASSWORD
        #: A platform operator account.
        self.operator_login: str = OPERATOR_LOGIN
        self.operator_password: str = OPERATOR_PASSWORD
        self._workdir = tempfile.mkdtemp(prefix="runtel-sim-")
        #: The PEM file of the certificate (with ``tls=True``), else None.
        self.ca_file: Optional[str] = os.path.join(self._workdir, "ca.pem") if tls else None
        command = [self.binary, "--listen", listen, *self.args]
        if self.ca_file is not None:
            command += ["--tls", "--cert-out", self.ca_file]
        self._stderr: Deque[str] = collections.deque(maxlen=200)
        lines: "queue.Queue[str]" = queue.Queue()
        try:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
            )
        except OSError as e:
            shutil.rmtree(self._workdir, ignore_errors=True)
            raise SimulatorError(f"cannot run {self.binary}: {e}. {_HOW_TO_GET}") from e
        self._finalizer = weakref.finalize(self, _stop_process, self._proc, self._workdir)
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._readers = [
            threading.Thread(target=_drain, args=(self._proc.stdout, lines.put), daemon=True),
            threading.Thread(target=_drain, args=(self._proc.stderr, self._stderr.append), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        try:
            first = lines.get(timeout=startup_timeout)
        except queue.Empty:
            self.stop()
            raise SimulatorError(f"{self.binary} did not start listening within {startup_timeout} s") from None
        if not first.startswith("listening on "):
            try:
                code: Optional[int] = self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            self.stop()
            raise SimulatorError(
                f"{self.binary} {' '.join(self.args)} did not start (exit code {code}): {self.stderr.strip() or first}"
            )
        #: The base URL to give a client, e.g. ``http://127.0.0.1:41234``.
        self.url: str = first.split()[-1].rstrip("/")
        self._ssl = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None

    @property
    def pid(self) -> int:
        """The process id."""
        return self._proc.pid

    @property
    def running(self) -> bool:
        """Whether the process is still running."""
        return self._proc.poll() is None

    @property
    def stderr(self) -> str:
        """What the simulator wrote to stderr so far (its last 200 lines)."""
        return "".join(self._stderr)

    def control(self, op: str, body: Any = None, timeout: float = 10.0) -> Any:
        """One request to the control endpoint ``/_sim/{op}``: a GET without
        ``body``, else a POST of ``body`` as JSON; returns the decoded JSON answer.
        E.g. ``control("paging", {"max_page_size": 2})``,
        ``control("records", {"obj": "DomainCDR", "records": [...]})``,
        ``control("tokens/expire", {})``. A refusal raises :class:`SimulatorError`."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}/_sim/{op}",
            data=data,
            method="GET" if data is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._ssl) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")
            raise SimulatorError(f"/_sim/{op}: HTTP {e.code}: {detail}") from None

    def counters(self) -> Dict[str, Any]:
        """What the simulator counted: requests, logins, per action, ...
        (``GET /_sim/counters``)."""
        result: Dict[str, Any] = self.control("counters")
        return result

    def reset_counters(self) -> None:
        """Sets every counter back to zero."""
        self.control("counters/reset", {})

    def fault(
        self,
        fault: str,
        times: Optional[int] = 1,
        action: Optional[str] = None,
        probability: Optional[float] = None,
    ) -> None:
        """Makes the next answers fail: ``fault`` is a fault name (``html_502``,
        ``drop_before``, ``delay:200``, ``wrong_action_id``, ...; ``runtel-sim
        --help`` lists them), ``times`` how many answers it hits (None: every one
        until :meth:`clear_faults`), ``action`` only answers to that action
        (``list``, ``auth``, ...), ``probability`` the chance of hitting each."""
        rule: Dict[str, Any] = {"fault": fault, "times": times, "action": action}
        if probability is not None:
            rule["probability"] = probability
        answer = self.control("faults", rule)
        if answer != {"ok": True}:
            raise SimulatorError(f"fault {fault!r} refused: {answer}")

    def clear_faults(self) -> None:
        """Removes every fault set so far."""
        self.control("faults/clear", {})

    def client(self, **options: Any) -> Client:
        """A :class:`runtel.Client` for this simulator with the default account
        (logged in on its first call) and the certificate trusted with
        ``tls=True``; ``options`` are the Client's keywords and override these."""
        settings: Dict[str, Any] = {"login": self.login, "password": self.password}
        if self.ca_file is not None:
            settings["ca_file"] = self.ca_file
        settings.update(options)
        return Client(self.url, **settings)

    def stop(self) -> None:
        """Stops the process (and removes its temporary files); a second call
        does nothing."""
        self._finalizer()
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> "Simulator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<runtel.testing.Simulator {getattr(self, 'url', '?')} pid={self.pid} {state}>"


try:
    import pytest
except ImportError:  # the context manager works without pytest
    pass
else:

    @pytest.fixture
    def runtel_sim_factory() -> Iterator[Callable[..., Simulator]]:
        """Starts simulators: ``runtel_sim_factory(*args, **kwargs)`` takes the
        arguments of :class:`Simulator` and returns a running one; all are
        stopped at the end of the test."""
        started: List[Simulator] = []

        def start(*args: str, **kwargs: Any) -> Simulator:
            sim = Simulator(*args, **kwargs)
            started.append(sim)
            return sim

        yield start
        for sim in started:
            sim.stop()

    @pytest.fixture
    def runtel_sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
        """A simulator for this test (stopped after it), started with the
        arguments of your ``runtel_sim_args`` fixture when you define one (a
        list of strings), else with none."""
        try:
            args: Sequence[str] = request.getfixturevalue("runtel_sim_args")
        except pytest.FixtureLookupError:
            args = ()
        with Simulator(*args) as sim:
            yield sim
