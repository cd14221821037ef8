"""The object catalog through the wheel: ``runtel.objects()`` reads the Rust
catalog, the ``client.DomainCDR`` attributes follow it (typos name the nearest
object), and the stubs type exactly its objects."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

import runtel
from conftest import LOGIN, PASSWORD, Sim

STUB = Path(runtel.__file__).with_name("_runtel.pyi")


def names() -> List[str]:
    return [o.name for o in runtel.objects()]


def test_objects_are_the_catalog_the_simulator_serves(sim: Sim) -> None:
    # The simulator is another build of the same Rust catalog: the two agree in
    # every detail only if the wheel reads it rather than a copy of its own.
    served = sim.control("objects")
    objects = runtel.objects()
    assert [o.to_dict() for o in objects] == served
    assert len(objects) == len(served) >= 38
    for o, d in zip(objects, served):
        assert (o.name, o.scope, o.source, o.kind, o.key, o.time_field, o.doc) == (
            d["name"], d["scope"], d["source"], d["kind"], d["key"], d["time_field"], d["doc"])
        assert o.actions == tuple(d["actions"]), o.name
        assert len(o.fields) == len(d["fields"]), o.name
        for f, fd in zip(o.fields, d["fields"]):
            assert f.to_dict() == fd
            assert (f.name, f.type, f.required, f.nullable, f.read_only) == (
                fd["name"], fd["type"], fd["required"], fd["nullable"], fd["read_only"])
            assert f.max_len == fd.get("max_len") and f.min_len == fd.get("min_len", 0), (o.name, f.name)
            assert f.choices == tuple(fd.get("choices", ())), (o.name, f.name)
            assert o.field(f.name) == f
    assert {o.scope for o in objects} == {"tenant", "domain", "platform"}
    assert {o.kind for o in objects} == {"config", "log"}
    assert {o.source for o in objects} == {"vendor", "field"}


def test_the_catalog_comes_from_the_extension_module() -> None:
    assert runtel.objects is runtel._runtel.objects
    assert runtel.ObjectSpec.__module__ == runtel.FieldSpec.__module__ == "runtel._runtel"
    # Each call gives a new list; the entries are values.
    a, b = runtel.objects(), runtel.objects()
    assert a == b and a is not b
    assert len(set(a)) == len(a)
    cdr = runtel.object_spec("DomainCDR")
    assert cdr == a[names().index("DomainCDR")] and hash(cdr) == hash(a[names().index("DomainCDR")])
    assert (cdr.scope, cdr.kind, cdr.time_field, cdr.key) == ("domain", "log", "dt", "id")
    assert cdr.field("dt") is not None and cdr.field("dt").type == "unix_time"  # type: ignore[union-attr]
    assert cdr.field("no_such_field") is None
    assert "DomainCDR" in repr(cdr) and "dt" in repr(cdr.field("dt"))
    user = runtel.object_spec("User")
    login = user.field("login")
    assert login is not None and (login.required, login.min_len, login.max_len) == (True, 1, 50)
    status = user.field("status")
    assert status is not None and status.choices == (0, 1)


def test_object_lookup_names_the_nearest_object() -> None:
    with pytest.raises(KeyError, match="did you mean DomainCDR"):
        runtel.object_spec("DomainCdr")
    with pytest.raises(KeyError, match="did you mean DomainQueue"):
        runtel.object_spec("DomainQeue")
    with pytest.raises(KeyError) as e:
        runtel.object_spec("Nothing")
    assert "did you mean" not in str(e.value)


def test_dir_of_a_client_lists_the_catalog_and_each_name_is_its_proxy(sim: Sim) -> None:
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    listed = dir(c)
    missing = [n for n in names() if n not in listed]
    assert not missing, f"dir(client) misses {missing}"
    for o in runtel.objects():
        proxy = getattr(c, o.name)
        assert proxy.spec == o and repr(proxy) == f"<runtel object {o.name}>"
        assert set(o.actions) <= set(dir(proxy)), o.name
    # The class shows them too (help(), IDEs that inspect the class).
    assert all(hasattr(runtel.Client, n) for n in names())
    assert c.DomainCDR.list(limit=3).records[0]["id"] == 1
    # An action the catalog does not list is still sent (the API may have more).
    with pytest.raises(runtel.ApiError) as e:
        c.DomainCDR.no_such_action()
    assert "no_such_action" in (e.value.body or "")


def test_a_misspelt_object_names_the_nearest_catalog_object(sim: Sim) -> None:
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    with pytest.raises(AttributeError, match="did you mean DomainCDR") as e:
        c.DomainCdr  # type: ignore[attr-defined]
    assert "client.call" in str(e.value), "says how to send it anyway"
    with pytest.raises(AttributeError, match="did you mean DomainQueue"):
        c.DomainQeue  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=r"no object FarFromAnything.*runtel\.objects\(\)"):
        c.FarFromAnything  # type: ignore[attr-defined]
    with pytest.raises(AttributeError) as plain:
        c.lowercase_name  # type: ignore[attr-defined]
    assert "catalog" not in str(plain.value)
    assert not hasattr(c, "DomainCdr")
    assert sim.counters()["requests"] == 0, "a typo sends nothing"


def test_call_still_sends_any_object_name(sim: Sim) -> None:
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    with pytest.raises(runtel.ApiError) as e:
        c.call("DomainCdr", "list")
    assert '"obj":"DomainCdr"' in (e.value.body or "").replace(" ", ""), e.value.body
    assert c.call("DomainCDR", "list", limit=1).total_count == 2500


def test_catalog_attributes_are_read_only(sim: Sim) -> None:
    c = runtel.Client(sim.url)
    with pytest.raises(AttributeError, match="read only"):
        c.User = None  # type: ignore[misc,assignment]
    with pytest.raises(AttributeError, match="read only"):
        del c.User  # type: ignore[misc]
    assert repr(c.User) == "<runtel object User>"


def client_stub() -> ast.ClassDef:
    tree = ast.parse(STUB.read_text())
    return next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Client")


def test_the_stub_types_every_catalog_object_as_a_client_property() -> None:
    props = {}
    for member in client_stub().body:
        if isinstance(member, ast.FunctionDef) and member.name[:1].isupper():
            assert any(isinstance(d, ast.Name) and d.id == "property" for d in member.decorator_list), member.name
            assert member.returns is not None and ast.unparse(member.returns) == "ObjectProxy", member.name
            props[member.name] = ast.get_docstring(member) or ""
    catalog = {o.name: o for o in runtel.objects()}
    extra = sorted(set(props) - set(catalog))
    missing = sorted(set(catalog) - set(props))
    assert not extra, f"the stub names objects the catalog does not have: {extra}"
    assert not missing, f"the stub misses catalog objects: {missing}"
    for name, doc in props.items():
        assert catalog[name].doc in doc, f"{name}: the docstring does not carry the catalog's line"
    # No catch-all __getattr__: type checkers must see a misspelt object.
    assert not any(isinstance(m, ast.FunctionDef) and m.name == "__getattr__" for m in client_stub().body)


def test_a_type_checker_completes_catalog_objects_and_rejects_typos(tmp_path: Path) -> None:
    program = tmp_path / "prog.py"
    program.write_text(
        "import runtel\n"
        "pbx = runtel.Client('https://pbx.example')\n"
        "answer: runtel.Response = pbx.DomainCDR.list(limit=1)\n"
        "spec: runtel.ObjectSpec = pbx.DomainCDR.spec\n"
        "pbx.DomainCdr.list()\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(program)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    out = run.stdout + run.stderr
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "prog.py:5:" in errors[0] and "DomainCdr" in errors[0], out
