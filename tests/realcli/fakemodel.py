#!/usr/bin/env python3
"""fakemodel.py: a fake LLM API server (stdlib only) for driving the REAL agent CLIs offline.

Adapted from ../shared/realclients/fakellm.py. Listens on 127.0.0.1 only. In tests it runs
inside the test process (`FakeModel(...).start()`, `.set(mode, **fields)`, `.requests()`); by
hand: `python tests/realcli/fakemodel.py --port 0 --port-file P --log L --control C.json`.

APIs (paths matched by suffix, base URL with or without /v1):
  Anthropic  POST /v1/messages (SSE or JSON), /v1/messages/count_tokens, GET /v1/models
             (Claude Code)
  OpenAI     POST /v1/responses (SSE, codex), /v1/chat/completions (SSE, opencode), GET /v1/models
  Gemini     POST /v1beta/models/<m>:streamGenerateContent?alt=sse, :generateContent,
             :countTokens, GET /v1beta/models (gemini CLI)
  HEAD / and GET / answer 200; anything else is logged and answered 404. Side requests that
  ask for JSON output (gemini's router, codex's titles) get schema-valid JSON at once, never a
  tool call.

The behaviour ("mode") switches at run time: `FakeModel.set()`, POST /_admin/mode {"mode": ...}
(or GET /_admin/mode?mode=...), or the control file (re-read when its mtime changes).
Modes (model requests only; token counts and model listings always succeed):
  ok          answer `text` (default "FAKE-LLM reply #N: ...") after `delay` s (before any byte:
              the CLI shows its busy screen), in chunks `chunk_delay` s apart (0.05).
  tool        if tools are offered: ONE tool call running a shell command (`command`) -> the CLI's
              permission prompt; once the tool result comes back, text. Anthropic `Bash`, chat
              `bash`, responses `exec_command` (with sandbox_permissions=require_escalated so codex
              asks; `escalate`: false to skip), gemini `run_shell_command`; or `tool` + `tool_args`
              (+ `tool_namespace`: responses API, a tool offered inside a namespace tool).
  ratelimit   HTTP 429 shaped like the real service; `retry_after` (s, 30) -> retry-after header;
              `reset_in` (s, 300) -> the advertised reset; `flavor`:
                "api"   (default) per-minute rate limit: Anthropic rate_limit_error +
                        anthropic-ratelimit-* + x-should-retry:true; OpenAI rate_limit_exceeded +
                        x-ratelimit-*; Gemini RESOURCE_EXHAUSTED PerMinute + RetryInfo.
                "usage" plan usage limit: Anthropic anthropic-ratelimit-unified-status=rejected,
                        -unified-reset=<epoch>, claim `claim` (five_hour), x-should-retry:false;
                        OpenAI {"type":"usage_limit_reached","resets_at",...} + x-codex-primary-*;
                        Gemini PerDay QuotaFailure (terminal).
                "quota" OpenAI insufficient_quota.
              `usage` is a shorthand mode for ratelimit flavor=usage.
  overloaded  Anthropic 529 overloaded_error; OpenAI 503 server_is_overloaded; Gemini 503.
  error500    500 api_error / server_error / INTERNAL.
  hang        never answer: wait until the client leaves or the mode changes (then answer per
              the new mode).
Fields for any mode:
  count: N          the mode applies to the next N targeted requests, then plain "ok" (the count
                    restarts when the state changes) - a retry that succeeds later
  main_only: true   only the agent's main requests (offering tools, not asking for JSON) are
                    targeted; side requests (titles, summaries, routers) get a plain answer
  match: REGEX      only requests whose last user text matches are targeted
  headers: {...}    extra HTTP headers on every answer of this state
  status, should_retry, message   override the error status / x-should-retry / message

Every request is one JSON line in the log (and in memory): time, method, path, selected headers
(keys truncated), body size, model, stream, max_tokens, last user text (120 chars), tools offered,
api, mode applied, side (untargeted), json_mode, tool_call, status. --dump-bodies DIR saves bodies.
"""

import argparse
import json
import os
import re
import select
import socket
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

DEFAULT_TEXT = "FAKE-LLM reply #{n}: Hello from the fake server. Nothing to do."
LOG_HEADERS = (
    "user-agent",
    "content-type",
    "accept",
    "x-api-key",
    "authorization",
    "anthropic-version",
    "anthropic-beta",
    "x-app",
    "x-stainless-retry-count",
    "x-stainless-timeout",
    "openai-beta",
    "x-goog-api-key",
    "x-goog-api-client",
    "originator",
    "session_id",
    "chatgpt-account-id",
    "version",
    "x-claude-code-session-id",
)


