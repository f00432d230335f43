#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The peer of benchmarks/remote_client_driver.cpp: the same N scoring requests (vLLM's
/v1/completions with echo + prompt_logprobs over token ids) sent with asyncio + aiohttp at the
same concurrency, replies parsed the same way (each position's log-prob looked up by its token
id). Prints one JSON line like the driver.

    remote_client_aiohttp.py URL#MODEL N CONCURRENCY LEN
"""
import asyncio
import json
import resource
import sys
import time

import aiohttp


def sequence(i, length):
    ids = []
    x = (0x9E3779B97F4A7C15 * (i + 1)) % (1 << 64)
    for _ in range(length):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        ids.append(10 + (x >> 33) % 1000)
    return ids


def cpu_seconds():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


async def main():
    spec, n, conc, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    url, model = spec.split("#", 1)
    bodies = [json.dumps({"model": model, "prompt": sequence(i, length), "max_tokens": 0,
                          "temperature": 0, "echo": True, "prompt_logprobs": 1,
                          "add_special_tokens": False}, separators=(",", ":"))
              for i in range(n)]
    sem = asyncio.Semaphore(conc)
    total = 0.0

    async def one(session, i):
        nonlocal total
        async with sem:
            async with session.post(url + "/completions", data=bodies[i],
                                    headers={"Content-Type": "application/json"}) as r:
                r.raise_for_status()
                reply = json.loads(await r.read())
        ids = sequence(i, length)
        plp = reply["choices"][0]["prompt_logprobs"]
        for p in range(1, len(ids)):
            total += plp[p][str(ids[p])]["logprob"]

    c0 = cpu_seconds()
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as session:
        await asyncio.gather(*(one(session, i) for i in range(n)))
    wall = time.perf_counter() - t0
    cpu = cpu_seconds() - c0
    print(json.dumps({"client": "aiohttp", "requests": n, "seconds": round(wall, 4),
                      "cpu_seconds": round(cpu, 4), "checksum": round(total, 6)}))


asyncio.run(main())
