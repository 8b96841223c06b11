"""How to run each real agent CLI isolated, against the fake model server, in a private tmux.

A `Run` owns one folder (short, under /tmp: a tmux socket path must stay under 108 bytes):

    ROOT/tmux/   TMUX_TMPDIR of a private tmux server (socket name "rc"); never the default one
    ROOT/home/   the CLI's throw-away HOME, its config pre-written (provider = the fake server,
                 onboarding / trust / update checks / telemetry off); TMPDIR is ROOT/home/tmp
    ROOT/proj/   the CLI's working directory (trusted)

The CLI is started with `env -i` (only the variables below) by `exec`, so the pane's process
IS the CLI; `remain-on-exit` keeps its last screen. `stop()` kills the private tmux server and
then, by pid, every process whose environment carries HOME=ROOT/home (Codex leaves an
app-server daemon in its own session that outlives the tmux server).

Also usable by hand (one CLI at a time; prints where everything is, Ctrl-C stops it):

    python tests/realcli/clis.py claude [--set newest] [--mode ok --delay 5] [-- extra args]
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import tomllib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLIS = ("claude", "codex", "gemini", "opencode")
SOCKET = "rc"
SESSION = "agent"


# ------------------------------------------------------------------------ versions, installs
def versions() -> dict[str, Any]:
    with open(HERE / "versions.toml", "rb") as f:
        return tomllib.load(f)


def realclis_dir() -> Path:
    """Where install.sh puts the sets. The real user's home, not $HOME: tests run with a
    private HOME."""
    env = os.environ.get("AO_REALCLIS_DIR")
    if env:
        return Path(env)
    return Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "agent-orchestrator" / "realclis"


def installed_version(pkg_dir: Path) -> str | None:
    try:
        return json.loads((pkg_dir / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def find_bin(cli: str, set_name: str = "pinned") -> tuple[Path, str] | None:
    """(executable, version) of `cli` at the version `set_name` pins, or None if not installed.
    A version shared by two sets may sit in either set's folder."""
    v = versions()
    pkg, want = v["packages"][cli], v["sets"][set_name][cli]
    order = [set_name] + [s for s in v["sets"] if s != set_name]
    for s in order:
        if v["sets"][s].get(cli) != want:
            continue
        root = realclis_dir() / s / "node_modules"
        if installed_version(root / pkg) == want and (root / ".bin" / cli).exists():
            return root / ".bin" / cli, want
    return None


def each_version() -> list[tuple[str, str, str]]:
    """(cli, set, version) for every CLI version of every set, a version two sets share once."""
    v = versions()
    out, seen = [], set()
    for set_name, pins in v["sets"].items():
        for cli in CLIS:
            if (cli, pins[cli]) not in seen:
                seen.add((cli, pins[cli]))
                out.append((cli, set_name, pins[cli]))
    return out


def node_missing() -> str | None:
    """Why the tier cannot run here (node/npm/tmux missing), or None."""
    for tool in ("node", "npm", "tmux"):
        if not shutil.which(tool):
            return f"{tool} not found"
    return None


# ------------------------------------------------------------------------ screen cues (rig only)
# Coarse cues for the rig's own waits; the product's presets are what the tests check.
READY = {  # the CLI takes a prompt
    "claude": r"^─{20,}\n❯",  # the input box (the footer under it changes with the mode)
    "codex": r"← for agents|\? for shortcuts",
    "gemini": r"Type your message or @path/to/file",
    "opencode": r"ctrl\+p commands",
}
BUSY = {  # a turn is in flight (including the CLI's own retries)
    "claude": r"esc to interrupt|Retrying in|attempt \d+/\d+",
    "codex": r"esc to interrupt",
    "gemini": r"esc to cancel",
    "opencode": r"esc interrupt|\[retrying",
}
DIALOG = {
    "claude": r"Do you want to proceed\?|Do you want to make this edit|Do you want to create",
    "codex": r"Would you like to run the following command\?|Would you like to make the following",
    "gemini": r"Allow execution of|Apply this change\?",
    "opencode": r"Permission required",
}


