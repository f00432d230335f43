#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An OpenAI-compatible /v1/chat/completions server that answers from a script, for the tests of
`polyglot score --metrics rubric` and `polyglot synthesize` against a remote teacher or judge.

Each request is keyed by the first match of --key-pattern (a regex with one group) in its last
user message. The n-th request with key K gets the n-th reply of script[K] (the last one again
when they run out). A reply is an object:
    {"content": "...", "finish": "stop"|"length"|"content_filter"}   (finish defaults to stop)
    {"timeout": true}        never answered in time (the server sleeps 30 s)
    {"status": 500}          an HTTP error
Requests without a scripted key get a default reply, a pure function of the request's messages
and seed: for requests with response_format json_schema, {"prompt": "...", "response": "..."};
otherwise a line of text. Every request is logged (JSON lines: key, n, seed, response_format,
reply), so tests can count what was asked.

    scripted_chat_server.py --script SCRIPT.json --log LOG [--key-pattern RE] [--delay S]

Prints "PORT <n>" once listening on 127.0.0.1 (any free port) and exits when its standard input
closes (it never outlives the test that started it).
"""
import argparse
import asyncio
import hashlib
import json
import re
import sys

from aiohttp import web


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--key-pattern", default=r"Frage ([A-Z]\d+)")
    ap.add_argument("--delay", type=float, default=0.0)
    args = ap.parse_args()
    script = json.load(open(args.script, encoding="utf-8"))
    pattern = re.compile(args.key_pattern)
    counts = {}
    log = open(args.log, "a", buffering=1, encoding="utf-8")

    async def chat(request):
        body = await request.json()
        msgs = body.get("messages", [])
        user = next((m.get("content", "") for m in reversed(msgs) if m.get("role") == "user"), "")
        m = pattern.search(user)
        key = m.group(1) if m else None
        n = counts.get(key, 0)
        counts[key] = n + 1
        rf = body.get("response_format")
        if key in script:
            replies = script[key]
            reply = replies[min(n, len(replies) - 1)]
        else:
            h = hashlib.sha256(json.dumps([msgs, body.get("seed")], sort_keys=True,
                                          ensure_ascii=False).encode()).hexdigest()[:12]
            if rf and rf.get("type") == "json_schema":
                reply = {"content": json.dumps({"prompt": "Aufgabe " + h,
                                                "response": "Lösung " + h}, ensure_ascii=False)}
            else:
                reply = {"content": "Antwort " + h}
        log.write(json.dumps({"key": key, "n": n, "seed": body.get("seed"),
                              "response_format": rf, "reply": reply}, ensure_ascii=False) + "\n")
        if args.delay:
            await asyncio.sleep(args.delay)
        if reply.get("timeout"):
            await asyncio.sleep(30)
            return web.json_response({"error": "too late"}, status=504)
        if "status" in reply:
            return web.json_response({"error": {"message": "scripted"}}, status=reply["status"])
        content = reply["content"]
        return web.json_response({
            "id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": reply.get("finish", "stop")}],
            "usage": {"prompt_tokens": len(user.split()),
                      "completion_tokens": len(content.split()),
                      "total_tokens": len(user.split()) + len(content.split())}})

    async def models(request):
        return web.json_response({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    async def run():
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", chat)
        app.router.add_get("/v1/models", models)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the test closes our stdin
        await runner.cleanup()

    asyncio.run(run())


if __name__ == "__main__":
    main()
