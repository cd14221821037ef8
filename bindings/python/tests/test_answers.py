"""What calls send and return: ``limit``/``offset``/``filter`` at the envelope's
top level from every entry point, answers as read-only ``Response`` mappings
with the records wherever the server put them, and the decoder's success rule
over the envelope head."""

from __future__ import annotations

import collections.abc
import copy
import json
import pickle
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

import runtel
from conftest import LOGIN, PASSWORD, Sim

SINCE = 1704067200 + 2400 * 7
RECENT = {"field_list": [{"field": "dt", "condition_type": 5, "value": SINCE}], "type": 0}


def ids(records: Any) -> List[int]:
    return [r["id"] for r in records]


def test_limit_offset_filter_keywords_go_to_the_top_level_everywhere(sim: Sim) -> None:
    pbx = runtel.Client(sim.url, login=LOGIN, password=PASSWORD)
    assert ids(pbx.list("DomainCDR", limit=3)["list"]) == [1, 2, 3]
    assert ids(pbx.DomainCDR.list(limit=3)["list"]) == [1, 2, 3]
    assert ids(pbx.DomainCDR.list(limit=2, offset=10)["list"]) == [11, 12]
    assert ids(pbx.call("DomainCDR", "list", limit=2, offset=5)["list"]) == [6, 7]
    assert ids(pbx.call("DomainCDR", "list", {}, limit=1)["list"]) == [1]
    assert pbx.DomainCDR.list(filter=RECENT, limit=1)["total_count"] == 100
    assert pbx.call("DomainCDR", "list", filter=RECENT)["total_count"] == 100
    assert pbx.DomainCDR.list_with_detail(limit=1)["total_count"] == 2500
    # records(): limit is each page's limit (page_size), offset the first one (start).
    it = pbx.records("DomainCDR", limit=1000, offset=2497)
    assert ids(it) == [2498, 2499, 2500] and it.pages_fetched == 1
    assert len(list(pbx.records("DomainCDR", filter=RECENT, limit=30))) == 100
    with pytest.raises(TypeError, match="page_size"):
        pbx.records("DomainCDR", page_size=10, limit=10)
    with pytest.raises(TypeError, match="start"):
        pbx.records("DomainCDR", start=1, offset=1)
    for bad in (-1, "3", 1.5, True):
        with pytest.raises((TypeError, runtel.InvalidInputError), match="limit"):
            pbx.DomainCDR.list(limit=bad)
    # A dict of params is sent as given: a param that happens to be called limit.
    assert pbx.call("DomainCDR", "list", {"limit": 3})["total_count"] == 0


