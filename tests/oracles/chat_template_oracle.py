#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The jinja2 oracle of the chat-template tests: renders cases exactly as transformers'
apply_chat_template does (transformers/utils/chat_template_utils.py, _compile_jinja_template
and render_jinja_template; tokenization_utils_base.apply_chat_template for the variables).

  /usr/bin/python3 tests/oracles/chat_template_oracle.py < cases.jsonl > results.jsonl

Each input line is one case:
  {"template": SOURCE}                or {"model_dir": DIR[, "template_file": FILE]}
  "special_tokens": {...}             (with "template"; with "model_dir" they come from
                                       DIR/tokenizer_config.json as transformers'
                                       special_tokens_map)
  "request": {"messages": [...], "tools": [...]?, "chat_template_kwargs": {...}?},
  "add_generation_prompt": bool
and gives one output line, in order:
  {"ok": RENDERED} | {"error": MESSAGE, "type": EXCEPTION CLASS, "raised": bool}
where "raised" marks a raise_exception() call (its message is str(TemplateError)).

The environment is transformers': ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True, extensions=[AssistantTracker ({% generation %}), loopcontrols]), the
`tojson` filter replaced by json.dumps(x, ensure_ascii=False, indent=indent,
separators=separators, sort_keys=sort_keys), globals raise_exception (TemplateError) and
strftime_now, which formats the fixed time 2024-07-26 12:00:00 here (the C++ tests pass the
same time). Templates are compiled once per distinct source (transformers' lru_cache).
Needs Debian's python3-jinja2 (scripts/bootstrap installs it).
"""
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime(2024, 7, 26, 12, 0, 0)
SPECIAL_TOKENS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                  "mask_token"]


class Raised(jinja2.exceptions.TemplateError):
    """What raise_exception raises (a TemplateError, as in transformers)."""


class AssistantTracker(jinja2.ext.Extension):
    # transformers' {% generation %} ... {% endgeneration %}: the body, as a call block
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [],
                                      body).set_lineno(lineno)

    @jinja2.pass_eval_context
    def _generation_support(self, context, caller):
        return caller()


def raise_exception(message):
    raise Raised(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def strftime_now(format):
    return FIXED_NOW.strftime(format)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_env()
_compiled = {}


def compile_template(source):
    if source not in _compiled:
        try:
            _compiled[source] = ("ok", ENV.from_string(source))
        except Exception as e:  # syntax errors are results too
            _compiled[source] = ("error", e)
    return _compiled[source]


def token_content(v):
    if isinstance(v, dict):
        return v.get("content")
    return v


_model_dirs = {}


def model_dir_inputs(model_dir, template_file):
    key = (model_dir, template_file)
    if key not in _model_dirs:
        _model_dirs[key] = read_model_dir(model_dir, template_file)
    return _model_dirs[key]


def read_model_dir(model_dir, template_file):
    """transformers: the template and special_tokens_map of a tokenizer directory."""
    cfg = {}
    path = os.path.join(model_dir, "tokenizer_config.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
    special = {}
    for name in SPECIAL_TOKENS:
        v = token_content(cfg.get(name))
        if v:
            special[name] = str(v)
    extra = [token_content(t) for t in cfg.get("additional_special_tokens") or []]
    extra = [str(t) for t in extra if t is not None]
    if extra:
        special["additional_special_tokens"] = extra
    for name, v in (cfg.get("extra_special_tokens") or {}).items():
        v = token_content(v)
        if v:
            special[name] = str(v)
    if template_file:
        with open(template_file, encoding="utf-8") as f:
            return f.read(), special
    ct = cfg.get("chat_template")
    if isinstance(ct, list):
        ct = {t["name"]: t["template"] for t in ct}.get("default")
    if ct is None:
        jinja_path = os.path.join(model_dir, "chat_template.jinja")
        with open(jinja_path, encoding="utf-8") as f:
            ct = f.read()
    return ct, special


def render_case(case):
    if "model_dir" in case:
        source, special = model_dir_inputs(case["model_dir"], case.get("template_file"))
    else:
        source, special = case["template"], case.get("special_tokens") or {}
    status, template = compile_template(source)
    if status == "error":
        return {"error": str(template), "type": type(template).__name__, "raised": False}
    request = case["request"]
    extra = dict(request.get("chat_template_kwargs") or {})
    documents = extra.pop("documents", None)
    kwargs = {**special, **extra}
    try:
        text = template.render(messages=request["messages"], tools=request.get("tools"),
                               documents=documents,
                               add_generation_prompt=bool(case.get("add_generation_prompt")),
                               **kwargs)
        return {"ok": text}
    except Raised as e:
        return {"error": str(e), "type": "TemplateError", "raised": True}
    except RecursionError as e:
        return {"error": "recursion: " + str(e), "type": "RecursionError", "raised": False}
    except Exception as e:
        return {"error": str(e), "type": type(e).__name__, "raised": False}


def main():
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        result = render_case(json.loads(line))
        out.write(json.dumps(result, ensure_ascii=False))
        out.write("\n")
    out.flush()


if __name__ == "__main__":
    main()