class State:
    def __init__(self, control_path, log_path, verbose=False):
        self.lock = threading.Lock()
        self.verbose = verbose
        self.records = []  # every logged request, in memory too (in-process use)
        self.control_path = control_path
        self.log_path = log_path
        self.mem = {"mode": "ok", "delay": 0}
        self.ctl_mtime = None
        self.ctl_state = None
        self.version = 0  # bumps whenever the effective state changes
        self.used = 0  # model requests served under the current version
        self.n_requests = 0
        self.n_model = 0

    def _read_control(self):
        if not self.control_path:
            return None
        try:
            st = os.stat(self.control_path)
        except FileNotFoundError:
            if self.ctl_state is not None:
                self.ctl_state, self.ctl_mtime = None, None
                self.version += 1
                self.used = 0
            return None
        if st.st_mtime_ns != self.ctl_mtime:
            try:
                with open(self.control_path) as f:
                    txt = f.read().strip()
                d = json.loads(txt) if txt.startswith("{") else {"mode": txt or "ok"}
            except Exception as e:  # keep the previous state on a half-written file
                sys.stderr.write(f"fakemodel: bad control file: {e}\n")
                return self.ctl_state
            self.ctl_mtime = st.st_mtime_ns
            if d != self.ctl_state:
                self.ctl_state = d
                self.version += 1
                self.used = 0
        return self.ctl_state

    def current(self):
        with self.lock:
            c = self._read_control()
            return dict(c if c is not None else self.mem), self.version

    def take(self, targeted=lambda st: True):
        """Effective state for one model request (consumes one unit of `count`). A request
        the state does not target (`match`, `main_only`) gets a plain answer and uses no count."""
        with self.lock:
            c = self._read_control()
            st = dict(c if c is not None else self.mem)
            self.n_model += 1
            n = self.n_model
            if not targeted(st):
                return {"mode": "ok", "text": st.get("text"), "untargeted": True}, self.version, n
            cnt = st.get("count")
            if cnt is not None and st.get("mode", "ok") != "ok":
                if self.used >= int(cnt):
                    st = {"mode": "ok", "delay": st.get("ok_delay", 0), "text": st.get("text")}
                self.used += 1
            return st, self.version, n

    def set(self, d):
        with self.lock:
            self.mem = dict(d)
            self.version += 1
            self.used = 0
            if self.control_path:
                tmp = self.control_path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(d, f)
                os.replace(tmp, self.control_path)
                self.ctl_state = dict(d)
                self.ctl_mtime = os.stat(self.control_path).st_mtime_ns

    def log(self, rec):
        rec["t"] = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        rec["wall"] = time.time()
        line = json.dumps(rec, ensure_ascii=False)
        with self.lock:
            self.n_requests += 1
            self.records.append(rec)
            if self.log_path:
                with open(self.log_path, "a") as f:
                    f.write(line + "\n")
        if self.verbose:
            sys.stderr.write(line + "\n")