@pytest.mark.parametrize("style", ["top", "body"])
def test_answers_are_read_only_mappings_with_normalised_fields(make_sim: Any, style: str) -> None:
    s = make_sim("--seed", "DomainCDR=5", "--list-style", style)
    pbx = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    r = pbx.DomainCDR.list(limit=3)
    assert isinstance(r, runtel.Response)
    assert isinstance(r, collections.abc.Mapping)
    assert not isinstance(r, collections.abc.MutableMapping)
    assert ids(r.records) == [1, 2, 3] and r.total_count == 5 and r.notifies == []
    assert r.record is None, "three records are not one record"
    as_dict = dict(r)
    assert list(as_dict) == list(r) == list(r.keys()) and len(r) == len(as_dict)
    assert r == as_dict and as_dict == r and list(r.items()) == list(as_dict.items())
    assert r["code"] == 200 and "code" in r and "nope" not in r and r.get("nope", 7) == 7
    assert r.http_status == 200
    with pytest.raises(KeyError):
        r["nope"]
    with pytest.raises(TypeError):
        r["code"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        del r["code"]  # type: ignore[attr-defined]
    json.dumps(as_dict)
    assert pickle.loads(pickle.dumps(r)) == r and copy.deepcopy(r) == r and copy.copy(r) == r
    assert repr(r).startswith("Response({") and "'code': 200" in repr(r)
    if style == "top":
        assert "list" in r and r.records is r["list"], "the records are the envelope's own list"
        assert r.body is None
    else:
        assert "list" not in r and "total_count" not in r, "the sim put them in body"
        assert r.body is not None and r.records is r.body["list"]


@pytest.mark.parametrize("style", ["body", "list"])
def test_get_answers_give_the_record_either_way(make_sim: Any, style: str) -> None:
    s = make_sim("--get-style", style)
    pbx = runtel.Client(s.url, login=LOGIN, password=PASSWORD)
    r = pbx.User.get(id=1)
    assert r.record is not None and r.record["login"] == LOGIN
    if style == "body":
        assert r.body == r.record and r.records == []
    else:
        assert r.records == [r.record] and r.total_count == 1


def test_response_can_be_made_from_a_dict_and_tells_its_fields() -> None:
    env: Dict[str, Any] = {"code": 200, "notifies": [{"text": "hi"}], "body": [{"id": 4}]}
    r = runtel.Response(env)
    assert r.records == [{"id": 4}] and r.record == {"id": 4} and r.notifies == [{"text": "hi"}]
    assert r.total_count is None and r.http_status is None
    env["code"] = 500
    assert r["code"] == 200, "made from a dict, it keeps a copy"
    r2 = runtel.Response({"body": {"list": [{"id": 1}, {"id": 2}], "total_count": "7"}})
    assert ids(r2.records) == [1, 2] and r2.total_count is None, "a string is not a count"
    assert runtel.Response({"total_count": True}).total_count is None
    assert runtel.Response({"list": [], "total_count": 0}).total_count == 0
    with pytest.raises(TypeError):
        runtel.Response([1, 2])  # type: ignore[arg-type]


def envelope_vector(tmp_path: Path, name: str, body: str, status: int = 200) -> None:
    vector = {"request": {"obj": "DomainCDR", "action": "list", "action_id": "h1"},
              "expect": {"ok": True},
              "response": {"status": status, "body_text": body,
                           "headers": [["Content-Type", "application/json"]]}}
    (tmp_path / f"{name}.json").write_text(json.dumps(vector))


# The success rule on the envelope head: (body, outcome). The decoder reads the
# head while building the dict; what it refuses, the core's parser explains.
HEADS: Dict[str, Any] = {
    "plain": ('{"action_id":"h1","code":200,"list":[{"id":1}],"total_count":1,"notifies":[]}', None),
    "code_string": ('{"action_id":"h1","code":" 200 ","list":[]}', None),
    "code_float": ('{"action_id":"h1","code":200.0,"list":[]}', runtel.ProtocolError),
    "code_404": ('{"action_id":"h1","code":404,"message":"no"}', runtel.ApiError),
    "no_code": ('{"action_id":"h1","list":[]}', runtel.ProtocolError),
    "list_null": ('{"action_id":"h1","code":200,"list":null,"total_count":null}', None),
    "list_object": ('{"action_id":"h1","code":200,"list":{"id":1}}', runtel.ProtocolError),
    "count_string": ('{"action_id":"h1","code":200,"list":[],"total_count":"1"}', runtel.ProtocolError),
    "count_negative": ('{"action_id":"h1","code":200,"list":[],"total_count":-1}', runtel.ProtocolError),
    "count_negative_zero": ('{"action_id":"h1","code":200,"list":[],"total_count":-0}',
                            runtel.ProtocolError),
    "count_bool": ('{"action_id":"h1","code":200,"list":[],"total_count":true}', runtel.ProtocolError),
    "count_huge": ('{"action_id":"h1","code":200,"list":[],"total_count":18446744073709551616}',
                   runtel.ProtocolError),
    "count_float": ('{"action_id":"h1","code":200,"list":[],"total_count":1.0}', runtel.ProtocolError),
    "notifies_object": ('{"action_id":"h1","code":200,"notifies":{"a":1}}', runtel.ProtocolError),
    "notifies_null": ('{"action_id":"h1","code":200,"notifies":null}', runtel.ProtocolError),
    "wrong_echo": ('{"action_id":"other","code":200}', runtel.ProtocolError),
    "late_code": ('{"list":[{"id":1}],"action_id":"h1","total_count":1,"code":200}', None),
    "repeated_code": ('{"action_id":"h1","code":404,"code":200,"list":[]}', None),
    "http_500": ('{"action_id":"h1","code":200,"list":[]}', runtel.ApiError),
}


def test_the_envelope_head_decides_like_the_core(make_sim: Any, tmp_path: Path) -> None:
    for name, (body, _) in HEADS.items():
        envelope_vector(tmp_path, name, body, status=500 if name == "http_500" else 200)
    s = make_sim(vectors=tmp_path)
    pbx = runtel.Client(s.url, login=LOGIN, password=PASSWORD, max_retries=0)
    pbx.User.list()
    for name, (body, outcome) in HEADS.items():
        before = runtel._runtel._decode_counts()
        s.control("replay", {"vector": name})
        got: Optional[BaseException] = None
        try:
            r = pbx.DomainCDR.list()
        except runtel.RuntelError as e:
            got = e
        after = runtel._runtel._decode_counts()
        fast, slow_ok, slow_err = (after[k] - before[k] for k in ("fast", "slow_ok", "slow_error"))
        if outcome is None:
            assert got is None, f"{name}: {got!r}"
            sent = {k: v for k, v in json.loads(body).items() if k != "action_id"}
            assert {k: v for k, v in r.items() if k != "action_id"} == sent, name
            assert (fast, slow_ok, slow_err) == (1, 0, 0), f"{name}: the head refused a success"
        else:
            assert type(got) is outcome, f"{name}: {got!r}"
            assert (fast, slow_ok, slow_err) == (0, 0, 1), f"{name}: {(fast, slow_ok, slow_err)}"
