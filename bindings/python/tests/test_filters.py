"""Filters as code: ``runtel.where(...)`` joined with ``&`` / ``|`` builds the
wire form of every shared case, refuses what the wire cannot say, and selects
what it says on the simulator."""

from __future__ import annotations

import copy
import datetime
import functools
import json
import operator
import pickle
from pathlib import Path
from typing import Any, Dict, List

import pytest

import runtel
from conftest import LOGIN, PASSWORD, Sim

CASES: List[Dict[str, Any]] = json.loads(
    (Path(__file__).parent / ".." / ".." / ".." / "tests" / "filters.json").read_text(encoding="utf-8")
)["cases"]

UTC = datetime.timezone.utc
EPOCH = 1704067200  # the seeded record N has dt EPOCH + 7*(N-1)


def joined(filters: List[runtel.Filter], any_: bool) -> runtel.Filter:
    return functools.reduce(operator.or_ if any_ else operator.and_, filters)


def wire_text(f: runtel.Filter) -> str:
    return json.dumps(f.to_dict(), separators=(",", ":"), ensure_ascii=False)


def test_there_are_shared_cases_with_every_operator_and_both_joins() -> None:
    ops = {c["name"] for case in CASES for c in case["conditions"]}
    assert ops == {"eq", "ne", "lt", "le", "gt", "ge", "contains"}
    assert {case["any"] for case in CASES if len(case["conditions"]) > 1} == {True, False}


@pytest.mark.parametrize("case", CASES, ids=[" ".join(c["where"]) for c in CASES])
def test_every_shared_case_is_built_by_where(case: Dict[str, Any]) -> None:
    by_symbol = joined([runtel.where(c["field"], c["op"], c["value"]) for c in case["conditions"]], case["any"])
    by_name = joined([runtel.where(c["field"], c["name"], c["value"]) for c in case["conditions"]], case["any"])
    by_text = joined([runtel.where(t) for t in case["where"]], case["any"])
    for f in (by_symbol, by_name, by_text):
        assert f.to_dict() == case["wire"]
        assert wire_text(f) == case["wire_text"]
        assert f.any == case["any"] and len(f) == len(case["conditions"])
    assert runtel.Filter.from_dict(case["wire"]) == by_symbol == by_text
    assert runtel.Filter.from_dict(case["wire"]).to_dict() == case["wire"]
    assert by_name.conditions == [(c["field"], c["op"], c["value"]) for c in case["conditions"]]


def test_where_takes_datetimes_and_dates_as_unix_seconds() -> None:
    def sent(*args: Any) -> Any:
        return runtel.where(*args).to_dict()["field_list"][0]["value"]

    moscow = datetime.timezone(datetime.timedelta(hours=3))
    assert sent("dt", ">=", EPOCH) == EPOCH
    assert sent("dt", ">=", datetime.datetime(2024, 1, 1, tzinfo=UTC)) == EPOCH
    assert sent("dt", ">=", datetime.datetime(2024, 1, 1, 3, 0, 7, tzinfo=moscow)) == EPOCH + 7, "aware: converted"
    assert sent("dt", ">=", datetime.datetime(2024, 1, 1, 0, 0, 7)) == EPOCH + 7, "naive: UTC"
    assert sent("dt", "<", datetime.date(2024, 1, 2)) == EPOCH + 86400, "a date: its midnight UTC"
    assert sent("dt", ">", datetime.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)) == -1
    # A fraction of a second: rounded so that whole-second dt compare the same.
    half = datetime.datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)
    assert (sent("dt", ">=", half), sent("dt", "<", half)) == (EPOCH + 1, EPOCH + 1)
    assert (sent("dt", "<=", half), sent("dt", ">", half)) == (EPOCH, EPOCH)
    before = datetime.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
    assert (sent("dt", ">=", before), sent("dt", "<=", before)) == (0, -1)
    for op in ("=", "!=", "~"):
        with pytest.raises(runtel.InvalidInputError, match="whole seconds"):
            runtel.where("dt", op, half)
    assert sent("dt", "=", half.replace(microsecond=0)) == EPOCH
    # Anything else goes as JSON, exactly.
    assert sent("id", ">", 2**64 + 5) == 2**64 + 5
    assert sent("name", "=", None) is None and sent("flag", "=", True) is True
    with pytest.raises(runtel.InvalidInputError, match="set"):
        runtel.where("id", "=", {1, 2})


