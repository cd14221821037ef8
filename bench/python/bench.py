"""Python benchmark modes for bench/run; each run prints one JSON line.

    python bench.py MODE URL N [THREADS]
    python bench.py ASYNC_MODE URL N [CONCURRENCY]   (py-*-async-calls, py-aiohttp-calls)
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from typing import Any, Callable

LOGIN, PASSWORD = "admin@sim.runtel.local", "admin"


def report(bench: str, n: int, wall: float, cpu: float, **extra: Any) -> None:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"bench": bench, "n": n, "wall_s": wall, "cpu_s": cpu, "per_s": n / wall,
                      "cpu_us_per_op": cpu * 1e6 / n, "peak_rss_mib": rss, **extra}))


def timed(bench: str, n: int, body: Callable[[], None], **extra: Any) -> None:
    c0, t0 = time.process_time(), time.perf_counter()
    body()
    report(bench, n, time.perf_counter() - t0, time.process_time() - c0, **extra)


class Plain:
    """What users write today: a session object, json bodies, the same checks."""

    def __init__(self, url: str, session: Any, loads: Callable[[bytes], Any] = json.loads) -> None:
        self.s, self.url, self.loads, self.n = session, url + "/api/", loads, 0
        env = self.post({"action": "auth", "obj": "User", "action_id": "a",
                         "params": {"login": LOGIN, "password": PASSWORD}}, None)
        self.token = env["body"]["token"]

    def post(self, env: dict, token: Any) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        r = self.s.post(self.url, data=json.dumps(env), headers=headers, timeout=30)
        r.raise_for_status()
        v = self.loads(r.content)
        assert v["code"] == 200 and v["action_id"] == env["action_id"]
        return v

    def call(self, obj: str, action: str, params: dict, **top: Any) -> Any:
        self.n += 1
        return self.post({"action": action, "obj": obj, "action_id": f"p-{self.n}", "params": params, **top},
                         self.token)


ASYNC_MODES = ("py-runtel-async-calls", "py-httpx-async-calls", "py-aiohttp-calls")


def run_async(mode: str, url: str, n: int, concurrency: int) -> None:
    """``n`` gets of ``User`` 1 from ``concurrency`` asyncio tasks sharing one client:
    runtel.AsyncClient, or what users write today with httpx.AsyncClient or aiohttp
    (one session, json bodies, the same checks as ``Plain``)."""
    import asyncio

    async def drive(one: Callable[[], Any]) -> None:
        for _ in range(200):
            await one()
        left = n

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await one()

        c0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        report(mode, n, time.perf_counter() - t0, time.process_time() - c0, concurrency=concurrency)

    async def main() -> None:
        if mode == "py-runtel-async-calls":
            import runtel

            async with runtel.AsyncClient(url, login=LOGIN, password=PASSWORD) as pbx:
                async def one() -> None:
                    assert (await pbx.call("User", "get", id=1))["body"]["id"] == 1
                await drive(one)
            return
        ids = iter(range(1 << 62))
        api = url + "/api/"
        if mode == "py-httpx-async-calls":
            import httpx

            async with httpx.AsyncClient(timeout=30) as session:
                async def post(env: dict, token: Any) -> Any:
                    headers = {"Content-Type": "application/json"}
                    if token:
                        headers["Authorization"] = f"Bearer {token}"
                    r = await session.post(api, content=json.dumps(env), headers=headers)
                    r.raise_for_status()
                    v = json.loads(r.content)
                    assert v["code"] == 200 and v["action_id"] == env["action_id"]
                    return v
                token = (await post({"action": "auth", "obj": "User", "action_id": "a",
                                     "params": {"login": LOGIN, "password": PASSWORD}}, None))["body"]["token"]

                async def one() -> None:
                    env = {"action": "get", "obj": "User", "action_id": f"p-{next(ids)}", "params": {"id": 1}}
                    assert (await post(env, token))["body"]["id"] == 1
                await drive(one)
            return
        import aiohttp

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            async def post_aio(env: dict, token: Any) -> Any:
                headers = {"Content-Type": "application/json"}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                async with session.post(api, data=json.dumps(env), headers=headers) as r:
                    r.raise_for_status()
                    v = json.loads(await r.read())
                assert v["code"] == 200 and v["action_id"] == env["action_id"]
                return v
            token = (await post_aio({"action": "auth", "obj": "User", "action_id": "a",
                                     "params": {"login": LOGIN, "password": PASSWORD}}, None))["body"]["token"]

            async def one() -> None:
                env = {"action": "get", "obj": "User", "action_id": f"p-{next(ids)}", "params": {"id": 1}}
                assert (await post_aio(env, token))["body"]["id"] == 1
            await drive(one)

    asyncio.run(main())


def main() -> None:
    mode, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode in ASYNC_MODES:
        run_async(mode, url, n, int(sys.argv[4]) if len(sys.argv) > 4 else 50)
        return
    if mode in ("py-runtel-calls", "py-runtel-list", "py-runtel-stream", "py-runtel-threads"):
        import runtel

        c = runtel.Client(url, max_response_bytes=512 << 20)
        c.login(LOGIN, PASSWORD)
        if mode == "py-runtel-calls":
            for _ in range(200):
                c.call("User", "get", id=1)

            def calls() -> None:
                for _ in range(n):
                    assert c.call("User", "get", id=1)["body"]["id"] == 1
            timed(mode, n, calls)
        elif mode == "py-runtel-list":
            def lst() -> None:
                assert len(c.list("DomainCDR", limit=n)["list"]) == n
            timed(mode, n, lst)
        elif mode == "py-runtel-stream":
            def stream() -> None:
                assert sum(1 for _ in c.records("DomainCDR", page_size=1000)) == n
            timed(mode, n, stream)
        else:
            threads = int(sys.argv[4])

            def work() -> None:
                for _ in range(n // threads):
                    c.call("User", "get", id=1)

            def par() -> None:
                ts = [threading.Thread(target=work) for _ in range(threads)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
            timed(mode, n // threads * threads, par, threads=threads)
        return

    if mode.startswith("py-httpx"):
        import httpx
        session: Any = httpx.Client()
    else:
        import requests
        session = requests.Session()
    loads: Callable[[bytes], Any] = json.loads
    if mode.endswith("orjson-list"):
        import orjson
        loads = orjson.loads
    p = Plain(url, session, loads)
    if mode.endswith("-calls"):
        for _ in range(200):
            p.call("User", "get", {"id": 1})

        def calls() -> None:
            for _ in range(n):
                assert p.call("User", "get", {"id": 1})["body"]["id"] == 1
        timed(mode, n, calls)
    else:
        def lst() -> None:
            assert len(p.call("DomainCDR", "list", {}, limit=n)["list"]) == n
        timed(mode, n, lst)


if __name__ == "__main__":
    main()
