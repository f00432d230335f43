#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A scriptable stand-in for vLLM, SGLang, TGI, llama.cpp's server and hosted OpenAI-compatible
APIs, for the remote backend's tests. It answers in each engine's documented shapes
(shared/docs/generation.md §2): vLLM's prompt_logprobs maps keyed by token-id strings with
logprob/rank/decoded_token and top-k extras in arbitrary order, null first position; SGLang's
input_token_logprobs tuples; TGI's details.prefill; llama.cpp's /tokenize fields; base64 or
float embeddings. It injects faults on request (429 + Retry-After, 5xx bursts, a reply that never
comes, a connection reset mid-body, truncated or invalid JSON, a wrong embedding dimension,
x-ratelimit headers) and keeps a request log (JSON lines) so tests can prove what was sent.

The "model" is deterministic and independent of the client: token ids are UTF-8 bytes + 10
(BOS = 1 with special tokens), the log-prob of token ids[p] after ids[:p] comes from a rolling
hash of ids[:p+1], embeddings from a hash of the text. Every answer is written to the log with
the numbers it carried, which is what tests compare the client's results against.

    fake_server.py --kind vllm --model tiny --log LOG [--faults FAULTS.json] [--delay S]

Prints "PORT <n>" on stdout once listening on 127.0.0.1 (port 0 = any free port), and exits
when its standard input closes (so it never outlives the test that started it).
"""
import argparse
import asyncio
import base64
import hashlib
import json
import math
import random
import struct
import sys
import time

from aiohttp import web

BOS = 1
VOCAB = 300


def tokenize(text, add_special):
    ids = [b + 10 for b in text.encode("utf-8")]
    return ([BOS] if add_special else []) + ids


def detokenize(ids):
    return bytes(i - 10 for i in ids if 10 <= i < 266).decode("utf-8", "replace")


def logprobs_of(ids):
    """lp[p] for p >= 1 (lp[0] = None): a deterministic function of ids[:p+1]."""
    out = [None]
    h = 1469598103934665603
    for p, t in enumerate(ids):
        h = (h * 1099511628211 + t + 7) % (1 << 61)
        if p > 0:
            out.append(-0.05 - (h % 100000) / 10000.0)  # in (-10.05, -0.05]
    return out


def other_ids(ids, p, k):
    rnd = random.Random(ids[p] * 7919 + p)
    picks = []
    while len(picks) < k:
        x = rnd.randrange(2, VOCAB)
        if x != ids[p] and x not in picks:
            picks.append(x)
    return picks


def embedding_of(text, dim):
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    v = [math.sin(seed % 1000 + 0.37 * k) for k in range(dim)]
    return [struct.unpack("<f", struct.pack("<f", x))[0] for x in v]  # float32 values


class Server:
    def __init__(self, args):
        self.args = args
        self.kind = args.kind
        self.model = args.model
        self.faults = []
        if args.faults:
            with open(args.faults) as f:
                self.faults = json.load(f)
        for r in self.faults:
            r.setdefault("times", 1)
            r["used"] = 0
        self.log = open(args.log, "a", buffering=1) if args.log else None
        self.count = 0

    def record(self, request, body, status, fault=None, **extra):
        self.count += 1
        if not self.log:
            return
        entry = {"n": self.count, "t": time.time(), "path": request.path, "status": status,
                 "fault": fault, "body": body}
        if self.args.log_headers:
            entry["authorization"] = request.headers.get("Authorization")
        entry.update(extra)
        self.log.write(json.dumps(entry) + "\n")

    def fault_for(self, path, raw):
        for r in self.faults:
            if r.get("path") and r["path"] != path:
                continue
            if r.get("match") and r["match"] not in raw:
                continue
            if r["times"] >= 0 and r["used"] >= r["times"]:
                continue
            r["used"] += 1
            return r
        return None

    def authorized(self, request):
        if not self.args.api_key:
            return True
        return request.headers.get("Authorization") == "Bearer " + self.args.api_key

    async def handle(self, request):
        raw = await request.text()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        if self.args.delay and (not self.args.delay_path or request.path == self.args.delay_path):
            await asyncio.sleep(self.args.delay)
        if not self.authorized(request):
            msg = "invalid API key"
            if self.args.echo_auth:  # a careless server that echoes the header in errors
                msg += ": got " + str(request.headers.get("Authorization"))
            self.record(request, body, 401, "auth")
            return web.json_response({"error": {"message": msg}}, status=401)
        rule = self.fault_for(request.path, raw)
        if rule and rule["fault"] != "wrongdim" and rule["fault"] != "ratelimit" and \
                rule["fault"] != "badschema" and rule["fault"] != "tgi_retokenize":
            return await self.inject(request, body, rule)
        try:
            status, reply, extra = self.route(request, body, rule)
        except KeyError as e:
            self.record(request, body, 400, None)
            return web.json_response({"error": {"message": "missing field %s" % e}}, status=400)
        if status == 404:
            self.record(request, body, 404, None)
            return web.json_response({"error": {"message": "not found"}}, status=404)
        headers = {}
        if rule and rule["fault"] == "ratelimit":
            headers["x-ratelimit-remaining-requests"] = "0"
            headers["x-ratelimit-reset-requests"] = rule.get("reset", "1s")
        self.record(request, body, status, rule["fault"] if rule else None, **extra)
        return web.json_response(reply, status=status, headers=headers)

    async def inject(self, request, body, rule):
        f = rule["fault"]
        self.record(request, body, None, f)
        if f in ("429", "500", "502", "503", "400", "404", "422"):
            headers = {}
            if "retry_after" in rule:
                headers["Retry-After"] = str(rule["retry_after"])
            return web.json_response({"error": {"message": "injected %s" % f}}, status=int(f),
                                     headers=headers)
        if f == "hang":
            await asyncio.sleep(3600)
            return web.json_response({})
        if f == "reset":
            payload = json.dumps({"choices": [{"text": "x" * 2000}]}).encode()
            resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                           "Content-Length": str(len(payload))})
            await resp.prepare(request)
            await resp.write(payload[: len(payload) // 3])
            await asyncio.sleep(0.05)
            request.transport.abort()
            return resp
        if f == "truncate":
            return web.Response(text='{"choices": [{"index": 0, "prompt_logprobs": [null, {"1',
                                content_type="application/json")
        if f == "badjson":
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        raise ValueError("unknown fault " + f)

    # ---- routes -------------------------------------------------------------------------------
    def route(self, request, body, rule):
        p, k = request.path, self.kind
        if p == "/v1/models":
            owner = {"vllm": "vllm", "sglang": "sglang", "llamacpp": "llamacpp",
                     "tgi": self.model, "openai": "system"}[k]
            card = {"id": self.model, "object": "model", "created": 0, "owned_by": owner}
            if k == "vllm":
                card["max_model_len"] = self.args.max_model_len
            return 200, {"object": "list", "data": [card]}, {}
        if p == "/info" and k == "tgi":
            return 200, {"model_id": self.model, "router": "text-generation-router",
                         "version": "2.4.0"}, {}
        if p == "/props" and k == "llamacpp":
            return 200, {"default_generation_settings": {"n_ctx": 2048}}, {}
        if p == "/tokenize" and k in ("vllm", "sglang"):
            ids = tokenize(body["prompt"], body.get("add_special_tokens", True))
            return 200, {"tokens": ids, "count": len(ids),
                         "max_model_len": self.args.max_model_len}, {"tokens": ids}
        if p == "/tokenize" and k == "llamacpp":
            ids = tokenize(body["content"], body.get("add_special", False))
            return 200, {"tokens": ids}, {"tokens": ids}
        if p == "/detokenize" and k in ("vllm", "sglang"):
            return 200, {"prompt": detokenize(body["tokens"])}, {}
        if p == "/detokenize" and k == "llamacpp":
            return 200, {"content": detokenize(body["tokens"])}, {}
        if p == "/v1/completions" and k in ("vllm", "llamacpp", "openai", "tgi", "sglang"):
            if body.get("echo") and body.get("prompt_logprobs") is not None and k == "vllm":
                return self.vllm_score(body)
            return self.completion(body, chat=False, rule=rule)
        if p == "/v1/chat/completions":
            return self.completion(body, chat=True, rule=rule)
        if p == "/generate" and k == "sglang":
            return self.sglang_score(body)
        if p == "/generate" and k == "tgi":
            return self.tgi_score(body, rule)
        if p == "/v1/embeddings" and k != "tgi":
            return self.embeddings(body, rule)
        return 404, None, {}

    def vllm_score(self, body):
        ids = body["prompt"]
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            return 400, {"error": {"message": "expected token ids"}}, {}
        lps = logprobs_of(ids)
        k = max(1, int(body.get("prompt_logprobs") or 1))
        plp = [None]
        greedy = [0]
        for p in range(1, len(ids)):
            m = {}
            extras = other_ids(ids, p, k)
            # top-k alternatives are more likely than the actual token, except when it is top
            actual_top = (ids[p] % 5 == 0)
            greedy.append(1 if actual_top else 0)
            entries = [(ids[p], lps[p], 1 if actual_top else 2)]
            for j, x in enumerate(extras):
                entries.append((x, lps[p] + (-0.5 - j if actual_top else 0.5 + j),
                                j + 2 if actual_top else 1 + j))
            random.shuffle(entries)  # no guaranteed order
            for tid, lp, rank in entries:
                m[str(tid)] = {"logprob": lp, "rank": rank, "decoded_token": chr(65 + tid % 26)}
            plp.append(m)
        reply = {"id": "cmpl-x", "object": "text_completion", "created": 0, "model": self.model,
                 "choices": [{"index": 0, "text": "x", "logprobs": None, "finish_reason": "length",
                              "stop_reason": None, "prompt_logprobs": plp}],
                 "usage": {"prompt_tokens": len(ids), "completion_tokens": 1,
                           "total_tokens": len(ids) + 1}}
        return 200, reply, {"logprobs": lps, "ids": ids, "greedy": greedy}

    def sglang_score(self, body):
        ids = body["input_ids"]
        lps = logprobs_of(ids)
        itl = [[lps[p], ids[p], None] for p in range(len(ids))]
        tops = [None] + [[[lps[p] + (0.0 if ids[p] % 5 == 0 else 0.3), (ids[p] if ids[p] % 5 == 0
                                                                       else other_ids(ids, p, 1)[0]),
                           None]] for p in range(1, len(ids))]
        reply = {"text": "x", "meta_info": {"id": "r", "prompt_tokens": len(ids),
                                            "completion_tokens": 1,
                                            "input_token_logprobs": itl,
                                            "input_top_logprobs": tops,
                                            "output_token_logprobs": [[-1.0, 42, None]]}}
        return 200, reply, {"logprobs": lps, "ids": ids}

    def tgi_score(self, body, rule):
        text = body["inputs"]
        ids = tokenize(text, True)
        if rule and rule["fault"] == "tgi_retokenize":
            ids = ids[:1] + [ids[1] + 1] + ids[2:]  # a different tokenization
        lps = logprobs_of(ids)
        prefill = [{"id": t, "text": chr(65 + t % 26), "logprob": lps[p]} for p, t in enumerate(ids)]
        reply = {"generated_text": "x",
                 "details": {"finish_reason": "length", "generated_tokens": 1, "seed": None,
                             "prefill": prefill, "tokens": [{"id": 42, "text": "x",
                                                             "logprob": -1.0, "special": False}]}}
        return 200, reply, {"logprobs": lps, "ids": ids}

    def embeddings(self, body, rule):
        inputs = body["input"]
        if isinstance(inputs, str):
            inputs = [inputs]
        dim = self.args.dim + (1 if rule and rule["fault"] == "wrongdim" else 0)
        fmt = body.get("encoding_format", "float")
        data, vecs = [], []
        order = list(range(len(inputs)))
        random.shuffle(order)  # data in any order: the client places rows by index
        for i in order:
            v = embedding_of(inputs[i], dim)
            vecs.append((i, v))
            emb = base64.b64encode(struct.pack("<%df" % dim, *v)).decode() if fmt == "base64" else v
            data.append({"object": "embedding", "index": i, "embedding": emb})
        reply = {"object": "list", "data": data, "model": self.model,
                 "usage": {"prompt_tokens": 1, "total_tokens": 1}}
        return 200, reply, {"embeddings": {str(i): v for i, v in vecs}}

    def completion(self, body, chat, rule):
        if "guided_json" in body:
            return 400, {"error": {"message": "guided_json was sent"}}, {}
        seed = body.get("seed", 0)
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens", 16))
        if chat:
            prompt = json.dumps(body["messages"], sort_keys=True)
        else:
            prompt = body["prompt"] if isinstance(body["prompt"], str) else json.dumps(body["prompt"])
        rnd = random.Random(hashlib.sha256(("%s|%s" % (prompt, seed)).encode()).hexdigest())
        rf = body.get("response_format")
        finish, stop_reason = "length", None
        if rf and rf.get("type") == "json_schema":
            if rule and rule["fault"] == "badschema":
                text = json.dumps({"score": 9, "feedback": "out of range"})
            else:
                text = json.dumps({"score": 1 + rnd.randrange(5), "feedback": "ok"})
            finish = "stop"
        else:
            n = min(max_tokens, 3 + rnd.randrange(6))
            text = "".join(chr(97 + rnd.randrange(26)) for _ in range(n))
            if n < max_tokens:
                finish = "stop"
            for s in body.get("stop") or []:
                if s and s in text:
                    text = text[: text.index(s)]
                    stop_reason = s
                    finish = "stop"
        ids = [ord(c) + 10 for c in text][:max_tokens]
        choice = {"index": 0, "finish_reason": finish, "stop_reason": stop_reason}
        if chat:
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        if body.get("return_token_ids") and self.kind == "vllm":
            choice["token_ids"] = ids
        if body.get("logprobs"):
            lps = [-0.1 - 0.01 * i for i in range(len(ids))]
            if chat:
                choice["logprobs"] = {"content": [{"token": chr(i - 10), "logprob": lp, "bytes": [],
                                                   "top_logprobs": []} for i, lp in zip(ids, lps)]}
            else:
                choice["logprobs"] = {"tokens": [chr(i - 10) for i in ids], "token_logprobs": lps,
                                      "top_logprobs": None, "text_offset": list(range(len(ids)))}
        reply = {"id": "x", "object": "chat.completion" if chat else "text_completion",
                 "created": 0, "model": self.model, "choices": [choice],
                 "usage": {"prompt_tokens": 5, "completion_tokens": len(ids),
                           "total_tokens": 5 + len(ids)}}
        return 200, reply, {"text": text, "seed": seed}


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", default="vllm",
                    choices=["vllm", "sglang", "tgi", "llamacpp", "openai"])
    ap.add_argument("--model", default="fake-model")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--faults")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    ap.add_argument("--delay-path", help="delay only the replies to this path")
    ap.add_argument("--dim", type=int, default=8)
    ap.add_argument("--max-model-len", type=int, default=4096)
    ap.add_argument("--api-key")
    ap.add_argument("--echo-auth", action="store_true")
    ap.add_argument("--log-headers", action="store_true")
    args = ap.parse_args()
    server = Server(args)
    app = web.Application(client_max_size=64 << 20)
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print("PORT %d" % port, flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.create_future()

    def on_stdin():
        if not sys.stdin.buffer.read1(4096) and not stdin_closed.done():
            stdin_closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    await stdin_closed
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