def busy(cli: str, screen: str) -> bool:
    return bool(re.search(BUSY[cli], screen, re.M))


def ready(cli: str, screen: str) -> bool:
    return bool(re.search(READY[cli], screen, re.M))


def dialog(cli: str, screen: str) -> bool:
    return bool(re.search(DIALOG[cli], screen, re.M))


def idle_with(cli: str, text: str) -> Callable[[str], bool]:
    """A screen predicate: `text` is on screen, the CLI takes a prompt and is not busy."""
    return lambda s: text in s and ready(cli, s) and not busy(cli, s)


# ------------------------------------------------------------------------ per-CLI setup
def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def _merge(base: dict, extra: dict | None) -> dict:
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
    return base


CLAUDE_KEY = "sk-ant-api03-fakemodel-000000000000000000000000000"


def setup_claude(run: Run) -> dict[str, str]:
    o = run.opts
    _write_json(
        run.home / ".claude.json",
        {
            "hasCompletedOnboarding": True,  # no theme picker, no connectivity check
            "lastOnboardingVersion": run.version,
            "theme": "dark",
            "customApiKeyResponses": {"approved": [CLAUDE_KEY[-20:]], "rejected": []},
            "projects": {
                str(run.proj): {
                    "hasTrustDialogAccepted": not o.get("untrusted"),
                    "hasCompletedProjectOnboarding": True,
                    "allowedTools": [],
                }
            },
        },
    )
    _write_json(
        run.home / ".claude" / "settings.json",
        _merge({"env": {}, "permissions": {"allow": [], "deny": []}}, o.get("config")),
    )
    env = {
        "ANTHROPIC_BASE_URL": run.base_url,
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    if o.get("auth", "oauth") == "api":  # API-key billing UI: "API Error: Request rejected (429)"
        env["ANTHROPIC_API_KEY"] = CLAUDE_KEY
    else:  # subscriber UI: "You've hit your limit · resets ..."
        env["CLAUDE_CODE_OAUTH_TOKEN"] = "sk-ant-oat01-fakemodel"
        env["CLAUDE_CODE_SUBSCRIPTION_TYPE"] = "max"
    if o.get("max_retries") is not None:
        env["CLAUDE_CODE_MAX_RETRIES"] = str(o["max_retries"])
    return env


def setup_codex(run: Run) -> dict[str, str]:
    o = run.opts
    retries = o.get("max_retries", 1)
    toml = f'''model = "gpt-5-codex"
model_provider = "fakemodel"
check_for_update_on_startup = false
approval_policy = "on-request"
{o.get("config_toml", "")}
[model_providers.fakemodel]
name = "Fake model"
base_url = "{run.base_url}/v1"
env_key = "FAKEMODEL_API_KEY"
wire_api = "responses"
request_max_retries = {retries}
stream_max_retries = {retries}
stream_idle_timeout_ms = 600000
'''
    if not o.get("untrusted"):
        toml += f'\n[projects."{run.proj}"]\ntrust_level = "trusted"\n'
    (run.home / ".codex").mkdir(parents=True, exist_ok=True)
    (run.home / ".codex" / "config.toml").write_text(toml)
    return {"FAKEMODEL_API_KEY": "sk-fakemodel-codex"}


def setup_gemini(run: Run) -> dict[str, str]:
    o = run.opts
    cfg: dict[str, Any] = {
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        "ui": {"theme": "Default"},  # no theme dialog
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "security": {
            "auth": {"selectedType": "gemini-api-key"},  # no auth dialog
            "folderTrust": {"enabled": bool(o.get("untrusted"))},
        },
        # A fixed model: with "auto" each prompt first goes to a JSON-mode router request.
        "model": {"name": o.get("model", "gemini-2.5-flash")},
    }
    if o.get("max_retries") is not None:
        cfg["general"]["maxAttempts"] = max(1, o["max_retries"])
    _write_json(run.home / ".gemini" / "settings.json", _merge(cfg, o.get("config")))
    return {"GEMINI_API_KEY": "fakemodel-gemini-key", "GOOGLE_GEMINI_BASE_URL": run.base_url}


def setup_opencode(run: Run) -> dict[str, str]:
    o = run.opts
    cfg: dict[str, Any] = {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "model": "fakemodel/fake-model",
        "small_model": "fakemodel/fake-model",
        "provider": {
            "fakemodel": {
                "npm": "@ai-sdk/openai-compatible",  # bundled in the binary: no npm download
                "name": "Fake model",
                "options": {"baseURL": run.base_url + "/v1", "apiKey": "sk-fakemodel-opencode"},
                "models": {
                    "fake-model": {
                        "name": "Fake Model",
                        "limit": {"context": 128000, "output": 8192},
                    }
                },
            }
        },
    }
    if o.get("ask", True):  # opencode's default runs bash/edit without asking
        cfg["permission"] = {"bash": "ask", "edit": "ask"}
    _write_json(run.home / ".config" / "opencode" / "opencode.json", _merge(cfg, o.get("config")))
    return {
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
        "OPENCODE_DISABLE_SHARE": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    }


SETUP: dict[str, Callable[[Run], dict[str, str]]] = {
    "claude": setup_claude,
    "codex": setup_codex,
    "gemini": setup_gemini,
    "opencode": setup_opencode,
}


# ------------------------------------------------------------------------ the CLIs' own signals
# Each CLI's own signal mechanism, wired for ONE agent without touching its user's settings
# files (see SIGNALS.md): the recorder appends {"t", "cli", "argv", "payload"} lines to
# ROOT/signals.jsonl. Claude Code: hooks in a --settings file; Codex: `-c notify=[...]`;
# Gemini CLI: hooks in a system-defaults file named by GEMINI_CLI_SYSTEM_DEFAULTS_PATH (it must
# not sit under a group/world-writable folder such as /tmp, or Gemini skips it); opencode: the
# TUI's own server (`--port`, password in OPENCODE_SERVER_PASSWORD) whose /event stream a
# listener thread records, or (signals="plugin") a plugin listed in an OPENCODE_CONFIG file.
RECORDER = """import json, sys, time
raw = sys.argv[-1] if len(sys.argv) > 2 else sys.stdin.read()
try:
    payload = json.loads(raw or "null")
except ValueError:
    payload = raw
line = {"t": time.time(), "cli": sys.argv[1], "argv": sys.argv[2:-1], "payload": payload}
with open(%r, "a") as f:
    f.write(json.dumps(line) + "\\n")
"""
OPENCODE_PLUGIN = """import { appendFileSync } from "node:fs";
const LOG = %s;
const QUIET = new Set(["plugin.added", "message.part.delta", "catalog.updated"]);
export const AgentSignals = async () => ({
  event: async ({ event }) => {
    if (QUIET.has(event.type)) return;
    const line = { t: Date.now() / 1000, cli: "opencode", argv: [], payload: event };
    appendFileSync(LOG, JSON.stringify(line) + "\\n");
  },
});
"""
CLAUDE_HOOKS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "Notification",
    "Stop",
    "StopFailure",
    "SessionEnd",
)
GEMINI_HOOKS = (
    "SessionStart",
    "BeforeAgent",
    "AfterAgent",
    "BeforeTool",
    "AfterTool",
    "Notification",
    "SessionEnd",
)