def now_iso(delta_s=0):
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def chunks_of(text, n=3):
    words = text.split(" ")
    out = []
    for i in range(0, len(words), n):
        piece = " ".join(words[i : i + n])
        out.append(piece if i + n >= len(words) else piece + " ")
    return out or [""]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakemodel/1.0"
    sys_version = ""

    def log_message(self, fmt, *args):  # silence default stderr logging
        pass

    # ---------------------------------------------------------------- plumbing
    def _read_body(self):
        n = int(self.headers.get("content-length") or 0)
        if n:
            return self.rfile.read(n)
        if (self.headers.get("transfer-encoding") or "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16) if line else 0
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data
        return b""

    def _send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for k, v in dict(getattr(self, "extra_headers", {}), **(headers or {})).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _start_sse(self, headers=None):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        for k, v in dict(getattr(self, "extra_headers", {}), **(headers or {})).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.close_connection = True

    def _sse(self, event, data):
        s = ""
        if event:
            s += f"event: {event}\n"
        s += "data: " + (data if isinstance(data, str) else json.dumps(data)) + "\n\n"
        self.wfile.write(s.encode())
        self.wfile.flush()

    def _client_gone(self):
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if r:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
        except Exception:
            return True
        return False

    def _wait(self, seconds, version):
        """Sleep up to `seconds`; returns early ('gone') if the client disconnected."""
        end = time.time() + seconds
        while time.time() < end:
            if self._client_gone():
                return "gone"
            time.sleep(min(0.2, max(0, end - time.time())))
        return "done"

    def _hang(self, version):
        while True:
            if self._client_gone():
                return None
            st, ver = self.server.state.current()
            if ver != version and st.get("mode") != "hang":
                return st
            time.sleep(0.3)

    # ---------------------------------------------------------------- dispatch
    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
        self.server.state.log({"method": "HEAD", "path": self.path, "status": 200})

    def _dispatch(self, method):
        body = self._read_body() if method in ("POST", "PUT") else b""
        u = urlparse(self.path)
        path = u.path.rstrip("/") or "/"
        q = parse_qs(u.query)
        rec = {
            "method": method,
            "path": self.path,
            "body_bytes": len(body),
            "headers": {
                k: (
                    v
                    if k not in ("x-api-key", "authorization", "x-goog-api-key")
                    else v[:12] + "..."
                )
                for k, v in ((k.lower(), v) for k, v in self.headers.items())
                if k in LOG_HEADERS
            },
        }
        j = None
        if body:
            try:
                j = json.loads(body)
            except Exception:
                j = None
        if isinstance(j, dict):
            rec["model"] = j.get("model")
            rec["stream"] = j.get("stream")
            if "max_tokens" in j:
                rec["max_tokens"] = j.get("max_tokens")
            rec["last_user"] = last_user_text(j)[:120]
            tn = tool_names(j)
            if tn:
                rec["tools"] = len(tn)
        if self.server.dump_bodies and body:
            os.makedirs(self.server.dump_bodies, exist_ok=True)
            fn = os.path.join(
                self.server.dump_bodies,
                f"{time.time():.3f}-{method}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', u.path)[:80]}.json",
            )
            with open(fn, "wb") as f:
                f.write(body)
            rec["body_file"] = os.path.basename(fn)
        try:
            status = self._route(method, path, q, j, rec)
        except (BrokenPipeError, ConnectionResetError):
            status = "client-gone"
        rec["status"] = status
        self.server.state.log(rec)

    def _route(self, method, path, q, j, rec):
        if path.startswith("/_admin/mode"):
            if method == "POST" and isinstance(j, dict):
                self.server.state.set(j)
            elif q.get("mode"):
                d = {
                    k: (
                        float(v[0])
                        if k in ("delay", "chunk_delay", "retry_after", "reset_in")
                        else int(v[0])
                        if k in ("count", "status")
                        else v[0]
                    )
                    for k, v in q.items()
                }
                self.server.state.set(d)
            st, ver = self.server.state.current()
            self._send_json(
                200,
                {
                    "state": st,
                    "version": ver,
                    "requests": self.server.state.n_requests,
                    "model_requests": self.server.state.n_model,
                },
            )
            return 200
        if path == "/_admin/health" or path == "/health" or path == "/":
            self._send_json(200, {"ok": True, "server": "fakemodel"})
            return 200

        # ---- model listings (always succeed)
        if method == "GET" and (path.endswith("/models") or path.endswith("/v1/models")):
            if "v1beta" in path:
                self._send_json(
                    200,
                    {
                        "models": [
                            {
                                "name": "models/gemini-2.5-pro",
                                "displayName": "Gemini 2.5 Pro",
                                "supportedGenerationMethods": ["generateContent", "countTokens"],
                            },
                            {
                                "name": "models/gemini-2.5-flash",
                                "displayName": "Gemini 2.5 Flash",
                                "supportedGenerationMethods": ["generateContent", "countTokens"],
                            },
                        ]
                    },
                )
            elif self.headers.get("anthropic-version") or self.headers.get("x-api-key"):
                ids = [
                    "claude-sonnet-4-5-20250929",
                    "claude-opus-4-1-20250805",
                    "claude-haiku-4-5-20251001",
                ]
                self._send_json(
                    200,
                    {
                        "data": [
                            {
                                "type": "model",
                                "id": i,
                                "display_name": i,
                                "created_at": "2025-01-01T00:00:00Z",
                            }
                            for i in ids
                        ],
                        "has_more": False,
                        "first_id": ids[0],
                        "last_id": ids[-1],
                    },
                )
            else:
                ids = ["fake-model", "gpt-5", "gpt-5-codex", "gpt-4o"]
                self._send_json(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {
                                "id": i,
                                "object": "model",
                                "created": 1700000000,
                                "owned_by": "fakellm",
                            }
                            for i in ids
                        ],
                    },
                )
            return 200
        if method == "POST" and path.endswith("/messages/count_tokens"):
            self._send_json(200, {"input_tokens": 42})
            return 200
        if method == "POST" and path.endswith(":countTokens"):
            self._send_json(200, {"totalTokens": 42})
            return 200

        # ---- model requests
        api = None
        if method == "POST" and path.endswith("/messages"):
            api = "anthropic"
        elif method == "POST" and path.endswith("/chat/completions"):
            api = "chat"
        elif method == "POST" and path.endswith("/responses"):
            api = "responses"
        elif method == "POST" and (":generateContent" in path or ":streamGenerateContent" in path):
            api = "gemini"
        if api:
            return self._model(api, path, q, j or {}, rec)

        # ---- anything else: log + harmless answer
        if method == "POST" and any(
            s in path for s in ("event_logging", "/telemetry", "/metrics", "/log")
        ):
            self._send_json(200, {})
            return 200
        self._send_json(
            404,
            {
                "type": "error",
                "error": {
                    "type": "not_found_error",
                    "message": f"fakemodel: no route for {method} {path}",
                },
            },
        )
        return 404

    # ---------------------------------------------------------------- model answers
    def _model(self, api, path, q, j, rec):
        def targeted(st):
            if st.get("match") and not re.search(st["match"], last_user_text(j) or ""):
                return False
            # side requests (titles, summaries, routers) offer no tools or ask for JSON output
            if st.get("main_only") and (not tool_names(j) or json_schema_of(j) is not None):
                return False
            return True

        st, ver, n = self.server.state.take(targeted)
        mode = st.get("mode", "ok")
        self.extra_headers = {str(k): str(v) for k, v in (st.get("headers") or {}).items()}
        self.tool_namespace = st.get("tool_namespace")
        if st.get("untargeted"):
            rec["side"] = True
        rec["api"] = api
        rec["mode"] = mode
        if mode == "hang":
            nst = self._hang(ver)
            if nst is None:
                return "hang-client-gone"
            st, mode = nst, nst.get("mode", "ok")
            rec["mode"] = "hang->" + mode
        if mode in ("ratelimit", "rate_limit", "429", "usage", "usage_limit"):
            if mode in ("usage", "usage_limit"):
                st.setdefault("flavor", "usage")
            return self._err_ratelimit(api, st)
        if mode in ("overloaded", "529", "503"):
            return self._err_overloaded(api, st)
        if mode in ("error500", "500", "error"):
            return self._err_500(api, st)
        # ok / tool
        delay = float(st.get("delay", 0) or 0)
        if json_schema_of(j) is not None and not st.get("delay_json"):
            delay = 0
        if delay > 0 and self._wait(delay, ver) == "gone":
            return "client-gone-during-delay"
        text = (st.get("text") or DEFAULT_TEXT).replace("{n}", str(n))
        sch = json_schema_of(j)
        if (
            sch is not None
        ):  # structured-output side request (router / next-speaker / title): JSON, no delay
            text = json.dumps(synth_from_schema(sch))
            rec["json_mode"] = True
        cd = float(st.get("chunk_delay", 0.05) or 0)
        stream = bool(j.get("stream")) or ":streamGenerateContent" in path
        model = j.get("model") or "fake-model"
        if (
            mode == "tool" and tool_names(j) and json_schema_of(j) is None
        ):  # side requests never get tool calls
            if has_tool_result(j):
                text = st.get("after_text") or f"FAKE-LLM reply #{n}: the tool ran. Done."
            else:
                name, args = pick_tool(api, j, st)
                rec["tool_call"] = name
                self._tool_call(api, stream, model, name, args, path, q)
                return 200
        if api == "anthropic":
            self._anthropic(text, stream, model, cd)
        elif api == "chat":
            self._chat(text, stream, model, cd, j)
        elif api == "responses":
            self._responses(text, stream, model, cd)
        else:
            self._gemini(text, stream, path, cd, q)
        return 200

    def _anthropic(self, text, stream, model, cd):
        mid = "msg_fake" + uuid.uuid4().hex[:20]
        hdr = {
            "request-id": "req_fake" + uuid.uuid4().hex[:16],
            "anthropic-organization-id": "00000000-fake",
        }
        usage = {
            "input_tokens": 25,
            "output_tokens": max(1, len(text) // 4),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        if not stream:
            self._send_json(
                200,
                {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": usage,
                },
                hdr,
            )
            return
        self._start_sse(hdr)
        self._sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": 25,
                        "output_tokens": 1,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                    },
                },
            },
        )
        self._sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
        self._sse("ping", {"type": "ping"})
        for c in chunks_of(text):
            if cd:
                time.sleep(cd)
            self._sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": c},
                },
            )
        self._sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        self._sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
        self._sse("message_stop", {"type": "message_stop"})

    def _chat(self, text, stream, model, cd, j):
        cid = "chatcmpl-fake" + uuid.uuid4().hex[:16]
        created = int(time.time())
        usage = {
            "prompt_tokens": 25,
            "completion_tokens": max(1, len(text) // 4),
            "total_tokens": 25 + max(1, len(text) // 4),
        }
        if not stream:
            self._send_json(
                200,
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                },
            )
            return
        self._start_sse()
        base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
        self._sse(
            None,
            dict(
                base,
                choices=[
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "finish_reason": None,
                    }
                ],
            ),
        )
        for c in chunks_of(text):
            if cd:
                time.sleep(cd)
            self._sse(
                None,
                dict(base, choices=[{"index": 0, "delta": {"content": c}, "finish_reason": None}]),
            )
        self._sse(None, dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        if (j.get("stream_options") or {}).get("include_usage"):
            self._sse(None, dict(base, choices=[], usage=usage))
        self._sse(None, "[DONE]")

    def _responses(self, text, stream, model, cd):
        rid = "resp_fake" + uuid.uuid4().hex[:20]
        iid = "msg_fake" + uuid.uuid4().hex[:20]
        created = int(time.time())
        ot = max(1, len(text) // 4)
        usage = {
            "input_tokens": 25,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": ot,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 25 + ot,
        }
        item_done = {
            "id": iid,
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }

        def resp(status, output, usage_=None):
            r = {
                "id": rid,
                "object": "response",
                "created_at": created,
                "status": status,
                "model": model,
                "output": output,
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "error": None,
                "incomplete_details": None,
            }
            if usage_:
                r["usage"] = usage_
            return r

        if not stream:
            self._send_json(200, resp("completed", [item_done], usage))
            return
        self._start_sse({"x-request-id": "req_fake" + uuid.uuid4().hex[:12]})
        seq = iter(range(10**6))
        ev = lambda typ, **kw: self._sse(  # noqa: E731
            typ, dict({"type": typ, "sequence_number": next(seq)}, **kw)
        )
        ev("response.created", response=resp("in_progress", []))
        ev("response.in_progress", response=resp("in_progress", []))
        ev(
            "response.output_item.added",
            output_index=0,
            item={
                "id": iid,
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            },
        )
        ev(
            "response.content_part.added",
            item_id=iid,
            output_index=0,
            content_index=0,
            part={"type": "output_text", "text": "", "annotations": []},
        )
        for c in chunks_of(text):
            if cd:
                time.sleep(cd)
            ev("response.output_text.delta", item_id=iid, output_index=0, content_index=0, delta=c)
        ev("response.output_text.done", item_id=iid, output_index=0, content_index=0, text=text)
        ev(
            "response.content_part.done",
            item_id=iid,
            output_index=0,
            content_index=0,
            part={"type": "output_text", "text": text, "annotations": []},
        )
        ev("response.output_item.done", output_index=0, item=item_done)
        ev("response.completed", response=resp("completed", [item_done], usage))

    def _gemini(self, text, stream, path, cd, q):
        usage = {
            "promptTokenCount": 25,
            "candidatesTokenCount": max(1, len(text) // 4),
            "totalTokenCount": 25 + max(1, len(text) // 4),
        }

        def cand(t, final):
            c = {"content": {"parts": [{"text": t}], "role": "model"}, "index": 0}
            if final:
                c["finishReason"] = "STOP"
            return {
                "candidates": [c],
                "usageMetadata": usage,
                "modelVersion": "gemini-2.5-pro",
                "responseId": "fake" + uuid.uuid4().hex[:12],
            }

        if not stream:
            self._send_json(200, cand(text, True))
            return
        pieces = chunks_of(text)
        if q.get("alt", [""])[0] == "sse":
            self._start_sse()
            for i, c in enumerate(pieces):
                if cd:
                    time.sleep(cd)
                self.wfile.write(
                    ("data: " + json.dumps(cand(c, i == len(pieces) - 1)) + "\r\n\r\n").encode()
                )
                self.wfile.flush()
        else:  # JSON array streaming
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("connection", "close")
            self.end_headers()
            self.close_connection = True
            self.wfile.write(b"[")
            for i, c in enumerate(pieces):
                self.wfile.write(
                    (("," if i else "") + json.dumps(cand(c, i == len(pieces) - 1))).encode()
                )
                self.wfile.flush()
            self.wfile.write(b"]")

    # ---------------------------------------------------------------- tool calls
    def _tool_call(self, api, stream, model, name, args, path, q):
        cid = "call_fake" + uuid.uuid4().hex[:16]
        argstr = json.dumps(args)
        if api == "anthropic":
            tid = "toolu_fake" + uuid.uuid4().hex[:16]
            mid = "msg_fake" + uuid.uuid4().hex[:20]
            if not stream:
                self._send_json(
                    200,
                    {
                        "id": mid,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [{"type": "tool_use", "id": tid, "name": name, "input": args}],
                        "stop_reason": "tool_use",
                        "stop_sequence": None,
                        "usage": {"input_tokens": 25, "output_tokens": 20},
                    },
                )
                return
            self._start_sse()
            self._sse(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": mid,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 25, "output_tokens": 1},
                    },
                },
            )
            self._sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "tool_use", "id": tid, "name": name, "input": {}},
                },
            )
            self._sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": argstr},
                },
            )
            self._sse("content_block_stop", {"type": "content_block_stop", "index": 0})
            self._sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                    "usage": {"output_tokens": 20},
                },
            )
            self._sse("message_stop", {"type": "message_stop"})
        elif api == "chat":
            created = int(time.time())
            base = {
                "id": "chatcmpl-fake" + uuid.uuid4().hex[:12],
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
            }
            if not stream:
                self._send_json(
                    200,
                    {
                        "id": base["id"],
                        "object": "chat.completion",
                        "created": created,
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {
                                    "role": "assistant",
                                    "content": None,
                                    "tool_calls": [
                                        {
                                            "id": cid,
                                            "type": "function",
                                            "function": {"name": name, "arguments": argstr},
                                        }
                                    ],
                                },
                                "finish_reason": "tool_calls",
                            }
                        ],
                        "usage": {"prompt_tokens": 25, "completion_tokens": 20, "total_tokens": 45},
                    },
                )
                return
            self._start_sse()
            self._sse(
                None,
                dict(
                    base,
                    choices=[
                        {
                            "index": 0,
                            "delta": {
                                "role": "assistant",
                                "content": None,
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": cid,
                                        "type": "function",
                                        "function": {"name": name, "arguments": ""},
                                    }
                                ],
                            },
                            "finish_reason": None,
                        }
                    ],
                ),
            )
            self._sse(
                None,
                dict(
                    base,
                    choices=[
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [{"index": 0, "function": {"arguments": argstr}}]
                            },
                            "finish_reason": None,
                        }
                    ],
                ),
            )
            self._sse(
                None, dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])
            )
            self._sse(
                None,
                dict(
                    base,
                    choices=[],
                    usage={"prompt_tokens": 25, "completion_tokens": 20, "total_tokens": 45},
                ),
            )
            self._sse(None, "[DONE]")
        elif api == "responses":
            rid = "resp_fake" + uuid.uuid4().hex[:20]
            fid = "fc_fake" + uuid.uuid4().hex[:20]
            created = int(time.time())
            usage = {
                "input_tokens": 25,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 20,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 45,
            }
            if name == "custom:apply_patch":
                item = {
                    "id": fid,
                    "type": "custom_tool_call",
                    "status": "completed",
                    "call_id": cid,
                    "name": "apply_patch",
                    "input": args,
                }
            else:
                item = {
                    "id": fid,
                    "type": "function_call",
                    "status": "completed",
                    "call_id": cid,
                    "name": name,
                    "arguments": argstr,
                }
                if self.tool_namespace:  # a tool offered inside a namespace (codex: MCP)
                    item["namespace"] = self.tool_namespace
            resp = lambda status, out, u=None: dict(  # noqa: E731
                {
                    "id": rid,
                    "object": "response",
                    "created_at": created,
                    "status": status,
                    "model": model,
                    "output": out,
                },
                **({"usage": u} if u else {}),
            )
            if not stream:
                self._send_json(200, resp("completed", [item], usage))
                return
            self._start_sse()
            seq = iter(range(10**6))
            ev = lambda typ, **kw: self._sse(  # noqa: E731
                typ, dict({"type": typ, "sequence_number": next(seq)}, **kw)
            )
            ev("response.created", response=resp("in_progress", []))
            ev(
                "response.output_item.added",
                output_index=0,
                item=dict(item, status="in_progress", arguments=""),
            )
            ev("response.function_call_arguments.delta", item_id=fid, output_index=0, delta=argstr)
            ev(
                "response.function_call_arguments.done",
                item_id=fid,
                output_index=0,
                arguments=argstr,
            )
            ev("response.output_item.done", output_index=0, item=item)
            ev("response.completed", response=resp("completed", [item], usage))
        else:  # gemini
            obj = {
                "candidates": [
                    {
                        "content": {
                            "parts": [{"functionCall": {"name": name, "args": args}}],
                            "role": "model",
                        },
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": 25,
                    "candidatesTokenCount": 20,
                    "totalTokenCount": 45,
                },
                "modelVersion": "gemini-2.5-pro",
            }
            if not stream:
                self._send_json(200, obj)
            elif q.get("alt", [""])[0] == "sse":
                self._start_sse()
                self.wfile.write(("data: " + json.dumps(obj) + "\r\n\r\n").encode())
                self.wfile.flush()
            else:
                body = ("[" + json.dumps(obj) + "]").encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

    # ---------------------------------------------------------------- error answers
    def _err_ratelimit(self, api, st):
        ra = int(float(st.get("retry_after", 30)))
        reset_in = int(float(st.get("reset_in", 300)))
        flavor = st.get("flavor", "api")
        status = int(st.get("status", 429))
        reset_epoch = int(time.time()) + reset_in
        if api == "anthropic":
            h = {
                "retry-after": ra,
                "request-id": "req_fake" + uuid.uuid4().hex[:16],
                "x-should-retry": str(st.get("should_retry", "true")).lower(),
                "anthropic-ratelimit-requests-limit": 50,
                "anthropic-ratelimit-requests-remaining": 0,
                "anthropic-ratelimit-requests-reset": now_iso(ra),
                "anthropic-ratelimit-tokens-limit": 80000,
                "anthropic-ratelimit-tokens-remaining": 0,
                "anthropic-ratelimit-tokens-reset": now_iso(ra),
                "anthropic-ratelimit-input-tokens-limit": 40000,
                "anthropic-ratelimit-input-tokens-remaining": 0,
                "anthropic-ratelimit-input-tokens-reset": now_iso(ra),
                "anthropic-ratelimit-output-tokens-limit": 8000,
                "anthropic-ratelimit-output-tokens-remaining": 0,
                "anthropic-ratelimit-output-tokens-reset": now_iso(ra),
            }
            msg = st.get("message") or (
                "This request would exceed the rate limit for your organization "
                "(fake-org) of 50 requests per minute. For details, refer to: "
                "https://docs.claude.com/en/api/rate-limits."
            )
            if flavor == "usage":
                claim = st.get("claim", "five_hour")
                h.update(
                    {
                        "anthropic-ratelimit-unified-status": "rejected",
                        "anthropic-ratelimit-unified-reset": reset_epoch,
                        "anthropic-ratelimit-unified-representative-claim": claim,
                        "anthropic-ratelimit-unified-fallback": "unavailable",
                        "anthropic-ratelimit-unified-overage-status": "rejected",
                        "anthropic-ratelimit-unified-overage-disabled-reason": st.get(
                            "overage_reason", "org_level_disabled"
                        ),
                        "anthropic-ratelimit-unified-5h-utilization": "1.0",
                        "anthropic-ratelimit-unified-5h-reset": reset_epoch,
                        "anthropic-ratelimit-unified-5h-status": "rejected",
                        "anthropic-ratelimit-unified-7d-utilization": "0.42",
                        "anthropic-ratelimit-unified-7d-reset": reset_epoch + 86400 * 3,
                        "anthropic-ratelimit-unified-7d-status": "allowed",
                    }
                )
                h["x-should-retry"] = str(st.get("should_retry", "false")).lower()
                msg = st.get("message") or "Rate limited"
            self._send_json(
                status,
                {
                    "type": "error",
                    "error": {"type": "rate_limit_error", "message": msg},
                    "request_id": h["request-id"],
                },
                h,
            )
        elif api in ("chat", "responses"):
            h = {
                "retry-after": ra,
                "x-request-id": "req_fake" + uuid.uuid4().hex[:12],
                "x-ratelimit-limit-requests": 500,
                "x-ratelimit-remaining-requests": 0,
                "x-ratelimit-reset-requests": f"{ra}s",
                "x-ratelimit-limit-tokens": 30000,
                "x-ratelimit-remaining-tokens": 0,
                "x-ratelimit-reset-tokens": f"{ra}s",
            }
            if flavor == "usage":
                # ChatGPT-plan usage limit (what codex parses) / API quota exhaustion
                err = {
                    "type": "usage_limit_reached",
                    "message": st.get("message") or "The usage limit has been reached",
                    "plan_type": st.get("plan_type", "plus"),
                    "resets_at": reset_epoch,
                    "resets_in_seconds": reset_in,
                }
                h.update(
                    {
                        "x-codex-primary-used-percent": "100",
                        "x-codex-primary-window-minutes": "300",
                        "x-codex-primary-reset-after-seconds": str(reset_in),
                        "x-codex-primary-reset-at": str(reset_epoch),
                        "x-codex-secondary-used-percent": "40",
                        "x-codex-secondary-window-minutes": "10080",
                        "x-codex-secondary-reset-after-seconds": str(reset_in + 86400),
                        "x-codex-secondary-reset-at": str(reset_epoch + 86400),
                    }
                )
            elif flavor == "quota":
                err = {
                    "message": "You exceeded your current quota, please check your plan and billing details. "  # noqa: E501
                    "For more information on this error, read the docs: "
                    "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                    "type": "insufficient_quota",
                    "param": None,
                    "code": "insufficient_quota",
                }
            else:
                err = {
                    "message": st.get("message")
                    or (
                        "Rate limit reached for fake-model in organization org-fake "
                        "on requests per min (RPM): Limit 500, Used 500, Requested 1. "
                        f"Please try again in {ra}s. Visit "
                        "https://platform.openai.com/account/rate-limits to learn more."
                    ),
                    "type": "requests",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            self._send_json(status, {"error": err}, h)
        else:  # gemini: a per-minute quota is retried (silently); a per-DAY one is terminal (usage)
            per = "PerDay" if flavor == "usage" else "PerMinute"
            self._send_json(
                status,
                {
                    "error": {
                        "code": 429,
                        "message": st.get("message")
                        or (
                            "You exceeded your current quota, please check your plan and billing details. For more information "  # noqa: E501
                            "on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. "  # noqa: E501
                            f"Please retry in {ra}s."
                        ),
                        "status": "RESOURCE_EXHAUSTED",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                                "violations": [
                                    {
                                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",  # noqa: E501
                                        "quotaId": f"GenerateRequests{per}PerProjectPerModel-FreeTier",  # noqa: E501
                                        "quotaDimensions": {
                                            "location": "global",
                                            "model": "gemini-2.5-pro",
                                        },
                                        "quotaValue": "250" if per == "PerDay" else "2",
                                    }
                                ],
                            },
                            {
                                "@type": "type.googleapis.com/google.rpc.Help",
                                "links": [
                                    {
                                        "description": "Learn more about Gemini API quotas",
                                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                                    }
                                ],
                            },
                            {
                                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                                "retryDelay": f"{ra}s",
                            },
                        ],
                    }
                },
                {"retry-after": ra},
            )
        return status

    def _err_overloaded(self, api, st):
        if api == "anthropic":
            status = int(st.get("status", 529))
            self._send_json(
                status,
                {
                    "type": "error",
                    "error": {"type": "overloaded_error", "message": "Overloaded"},
                    "request_id": "req_fake" + uuid.uuid4().hex[:16],
                },
                {"x-should-retry": str(st.get("should_retry", "true")).lower()},
            )
        elif api in ("chat", "responses"):
            status = int(st.get("status", 503))
            self._send_json(
                status,
                {
                    "error": {
                        "message": "The server is overloaded or not ready yet.",
                        "type": "server_error",
                        "param": None,
                        "code": "server_is_overloaded",
                    }
                },
            )
        else:
            status = int(st.get("status", 503))
            self._send_json(
                status,
                {
                    "error": {
                        "code": 503,
                        "message": "The model is overloaded. Please try again later.",
                        "status": "UNAVAILABLE",
                    }
                },
            )
        return status

    def _err_500(self, api, st):
        status = int(st.get("status", 500))
        if api == "anthropic":
            self._send_json(
                status,
                {
                    "type": "error",
                    "error": {"type": "api_error", "message": "Internal server error"},
                    "request_id": "req_fake" + uuid.uuid4().hex[:16],
                },
                {"x-should-retry": str(st.get("should_retry", "true")).lower()},
            )
        elif api in ("chat", "responses"):
            self._send_json(
                status,
                {
                    "error": {
                        "message": "The server had an error while processing your request. Sorry about that!",  # noqa: E501
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
        else:
            self._send_json(
                status,
                {
                    "error": {
                        "code": 500,
                        "message": "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
                        "status": "INTERNAL",
                    }
                },
            )
        return status


def json_schema_of(j):
    """The JSON schema a request asks its output to follow ({} if none given), or None."""
    try:
        gc = j.get("generationConfig") or {}
        if gc.get("responseMimeType") == "application/json":
            return gc.get("responseJsonSchema") or gc.get("responseSchema") or {}
        rf = j.get("response_format") or {}
        if rf.get("type") == "json_schema":
            return (rf.get("json_schema") or {}).get("schema") or {}
        if rf.get("type") == "json_object":
            return {}
        fmt = (j.get("text") or {}).get("format") or {}
        if fmt.get("type") == "json_schema":
            return fmt.get("schema") or {}
    except Exception:
        pass
    return None


def synth_from_schema(sch, name=""):
    """A minimal value that satisfies a JSON schema (OpenAPI/Gemini-style types accepted)."""
    if not isinstance(sch, dict):
        return "fake"
    if "enum" in sch and sch["enum"]:
        en = sch["enum"]
        for pref in ("user", "flash", "simple", "false", "no"):
            if pref in en:
                return pref
        return en[0]
    if "anyOf" in sch and sch["anyOf"]:
        return synth_from_schema(sch["anyOf"][0], name)
    t = str(sch.get("type", "object")).lower()
    if isinstance(sch.get("type"), list):
        t = str([x for x in sch["type"] if x != "null"][0]).lower()
    if t == "object":
        props = sch.get("properties") or {}
        return {k: synth_from_schema(v, k) for k, v in props.items()}
    if t == "array":
        return []
    if t in ("integer", "number"):
        return 10 if "score" in name else 1
    if t == "boolean":
        return False
    if name == "next_speaker":
        return "user"
    return "fake " + name if name else "fake"


def tool_names(j):
    out = []
    for t in j.get("tools") or []:
        if not isinstance(t, dict):
            continue
        if "functionDeclarations" in t:
            out += [f.get("name") for f in t["functionDeclarations"]]
        elif isinstance(t.get("function"), dict):
            out.append(t["function"].get("name"))
        else:
            out.append(t.get("name") or t.get("type"))
    return [x for x in out if x]


def has_tool_result(j):
    """True if the newest turn is a tool result (so the fake model should now answer with text)."""
    try:
        if "messages" in j and j["messages"]:
            m = j["messages"][-1]
            if m.get("role") == "tool":
                return True
            c = m.get("content")
            if isinstance(c, list) and any(
                isinstance(b, dict) and b.get("type") == "tool_result" for b in c
            ):
                return True
        if isinstance(j.get("input"), list) and j["input"]:
            it = j["input"][-1]
            if it.get("type") in (
                "function_call_output",
                "custom_tool_call_output",
                "local_shell_call_output",
            ):
                return True
        if j.get("contents"):
            parts = j["contents"][-1].get("parts", [])
            if any("functionResponse" in p for p in parts):
                return True
    except Exception:
        pass
    return False


def pick_tool(api, j, st):
    """(name, args) of the tool call to make; override with st['tool'] / st['tool_args']."""
    cmd = st.get("command", "echo fake-tool-call > fake_tool_output.txt")
    names = tool_names(j)
    if st.get("tool"):
        return st["tool"], st.get("tool_args", {"command": cmd})
    if api == "anthropic":
        return "Bash", {"command": cmd, "description": "Write a marker file (fake tool call)"}
    if api == "chat":
        n = next(
            (x for x in names if x in ("bash", "shell", "Bash")), names[0] if names else "bash"
        )
        return n, {"command": cmd, "description": "Write a marker file (fake tool call)"}
    if api == "responses":
        if "shell_command" in names:
            return "shell_command", {"command": cmd}
        if "exec_command" in names:
            args = {"cmd": cmd}
            if st.get(
                "escalate", True
            ):  # makes codex (approval_policy=on-request) show its approval prompt
                args.update(
                    sandbox_permissions="require_escalated",
                    justification="Allow the fake model to write a marker file?",
                )
            return "exec_command", args
        if "shell" in names:
            return "shell", {"command": ["bash", "-lc", cmd]}
        return (names[0] if names else "shell"), {"command": cmd}
    n = next(
        (x for x in names if x in ("run_shell_command", "shell")),
        names[0] if names else "run_shell_command",
    )
    return n, {"command": cmd, "description": "Write a marker file (fake tool call)"}


def last_user_text(j):
    try:
        if "messages" in j:  # anthropic / chat
            for m in reversed(j["messages"]):
                if m.get("role") == "user":
                    c = m.get("content")
                    if isinstance(c, str):
                        return c
                    texts = [
                        b.get("text", "")
                        for b in c
                        if isinstance(b, dict) and b.get("type") == "text"
                    ]
                    return texts[-1] if texts else ""
        if "input" in j:  # responses
            inp = j["input"]
            if isinstance(inp, str):
                return inp
            for m in reversed(inp):
                if m.get("role") == "user":
                    c = m.get("content")
                    if isinstance(c, str):
                        return c
                    texts = [b.get("text", "") for b in c if isinstance(b, dict)]
                    return texts[-1] if texts else ""
        if "contents" in j:  # gemini
            for m in reversed(j["contents"]):
                if m.get("role") == "user":
                    texts = [p.get("text", "") for p in m.get("parts", []) if "text" in p]
                    return texts[-1] if texts else ""
    except Exception:
        pass
    return ""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    state = None  # State
    dump_bodies = ""


class FakeModel:
    """The fake server inside the current process (tests): `start()`, `set(mode, **fields)`,
    `requests()`, `model_requests()`, `stop()`. Loopback only; port 0 = a free port."""

    def __init__(self, log_path=None, control_path=None, dump_bodies="", port=0, verbose=False):
        self.state = State(control_path, log_path, verbose)
        self.srv = Server(("127.0.0.1", port), Handler)
        self.srv.state = self.state
        self.srv.dump_bodies = dump_bodies
        self.port = self.srv.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = None

    def start(self):
        self.thread = threading.Thread(
            target=self.srv.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"fakemodel:{self.port}",
            daemon=True,
        )
        self.thread.start()
        return self

    def set(self, mode="ok", **fields):
        """Switch the behaviour for the next model requests (see the module doc for fields)."""
        self.state.set(dict(fields, mode=mode))

    def requests(self):
        with self.state.lock:
            return list(self.state.records)

    def model_requests(self):
        """Requests that reached a model endpoint (not listings / token counts / telemetry)."""
        return [r for r in self.requests() if r.get("api")]

    def prompts(self):
        """The last user text of each model request that is not a JSON side request."""
        return [r.get("last_user") or "" for r in self.model_requests() if not r.get("json_mode")]

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--log", default="fakemodel.log.jsonl")
    ap.add_argument("--control", default="", help="JSON control file (re-read on change)")
    ap.add_argument("--port-file", default="", help="write the chosen port here once listening")
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument(
        "--dump-bodies", default="", help="directory to save every request body in (debugging)"
    )
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    fake = FakeModel(args.log, args.control or None, args.dump_bodies, args.port, args.verbose)
    fake.state.mem = {"mode": args.mode, "delay": args.delay}
    if args.control and not os.path.exists(args.control):
        fake.state.set(fake.state.mem)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(fake.port))
        os.replace(args.port_file + ".tmp", args.port_file)
    sys.stderr.write(f"fakemodel listening on {fake.base_url} pid={os.getpid()}\n")
    sys.stderr.flush()
    try:
        fake.srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        fake.srv.server_close()


if __name__ == "__main__":
    main()
