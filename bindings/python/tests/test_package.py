"""The package around the module: logging etiquette, stubs that match the module
and document everything, and the test fixtures' own lookup of the simulator."""

from __future__ import annotations

import ast
import logging
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest

import runtel
import conftest
from conftest import LOGIN, PASSWORD, ROOT

STUB = Path(runtel.__file__).with_name("_runtel.pyi")

# Rust's Debug syntax and a repeated logger name have no place in a log message.
RUST_SYNTAX = re.compile(r"\b(Some|None|Ok|Err)\(|\bNone\b(?=[,)])|::|\{ \w+: ")


def test_the_runtel_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("runtel").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers), handlers


def test_an_unconfigured_program_prints_no_log_warnings(make_sim: Any) -> None:
    # Without the NullHandler, logging's last resort prints warnings to stderr.
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{free.getsockname()[1]}"
    child = (
        "import sys, runtel\n"
        "try:\n"
        f"    runtel.Client({dead!r}, max_retries=0).login('a@b.c', 'pw')\n"
        "except runtel.TransportError:\n"
        "    print('refused')\n"
    )
    run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and run.stdout == "refused\n", run.stderr
    assert run.stderr == "", run.stderr
    # The same program with logging configured does see the warning.
    configured = "import logging; logging.basicConfig(format='%(name)s|%(message)s')\n" + child
    run = subprocess.run([sys.executable, "-c", configured], capture_output=True, text=True, timeout=30)
    assert "runtel|User.auth" in run.stderr and "login failed" in run.stderr, run.stderr


def test_log_messages_are_plain_words(make_sim: Any, caplog: pytest.LogCaptureFixture) -> None:
    s = make_sim("--seed", "DomainCDR=5")
    caplog.set_level(logging.DEBUG, logger="runtel")
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD, max_retries=1, timeout=0.8)
    c.User.list()
    with pytest.raises(runtel.ApiError):
        c.User.get(id=4242)
    with pytest.raises(runtel.ApiError):
        c.User.append(login="x")
    s.fault("html_502", times=1, action="list")
    c.User.list()
    s.fault("wrong_action_id")
    with pytest.raises(runtel.ProtocolError):
        c.User.list()
    s.control("paging", {"max_page_size": 2})
    list(c.records("DomainCDR", page_size=3))
    with pytest.raises(runtel.AuthError):
        runtel.Client(s.url, max_retries=0).login(LOGIN, "wrong")
    with pytest.raises(ZeroDivisionError):
        with runtel.Client(s.url, login=LOGIN, password=PASSWORD, max_retries=0) as inner:
            inner.User.list()
            s.fault("drop_before", action="logout")
            1 / 0
    c.close()
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("runtel")]
    assert len(messages) >= 8, messages
    assert any("code=404" in m for m in messages), messages
    assert any("code=-" in m for m in messages), "no code is written as -"
    assert any("logout" in m and "ZeroDivisionError" not in m and "another" in m for m in messages)
    for m in messages:
        assert not RUST_SYNTAX.search(m), m
        assert not m.lower().startswith("runtel"), m
        assert "runtel_client" not in m and "runtel_protocol" not in m, m


def stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text())


def documented(node: Any) -> bool:
    return ast.get_docstring(node) is not None


def test_every_stub_class_function_and_property_has_a_docstring() -> None:
    missing: List[str] = []
    for node in stub_tree().body:
        if isinstance(node, ast.FunctionDef) and not documented(node):
            missing.append(node.name)
        if isinstance(node, ast.ClassDef):
            if not documented(node):
                missing.append(node.name)
            for member in node.body:
                if isinstance(member, ast.FunctionDef) and not documented(member):
                    missing.append(f"{node.name}.{member.name}")
    assert not missing, f"undocumented in the stub: {missing}"


def test_the_stub_documents_every_constructor_parameter_and_its_default() -> None:
    seen = 0
    for node in stub_tree().body:
        if not isinstance(node, ast.ClassDef):
            continue
        for member in node.body:
            if not (isinstance(member, ast.FunctionDef) and member.name in ("__new__", "__init__")):
                continue
            seen += 1
            doc = ast.get_docstring(member) or ""
            args = member.args
            positional = args.posonlyargs + args.args
            defaults: List[Any] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
            pairs = list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
            for arg, default in pairs[1:]:
                if default is None:
                    assert f"``{arg.arg}``" in doc, f"{node.name}({arg.arg}) is not described"
                else:
                    shown = f"``{arg.arg}`` (default {ast.unparse(default)}"
                    assert shown in doc, f"{node.name}: no {shown!r} in the docstring"
    assert seen >= 2, "Client and Response have constructors"
    client = next(n for n in stub_tree().body if isinstance(n, ast.ClassDef) and n.name == "Client")
    new = next(m for m in client.body if isinstance(m, ast.FunctionDef) and m.name == "__new__")
    declared = {a.arg for a in new.args.kwonlyargs}
    missing = [n for n in runtel.Client.OPTION_NAMES if n not in declared]
    assert not missing, f"options missing from the stub's Client: {missing}"


def test_stubtest_finds_the_stub_and_the_module_agree(tmp_path: Path) -> None:
    allow = Path(__file__).with_name("stubtest-allowlist.txt")
    run = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "runtel", "--allowlist", str(allow)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_sim_is_found_in_cargo_target_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "release" / "runtel-sim"
    fake.parent.mkdir()
    fake.write_text("")
    monkeypatch.delenv("RUNTEL_SIM", raising=False)
    monkeypatch.setenv("CARGO_TARGET_DIR", str(tmp_path))
    assert conftest.sim_binary() == str(fake)
    monkeypatch.chdir(tmp_path.parent)
    monkeypatch.setenv("CARGO_TARGET_DIR", tmp_path.name)
    assert Path(conftest.sim_binary()).resolve() == fake.resolve(), "relative to the working directory"
    monkeypatch.setenv("RUNTEL_SIM", "/elsewhere/runtel-sim")
    with pytest.raises(pytest.fail.Exception, match="/elsewhere/runtel-sim"):
        conftest.sim_binary()
    monkeypatch.delenv("RUNTEL_SIM")
    monkeypatch.delenv("CARGO_TARGET_DIR")
    default = ROOT / "target" / "release" / "runtel-sim"
    if default.exists():
        assert conftest.sim_binary() == str(default)
    else:
        with pytest.raises(pytest.fail.Exception, match=str(default)):
            conftest.sim_binary()


def readme_blocks() -> List[str]:
    text = (ROOT / "bindings" / "python" / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_names_only_what_the_package_has() -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 3
    used = set()
    for block in blocks:
        compile(block, "README.md", "exec")
        used |= set(re.findall(r"\bruntel\.(\w+)", block))
    assert {"where", "objects", "object_spec", "Client"} <= used, used
    missing = sorted(n for n in used if not hasattr(runtel, n))
    assert not missing, f"the README uses runtel.{missing}"


def test_the_readme_examples_after_the_first_run(sim: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # The first example needs a real PBX and password; the others only `pbx`
    # (and the asyncio one the simulator's `url`, `user` and `pw`).
    with runtel.Client(sim.url, login=LOGIN, password=PASSWORD) as pbx:
        for block in readme_blocks()[1:]:
            scope = {"runtel": runtel, "pbx": pbx, "url": sim.url, "user": LOGIN, "pw": PASSWORD}
            exec(compile(block, "README.md", "exec"), scope)
    out = capsys.readouterr().out
    assert "DomainCDR domain log list, list_with_detail, get" in out
    assert "'condition_type': 5" in out and "'type': 0" in out