def _event(p: Any) -> str:
    if not isinstance(p, dict):
        return ""
    return str(p.get("hook_event_name") or p.get("type") or "")


def signal_kind(cli: str, payload: Any) -> str | None:
    """What one recorded signal says, coarsely: "active", "dialog", "turn-finished",
    "turn-failed", "retrying", "exited", or None (the rig's reading; the product's is
    agent_orchestrator.core.signals)."""
    ev = _event(payload)
    if cli == "claude":
        if ev == "Notification":
            kind = payload.get("notification_type")
            return "dialog" if kind == "permission_prompt" else None
        return {
            "UserPromptSubmit": "active",
            "PreToolUse": "active",
            "PostToolUse": "active",
            "PermissionRequest": "dialog",
            "Stop": "turn-finished",
            "StopFailure": "turn-failed",
            "SessionEnd": "exited",
        }.get(ev)
    if cli == "codex":
        return "turn-finished" if ev == "agent-turn-complete" else None
    if cli == "gemini":
        if ev == "Notification":
            return "dialog" if payload.get("notification_type") == "ToolPermission" else None
        return {
            "BeforeAgent": "active",
            "BeforeTool": "active",
            "AfterTool": "active",
            "AfterAgent": "turn-finished",
            "SessionEnd": "exited",
        }.get(ev)
    if ev == "session.status":
        status = (payload.get("properties") or {}).get("status") or {}
        return {"busy": "active", "retry": "retrying"}.get(status.get("type"))
    return {
        "session.idle": "turn-finished",
        "permission.asked": "dialog",
        "permission.replied": "active",
        "session.error": "turn-failed",
    }.get(ev)


