"""Integrity (#21): numbers keep their exact value both ways, dates keep their
calendar day, and what the server says beside the data (notifies, a changing
count, repeated records) reaches the program."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

import runtel
from conftest import LOGIN, PASSWORD, VECTORS

UTC = datetime.timezone.utc
BIG = [2**64, 2**64 + 5, 2**127 + 3, 2**128 - 1, -(2**63) - 1, -(2**127)]


def vector(tmp_path: Path, name: str, body: Dict[str, Any], action: str = "list") -> None:
    v = {"request": {"obj": "User" if action == "auth" else "DomainCDR", "action": action,
                     "action_id": "x1"},
         "expect": {"ok": True},
         "response": {"status": 200, "body_text": json.dumps(body),
                      "headers": [["Content-Type", "application/json"]]}}
    (tmp_path / f"{name}.json").write_text(json.dumps(v))


def copy_vectors(tmp_path: Path, *names: str) -> None:
    for name in names:
        (tmp_path / f"{name}.json").write_text((VECTORS / f"{name}.json").read_text())


def test_the_shared_big_numbers_vector_comes_out_exact(make_sim: Any) -> None:
    s = make_sim()
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    c.User.list()
    s.control("replay", {"vector": "list_big_numbers"})
    r = c.call("DomainCDR", "list")
    got = [rec["id"] for rec in r.records]
    assert got == [2**64, 2**64 + 5] and got[0] != got[1]
    assert all(type(i) is int for i in got)
    assert r.records[0]["amount"] == 1000.10 and type(r.records[1]["amount"]) is int
    s.control("replay", {"vector": "list_big_numbers"})
    it = c.records("DomainCDR")
    assert [rec["id"] for rec in it] == [2**64, 2**64 + 5]


def test_integers_beyond_64_bits_are_exact_in_every_position(make_sim: Any, tmp_path: Path) -> None:
    body = {"action_id": "x1", "code": 200, "notifies": [{"n": BIG[0]}], "total_count": 2,
            "list": [{"id": n, "nested": {"deep": [n, {"n": n}]}, "f": 0.1, "neg_zero": -0.0}
                     for n in BIG[:2]],
            "extra": BIG, "top": BIG[2]}
    vector(tmp_path, "big", body)
    s = make_sim(vectors=tmp_path)
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    c.User.list()
    s.control("replay", {"vector": "big"})
    r = c.call("DomainCDR", "list")
    assert r["extra"] == BIG and [type(n) for n in r["extra"]] == [int] * len(BIG)
    assert r["top"] == 2**127 + 3 and r.notifies == [{"n": 2**64}]
    assert r.records[1]["nested"] == {"deep": [2**64 + 5, {"n": 2**64 + 5}]}
    assert r.records[0]["f"] == 0.1 and str(r.records[0]["neg_zero"]) == "-0.0"
    s.control("replay", {"vector": "big"})
    it = c.records("DomainCDR")
    records = list(it)
    assert [rec["nested"]["deep"][1]["n"] for rec in records] == BIG[:2]
    assert it.notifies == [{"n": 2**64}]


def test_big_integers_go_out_exactly_and_come_back(make_sim: Any) -> None:
    s = make_sim()
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    sent = {f"n{i}": n for i, n in enumerate(BIG)}
    back = c.DomainGateway.append({"name": "gw"}, **sent).record
    assert back is not None and {k: back[k] for k in sent} == sent
    listed = [r for r in c.records("DomainGateway") if r.get("name") == "gw"]
    assert len(listed) == 1 and {k: listed[0][k] for k in sent} == sent
    with pytest.raises(runtel.InvalidInputError, match="limit"):
        c.DomainCDR.list(limit=2**64)


def auth_vector(tmp_path: Path, name: str, **fields: Any) -> None:
    body = json.loads(json.loads((VECTORS / "auth_lenient_types.json").read_text())
                      ["response"]["body_text"])
    body["action_id"] = "x1"
    body["body"].update(fields)
    vector(tmp_path, name, body, action="auth")


def login_with(make_sim: Any, tmp_path: Path, name: str) -> runtel.AuthInfo:
    s = make_sim(vectors=tmp_path)
    c = runtel.Client(s.url, max_retries=0)
    s.control("replay", {"vector": name})
    return c.login("someone@pbx.example", "pw")


def test_the_shared_lenient_auth_vector_logs_in_with_year_9999(make_sim: Any, tmp_path: Path) -> None:
    copy_vectors(tmp_path, "auth_lenient_types")
    info = login_with(make_sim, tmp_path, "auth_lenient_types")
    assert info.exp == datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert info.expires_at is not None and info.expires_at.tzinfo is UTC
    assert (info.user_id, info.domain_id, info.role_type) == (48, 34, 1)
    assert info.notifies == [{"text": "Low balance"}]
    assert info.domain_billing_options is not None
    assert info.domain_billing_options["balance"] == "1000.10"


def test_dates_keep_their_calendar_day_and_a_numeric_balance_its_text(
    make_sim: Any, tmp_path: Path
) -> None:
    auth_vector(tmp_path, "y2999", exp="2999-12-31T23:59:59.999999",
                domain_billing_options={"balance": 1000.10, "block_inbound": False})
    # json.dumps writes 1000.1; the server's own spelling is what must survive.
    path = tmp_path / "y2999.json"
    path.write_text(path.read_text().replace('\\"balance\\": 1000.1,', '\\"balance\\": 1000.10,'))
    info = login_with(make_sim, tmp_path, "y2999")
    assert info.exp == datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert info.domain_billing_options is not None
    assert info.domain_billing_options["balance"] == "1000.10"
    assert info.to_dict()["domain_billing_options"]["balance"] == "1000.10"
    assert info.notifies == [{"text": "Low balance"}]


@pytest.mark.parametrize("exp,clamped", [
    ("0000-01-01T00:00:00", datetime.datetime.min),
    ("9999-12-31T23:00:00-05:00", datetime.datetime.max),
])
def test_expiries_beyond_python_s_datetime_are_clamped(
    make_sim: Any, tmp_path: Path, exp: str, clamped: datetime.datetime
) -> None:
    auth_vector(tmp_path, "edge", exp=exp)
    info = login_with(make_sim, tmp_path, "edge")
    assert info.exp == clamped.replace(tzinfo=UTC)


def test_records_report_notifies_drift_and_dropped_repeats(make_sim: Any, tmp_path: Path) -> None:
    copy_vectors(tmp_path, "list_notifies")
    # Page 2 repeats record 2 of page 1 (the list grew at its head meanwhile).
    vector(tmp_path, "repeat", {"action_id": "x1", "code": 200, "notifies": [{"text": "again"}],
                                "list": [{"id": 2}, {"id": 3}], "total_count": 5})
    s = make_sim("--seed", "DomainCDR=4", "--seed-epoch", "1704067200", vectors=tmp_path)
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    # Pages must be fetched after each replay is armed: no page ahead.
    it = c.records("DomainCDR", page_size=2, prefetch=False)
    assert (it.notifies, it.total_count_drift, it.duplicates_dropped) == ([], None, 0)
    assert [next(it)["id"], next(it)["id"]] == [1, 2]
    s.control("replay", {"vector": "repeat"})
    assert next(it)["id"] == 3, "record 2 is not yielded twice"
    assert it.duplicates_dropped == 1
    assert it.total_count_drift == (4, 5)
    assert it.notifies == [{"text": "again"}]
    assert list(it) == []
    s.control("replay", {"vector": "list_notifies"})
    again = c.records("DomainCDR")
    assert [r["id"] for r in again] == [1] and again.notifies[0]["text"] == "Balance below 100"


def test_records_pages_decode_in_one_pass_and_ids_compare_like_the_core(
    make_sim: Any, tmp_path: Path
) -> None:
    # Ids compare as the core compares them: 8 and "8" are one record, an id
    # beyond 64 bits keeps its digits; records without an id are kept.
    vector(tmp_path, "p1", {"action_id": "x1", "code": 200, "total_count": 6,
                            "list": [{"id": 2**70, "n": 1.5}, {"id": "9"}, {"id": 8}]})
    vector(tmp_path, "p2", {"action_id": "x1", "code": 200, "total_count": 6,
                            "list": [{"id": "8"}, {"n": None}, {"id": 7, "tags": ["a"]}]})
    # An answer with its records under body.list takes the core's parser.
    vector(tmp_path, "p3", {"action_id": "x1", "code": 200,
                            "body": {"list": [{"id": 6}], "total_count": 6}})
    s = make_sim(vectors=tmp_path)
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    c.User.list()
    before = runtel._runtel._decode_counts()
    it = c.records("DomainCDR", page_size=3, prefetch=False)
    got = []
    for page in ("p1", "p2", "p3"):
        s.control("replay", {"vector": page})
        got += [next(it) for _ in range(3 if page == "p1" else 2 if page == "p2" else 1)]
    assert got == [{"id": 2**70, "n": 1.5}, {"id": "9"}, {"id": 8}, {"n": None},
                   {"id": 7, "tags": ["a"]}, {"id": 6}]
    assert type(got[0]["id"]) is int and type(got[0]["n"]) is float
    assert it.duplicates_dropped == 1
    assert it.total_count == 6
    after = runtel._runtel._decode_counts()
    fast, slow_ok, slow_err = (after[k] - before[k] for k in ("fast", "slow_ok", "slow_error"))
    assert (fast, slow_ok, slow_err) == (2, 1, 0), (fast, slow_ok, slow_err)


def raw_vector(tmp_path: Path, name: str, text: str) -> None:
    v = {"request": {"obj": "DomainCDR", "action": "list", "action_id": "x1"},
         "expect": {"ok": True},
         "response": {"status": 200, "body_text": text,
                      "headers": [["Content-Type", "application/json"]]}}
    (tmp_path / f"{name}.json").write_text(json.dumps(v))


HEAD = '"action_id":"x1","code":200'
DEEP = "[" * 120 + "]" * 120
# Answers the one-pass decoder must read exactly as json.loads does.
EXACT = {
    "escapes": '{%s,"list":[{"id":1,"s":"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t",'
               '"u":"\\u00e9\\u0434\\ud83d\\ude00\\u0000","raw":"дом😀é"}]}' % HEAD,
    "spaces": ' \n{ "action_id":"x1" ,\t"code":200 , "list" : [ ] , "total_count" : 0 }\r\n',
    "bom": "\ufeff{%s,\"list\":[{\"id\":1}]}" % HEAD,
    "repeated_keys": '{%s,"list":[{"id":1,"a":1,"b":2,"c":3,"d":4,"e":5,"a":6},'
                     '{"id":2,"a":1,"b":2,"c":3,"d":4,"e":5,"a":7},{"e":1,"d":2,"c":3,"b":4,"a":5,"id":3}]}' % HEAD,
    "deep": '{%s,"list":[{"id":1,"deep":%s}]}' % (HEAD, DEEP),
    "numbers": '{%s,"list":[{"id":1,"n":[0,-0,-0.0,1.5e3,1E-2,18446744073709551616,'
               '-9223372036854775809,4095,4096,1e400,true,false,null]}]}' % HEAD,
    "long_strings": '{%s,"list":[%s]}' % (HEAD, ",".join(
        '{"id":%d,"s":"%s\\n%s"}' % (i, "x" * i, "é" * i) for i in range(1, 40))),
}
# Answers that are not JSON as the core reads it: refused, the core names why.
BROKEN = {
    "lone_surrogate": '{%s,"list":[{"id":1,"s":"\\ud800"}]}' % HEAD,
    "control_character": '{%s,"list":[{"id":1,"s":"a\tb"}]}' % HEAD,
    "leading_zero": '{%s,"list":[{"id":01}]}' % HEAD,
    "trailing_comma": '{%s,"list":[{"id":1},]}' % HEAD,
    "too_deep": '{%s,"list":[{"id":1,"deep":%s}]}' % (HEAD, "[" * 130 + "]" * 130),
    "bad_escape": '{%s,"list":[{"id":1,"s":"\\x41"}]}' % HEAD,
    "truncated": '{%s,"list":[{"id":1,"s":"abc' % HEAD,
}


def test_the_one_pass_decoder_reads_answers_exactly_as_json_loads(make_sim: Any, tmp_path: Path) -> None:
    for name, text in {**EXACT, **BROKEN}.items():
        raw_vector(tmp_path, name, text)
    s = make_sim(vectors=tmp_path)
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    c.User.list()

    def counts() -> List[int]:
        d = runtel._runtel._decode_counts()
        return [d["fast"], d["slow_ok"], d["slow_error"]]

    for name, text in EXACT.items():
        s.control("replay", {"vector": name})
        before = counts()
        r = c.call("DomainCDR", "list")
        expected = json.loads(text.lstrip("\ufeff"))
        expected["action_id"] = r["action_id"]  # the simulator echoes the real one
        # repr tells True from 1 and 1.0 from 1, and shows key order.
        assert repr(dict(r.items())) == repr(expected), name
        assert [a - b for a, b in zip(counts(), before)] == [1, 0, 0], name
    for name in BROKEN:
        s.control("replay", {"vector": name})
        before = counts()
        with pytest.raises(runtel.ProtocolError):
            c.call("DomainCDR", "list")
        assert [a - b for a, b in zip(counts(), before)] == [0, 0, 1], name


def test_consistent_records_lose_nothing_when_records_are_deleted_mid_export(make_sim: Any) -> None:
    # Gateways, since call logs are read only.
    s = make_sim("--seed", "DomainGateway=250")
    c = runtel.Client(s.url, login=LOGIN, password=PASSWORD)

    def export(consistent: bool, victims: range) -> List[int]:
        it = c.records("DomainGateway", page_size=100, consistent=consistent)
        got = [next(it)["id"]]
        # Someone deletes five records of the page already fetched.
        for victim in victims:
            c.DomainGateway.delete(id=victim)
        return got + [r["id"] for r in it]

    plain = export(False, range(2, 7))
    assert plain == list(range(1, 101)) + list(range(106, 251)), "offset paging skipped 101-105"
    safe = export(True, range(7, 12))
    assert safe == [1] + list(range(7, 251)), "keyset paging skips nothing"
    with pytest.raises(runtel.InvalidInputError, match="OR"):
        c.records("DomainCDR", consistent=True, filter={"field_list": [], "type": 1})