def test_mixing_and_with_or_is_refused() -> None:
    a, b, c = runtel.where("a", "=", 1), runtel.where("b", "=", 2), runtel.where("c", "=", 3)
    for build in (lambda: (a & b) | c, lambda: a & (b | c), lambda: (a | b) & (c & a)):
        with pytest.raises(runtel.InvalidInputError, match=r"mix & \(AND\) and \| \(OR\)"):
            build()
    assert ((a | b) | c).to_dict()["type"] == 1 and len((a | b) | c) == 3
    assert (a & (b & c)).to_dict()["type"] == 0 and len(a & (b & c)) == 3
    # One condition has no join of its own: it goes with either.
    one_or = runtel.Filter.from_dict({"field_list": [{"field": "a", "condition_type": 0, "value": 1}], "type": 1})
    assert (one_or & b).to_dict()["type"] == 0
    with pytest.raises(TypeError):
        a & {"field_list": []}  # type: ignore[operator]


def test_where_refuses_what_it_cannot_read() -> None:
    with pytest.raises(runtel.InvalidInputError, match="unknown filter operator"):
        runtel.where("dt", "=>", 1)
    with pytest.raises(runtel.InvalidInputError, match="FIELD OP VALUE"):
        runtel.where("no operator here")
    # The core splits at the first operator: values may hold operator characters.
    assert runtel.where("name~a=b").conditions == [("name", "~", "a=b")]
    with pytest.raises(runtel.InvalidInputError, match="empty"):
        runtel.where("", "=", 1)
    with pytest.raises(TypeError):
        runtel.where("dt", ">=")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="field must be a str"):
        runtel.where(1, "=", 2)  # type: ignore[call-overload]
    with pytest.raises(runtel.InvalidInputError, match="type"):
        runtel.Filter.from_dict({"field_list": [], "type": 2})


def test_a_filter_is_a_value() -> None:
    f = runtel.where("dt", ">=", EPOCH) & runtel.where("src_name", "contains", "Ив")
    assert repr(f) == "runtel.where('dt', '>=', 1704067200) & runtel.where('src_name', '~', 'Ив')"
    assert eval(repr(f), {"runtel": runtel}) == f
    assert f.conditions == [("dt", ">=", EPOCH), ("src_name", "~", "Ив")]
    assert pickle.loads(pickle.dumps(f)) == f and copy.deepcopy(f) == f
    assert f != runtel.where("dt", ">=", EPOCH) and f != f.to_dict()
    g = runtel.where("a", "=", 1) | runtel.where("a", "=", 2)
    assert eval(repr(g), {"runtel": runtel}) == g and g.any


def seeded_ids(response: Any) -> List[int]:
    return [r["id"] for r in response.records]


def test_a_filter_selects_the_records_it_says(sim: Sim) -> None:
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    moscow = datetime.timezone(datetime.timedelta(hours=3))
    # Records 11 to 20: dt from EPOCH+70 (an aware time) to before EPOCH+140 (a naive one, UTC).
    window = (runtel.where("dt", ">=", datetime.datetime(2024, 1, 1, 3, 1, 10, tzinfo=moscow))
              & runtel.where("dt", "<", datetime.datetime(2024, 1, 1, 0, 2, 20)))
    expected = list(range(11, 21))
    r = c.DomainCDR.list(filter=window, limit=100)
    assert seeded_ids(r) == expected and r.total_count == 10
    assert seeded_ids(c.call("DomainCDR", "list", filter=window, limit=100)) == expected
    assert seeded_ids(c.list("DomainCDR", filter=window, limit=100)) == expected
    assert [x["id"] for x in c.records("DomainCDR", filter=window, page_size=3)] == expected
    assert [x["id"] for x in c.records("DomainCDR", filter=window, page_size=4, consistent=True)] == expected
    # The same wire form as a dict selects the same.
    assert seeded_ids(c.DomainCDR.list(filter=window.to_dict(), limit=100)) == expected
    either = runtel.where("id", "=", 3) | runtel.where("id", "=", 2500)
    assert [x["id"] for x in c.records("DomainCDR", filter=either)] == [3, 2500]
    assert seeded_ids(c.DomainCDR.list(filter=runtel.where("id", "<=", 2) | runtel.where("id", ">", 2498))) == [
        1, 2, 2499, 2500]
    assert c.DomainCDR.list(filter=runtel.where("id", "!=", 1), limit=1).total_count == 2499
    assert c.DomainCDR.list(filter=runtel.where("dt", "<", datetime.date(2024, 1, 1))).total_count == 0


def test_contains_and_a_date_select_new_records(sim: Sim) -> None:
    sim.control("records", {"obj": "DomainCDR", "records": [
        {"dt": EPOCH + 86400 * 30, "src": "201", "src_name": "Иван Петров"},
        {"dt": EPOCH + 86400 * 30 + 1, "src": "202", "src_name": "Мария Иванова"},
        {"dt": EPOCH + 86400 * 30 + 2, "src": "203", "src_name": "Пётр"},
    ]})
    c = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    since = datetime.date(2024, 1, 31)
    f = runtel.where("dt", ">=", since) & runtel.where("src_name", "contains", "Ив")
    got = list(c.records("DomainCDR", filter=f))
    assert [r["src"] for r in got] == ["201", "202"]