def wire_signals(run: Run) -> tuple[list[str], dict[str, str]]:
    """(extra args, extra env) making `run`'s CLI report its own signals to ROOT/signals.jsonl."""
    rec = run.root / "signal_recorder.py"
    rec.write_text(RECORDER % str(run.signal_log))
    cmd = f"python3 {rec} {run.cli}"
    if run.cli == "claude":
        hooks = {
            e: [{"matcher": "*", "hooks": [{"type": "command", "command": cmd}]}]
            for e in CLAUDE_HOOKS
        }
        _write_json(run.root / "claude-agent-settings.json", {"hooks": hooks})
        return ["--settings", str(run.root / "claude-agent-settings.json")], {}
    if run.cli == "codex":
        return ["-c", f'notify=["python3", "{rec}", "codex", "--"]'], {}
    if run.cli == "gemini":
        hooks = {
            e: [{"matcher": "*", "hooks": [{"type": "command", "command": cmd}]}]
            for e in GEMINI_HOOKS
        }
        _write_json(run.secure_dir() / "gemini-agent-defaults.json", {"hooks": hooks})
        return [], {
            "GEMINI_CLI_SYSTEM_DEFAULTS_PATH": str(run.secure_dir() / "gemini-agent-defaults.json")
        }
    if run.opts.get("signals") == "plugin":
        # Works, but with any plugin configured opencode npm-installs @opencode-ai/plugin into
        # every config folder (the user's ~/.config/opencode too) at start: slow, needs npm.
        plugin = run.root / "agent-signals.js"
        plugin.write_text(OPENCODE_PLUGIN % json.dumps(str(run.signal_log)))
        _write_json(run.root / "opencode-agent.json", {"plugin": [f"file://{plugin}"]})
        return [], {"OPENCODE_CONFIG": str(run.root / "opencode-agent.json")}
    # Default: the TUI's own server on a loopback port, its /event stream read by a listener
    # (the watchdog's job in the product), behind a per-agent password.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        run.sse_port = sock.getsockname()[1]
    return ["--port", str(run.sse_port)], {"OPENCODE_SERVER_PASSWORD": run.sse_password}


QUIET_EVENTS = {"plugin.added", "message.part.delta", "catalog.updated", "server.heartbeat"}


def listen_events(run: Run) -> None:
    """Append opencode's /event stream (server-sent events) to ROOT/signals.jsonl until the
    run stops. While opencode starts, its port may accept a connection and never answer: so
    connect with a timeout, and only then wait on the stream without one."""
    auth = base64.b64encode(f"opencode:{run.sse_password}".encode()).decode()
    while not run.stopping.is_set():
        conn = http.client.HTTPConnection("127.0.0.1", run.sse_port, timeout=2)
        try:
            conn.request("GET", "/event", headers={"Authorization": f"Basic {auth}"})
            resp = conn.getresponse()
            if resp.status != 200:
                raise OSError(f"/event: HTTP {resp.status}")
            assert conn.sock is not None
            conn.sock.settimeout(None)
            for raw in resp:
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                if event.get("type") in QUIET_EVENTS:
                    continue
                rec = {"t": time.time(), "cli": "opencode", "argv": [], "payload": event}
                with open(run.signal_log, "a") as f:
                    f.write(json.dumps(rec) + "\n")
        except (OSError, ValueError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        run.stopping.wait(0.2)


def kickoff_args(cli: str, prompt: str) -> list[str]:
    """The kickoff prompt as the presets pass it: one argument, after the options."""
    return {
        "claude": ["--", prompt],
        "codex": ["--", prompt],
        "gemini": [f"--prompt-interactive={prompt}"],
        "opencode": [f"--prompt={prompt}"],
    }[cli]


# ------------------------------------------------------------------------ one run
class Run:
    """One CLI in its own private tmux server. `opts`: auth ("oauth" | "api", claude),
    untrusted, ask (opencode, default True), max_retries, model (gemini), config (dict merged
    into the CLI's settings file), config_toml (codex: TOML put before its tables), signals
    (wire the CLI's own signals to ROOT/signals.jsonl, see `wire_signals`)."""

    def __init__(
        self,
        cli: str,
        base_url: str,
        set_name: str = "pinned",
        size: str = "120x40",
        root: Path | None = None,
        **opts: Any,
    ):
        found = find_bin(cli, set_name)
        if not found:
            raise FileNotFoundError(
                f"{cli} ({set_name}) is not installed: bash tests/realcli/install.sh"
            )
        self.cli, self.set_name, self.base_url, self.size, self.opts = (
            cli,
            set_name,
            base_url,
            size,
            opts,
        )
        self.bin, self.version = found
        self.root = Path(root or tempfile.mkdtemp(prefix=f"rc-{cli}-", dir="/tmp"))
        self.home, self.proj, self.tmuxdir = (
            self.root / "home",
            self.root / "proj",
            self.root / "tmux",
        )
        for d in (self.home / "tmp", self.proj, self.tmuxdir):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.tmuxdir, 0o700)
        self.signal_log = self.root / "signals.jsonl"
        self.sse_port = 0
        self.sse_password = uuid.uuid4().hex
        self.stopping = threading.Event()
        self._secure: Path | None = None
        self.env: dict[str, str] = {}
        self.argv: list[str] = []
        self.started = 0.0

    # -- tmux on the private server only
    def tmux(self, *args: str, check: bool = True) -> str:
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        env["TMUX_TMPDIR"] = str(self.tmuxdir)
        r = subprocess.run(["tmux", "-L", SOCKET, *args], env=env, capture_output=True, text=True)
        if check and r.returncode:
            raise RuntimeError(f"tmux {' '.join(args)}: rc={r.returncode} {r.stderr.strip()}")
        return r.stdout

    def start(
        self,
        prompt: str | None = None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> Run:
        cli_env = SETUP[self.cli](self)
        if self.opts.get("signals"):
            more_args, more_env = wire_signals(self)
            args, cli_env = [*more_args, *(args or [])], {**cli_env, **more_env}
        self.env = {
            "PATH": f"{self.bin.parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "USER": os.environ.get("USER", "root"),
            "SHELL": "/bin/bash",
            "TMPDIR": str(self.home / "tmp"),
            "TZ": os.environ.get("TZ", "UTC"),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            **cli_env,
            **(env or {}),
        }
        self.argv = [
            str(self.bin),
            *(args or []),
            *(kickoff_args(self.cli, prompt) if prompt else []),
        ]
        launch = (
            "exec env -i "
            + " ".join(shlex.quote(f"{k}={v}") for k, v in self.env.items())
            + " "
            + shlex.join(self.argv)
        )
        w, h = self.size.split("x")
        self.tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            w,
            "-y",
            h,
            "-c",
            str(self.proj),
            launch,
        )
        self.tmux("set-option", "-t", SESSION, "remain-on-exit", "on")
        self.tmux("set-option", "-g", "window-size", "manual")
        self.tmux("resize-window", "-t", SESSION, "-x", w, "-y", h, check=False)
        self.started = time.monotonic()
        if self.cli == "opencode" and self.sse_port:
            threading.Thread(target=listen_events, args=(self,), daemon=True).start()
        return self

    def capture(self) -> str:
        try:
            return self.tmux("capture-pane", "-p", "-t", SESSION)
        except RuntimeError:
            return ""

    def pane(self) -> dict[str, str]:
        out = self.tmux(
            "display-message",
            "-p",
            "-t",
            SESSION,
            "#{pane_pid}|#{pane_dead}|#{pane_dead_status}|#{pane_current_command}",
        )
        pid, dead, status, cmd = out.strip().split("|")
        return {"pid": pid, "dead": dead == "1", "status": status, "command": cmd}

    def send(self, text: str, enter_delay: float = 0.5) -> None:
        self.tmux("send-keys", "-t", SESSION, "-l", "--", text)
        time.sleep(enter_delay)
        self.tmux("send-keys", "-t", SESSION, "Enter")

    def keys(self, *keys: str, gap: float = 0.2) -> None:
        for k in keys:
            self.tmux("send-keys", "-t", SESSION, k)
            time.sleep(gap)

    def wait(
        self, what: str | Callable[[str], Any], timeout: float = 30.0, interval: float = 0.2
    ) -> str | None:
        """Poll the screen until `what` (a regex, or a predicate on the screen) holds; the
        screen, or None at the deadline."""
        pred = (lambda s: re.search(what, s, re.M)) if isinstance(what, str) else what
        end = time.monotonic() + timeout
        while True:
            s = self.capture()
            if pred(s):
                return s
            if time.monotonic() >= end:
                return None
            time.sleep(interval)

    def ready(self, timeout: float = 60.0) -> str | None:
        return self.wait(READY[self.cli], timeout)

    def secure_dir(self) -> Path:
        """A private folder with no group/world-writable ancestor (Gemini CLI refuses settings
        files under /tmp): under the install folder, removed at stop."""
        if self._secure is None:
            base = realclis_dir() / "runs"
            base.mkdir(parents=True, exist_ok=True)
            self._secure = Path(tempfile.mkdtemp(prefix=self.root.name + "-", dir=base))
        return self._secure

    def signals(self) -> list[dict[str, Any]]:
        """The CLI's own signals so far (with `signals=True`): {"t", "cli", "argv", "payload",
        "kind"} (kind: `signal_kind`)."""
        try:
            lines = self.signal_log.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = [json.loads(line) for line in lines if line.strip()]
        for s in out:
            s["kind"] = signal_kind(self.cli, s["payload"])
        return out

    def kinds(self) -> list[str]:
        return [s["kind"] for s in self.signals() if s["kind"]]

    # -- stop: our tmux server, then our leftovers by pid
    def leftovers(self) -> list[int]:
        needle = f"HOME={self.home}".encode() + b"\0"
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                with open(f"/proc/{d}/environ", "rb") as f:
                    if needle in f.read():
                        out.append(int(d))
            except OSError:
                pass
        return out

    def stop(self, keep: bool = False) -> list[int]:
        self.stopping.set()
        self.tmux("kill-server", check=False)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.leftovers()
            for p in pids:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            if not pids:
                break
            time.sleep(0.5)
        left = self.leftovers()
        if self._secure is not None:
            shutil.rmtree(self._secure, ignore_errors=True)
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)
        return left


# ------------------------------------------------------------------------ by hand
def _main() -> None:
    import argparse
    import sys

    sys.path.insert(0, str(HERE))
    from fakemodel import FakeModel

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("cli", choices=CLIS)
    ap.add_argument("--set", default="pinned")
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--auth", default="oauth")
    ap.add_argument("--prompt")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix=f"rc-{a.cli}-", dir="/tmp"))
    fake = FakeModel(
        log_path=str(root / "fakemodel.log.jsonl"), control_path=str(root / "ctl.json")
    ).start()
    fake.set(a.mode, delay=a.delay)
    run = Run(a.cli, fake.base_url, a.set, root=root, auth=a.auth).start(a.prompt, a.args)
    print(
        f"{a.cli} {run.version} in {root}\n"
        f"  TMUX_TMPDIR={run.tmuxdir} tmux -L {SOCKET} attach -t {SESSION}"
        f'\n  mode: echo \'{{"mode":"hang"}}\' > {root}/ctl.json\n  log: {root}/fakemodel.log.jsonl'
        "\nCtrl-C stops everything."
    )
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("leftovers:", run.stop(keep=True))
        fake.stop()


if __name__ == "__main__":
    _main()
