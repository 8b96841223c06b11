"""Capture what each real CLI shows (and signals) in the states the watchdog must tell apart.

    python tests/realcli/capture_screens.py [--set pinned|newest|all] [--cli NAME ...]

For every CLI version of the chosen sets (a version two sets share is captured once) it drives
the CLI against the fake model server through: busy, idle, a permission dialog, the CLI's own
retrying after a 429 rate limit and after an overload, a usage limit with a reset time (and, for
Claude Code, the subscriber limit screens, and where the CLI continues by itself at the reset,
that too). Screens go to tests/fixtures/screens-captured/<cli>-<version>/<state>.txt (120x40,
`tmux capture-pane -p`), what the CLI signalled by itself (hooks / notify / plugin events, and
the API-error records of its transcript or rollout) to
tests/fixtures/signals-captured/<cli>-<version>/, and an INDEX.md in each screens folder says
how every screen was produced. One CLI at a time; takes a few minutes per CLI.
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import clis  # noqa: E402
from fakemodel import FakeModel  # noqa: E402

REPO = HERE.parent.parent
SCREENS = REPO / "tests" / "fixtures" / "screens-captured"
SIGNALS = REPO / "tests" / "fixtures" / "signals-captured"

RETRY_CUE = {  # the CLI's own retry indicator (None: it retries silently under its busy line)
    ("claude", "ratelimit"): r"[Rr]etrying in \d+s · attempt \d+/\d+",
    ("claude", "overloaded"): r"[Rr]etrying in \d+s · attempt \d+/\d+",
    ("codex", "ratelimit"): r"reconnecting \d+/\d+",
    ("codex", "overloaded"): None,  # a 503 is retried under "Working (Ns • esc to interrupt)"
    ("gemini", "ratelimit"): None,  # "Thinking... (esc to cancel, Ns)"
    ("gemini", "overloaded"): None,
    ("opencode", "ratelimit"): r"\[retrying",
    ("opencode", "overloaded"): r"\[retrying",
}
LIMIT_CUE = {
    "claude": r"hit your .*limit|Request rejected \(429\)",
    "codex": r"hit your usage limit",
    "gemini": r"Usage limit reached",
    "opencode": r"usage limit has been reached",
}
APPROVE = {"claude": ["Enter"], "codex": ["y"], "gemini": ["Enter"], "opencode": ["Enter"]}


class Capture:
    """One CLI version: runs, screens, notes."""

    def __init__(self, cli: str, set_name: str, version: str):
        self.cli, self.set_name, self.version = cli, set_name, version
        self.dir = SCREENS / f"{cli}-{version}"
        self.sigdir = SIGNALS / f"{cli}-{version}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sigdir.mkdir(parents=True, exist_ok=True)
        self.notes: list[tuple[str, str]] = []
        self.run: clis.Run | None = None
        self.fake: FakeModel | None = None
        self.t0 = time.monotonic()

    def log(self, *a: object) -> None:
        print(f"[{self.cli} {self.version} {time.monotonic() - self.t0:6.1f}s]", *a, flush=True)

    def start(self, tag: str, **opts: object) -> clis.Run:
        self.fake = FakeModel().start()
        self.fake.set("ok", delay=6)
        args = ["--permission-mode", "default"] if self.cli == "claude" else []
        self.run = clis.Run(self.cli, self.fake.base_url, self.set_name, signals=True, **opts)
        self.run.start("Say hello", args)
        self.tag = tag
        return self.run

    def stop(self) -> None:
        assert self.run and self.fake
        self.save_signals()
        left = self.run.stop()
        self.fake.stop()
        self.run = self.fake = None
        if left:
            self.log("WARNING: leftovers", left)

    def snap(self, state: str, how: str) -> str:
        assert self.run
        screen = self.run.capture()
        (self.dir / f"{state}.txt").write_text(screen)
        self.notes.append((state, how))
        self.log("captured", state)
        return screen

    def wait(self, what: str | Callable[[str], object], timeout: float) -> str | None:
        assert self.run
        s = self.run.wait(what, timeout)
        if s is None:
            self.log(f"(timed out after {timeout}s waiting for {what!r})")
        return s

    def settle(self, timeout: float = 120) -> None:
        """Wait for the turn in flight to end (busy seen, then gone)."""
        assert self.run
        self.run.wait(lambda s: clis.busy(self.cli, s), 10)
        self.wait(lambda s: clis.ready(self.cli, s) and not clis.busy(self.cli, s), timeout)
        time.sleep(1)

    def prompt(self, text: str) -> None:
        assert self.run
        self.run.send(text)

    # ---------------------------------------------------------------- the common story
    def common(self) -> None:
        run, fake, cli = self.run, self.fake, self.cli
        assert run and fake
        if self.wait(lambda s: clis.busy(cli, s), 60):
            time.sleep(1.5)
            self.snap("busy", "kickoff prompt; the fake answers after 6 s (ok delay=6)")
        self.wait(clis.idle_with(cli, "FAKE-LLM reply"), 40)
        self.snap("idle", "the kickoff turn answered; waiting for input")

        fake.set("tool")
        self.prompt("Please run the tool")
        if self.wait(lambda s: clis.dialog(cli, s), 40):
            time.sleep(1.5)
            self.snap("permission", "the fake answers with one shell tool call (mode tool)")
        run.keys(*APPROVE[cli])
        self.wait(clis.idle_with(cli, "the tool ran"), 40)

        fake.set("ratelimit", retry_after=8, count=2, main_only=True)
        self.prompt("rate limited please")
        self.retrying(
            "ratelimit",
            "two 429 rate limits (retry-after 8 s), then an answer (ratelimit count=2)",
        )
        self.settle()

        fake.set("overloaded", count=2, main_only=True, headers={"retry-after": 6})
        self.prompt("overloaded please")
        self.retrying(
            "overloaded",
            "two overloads (529 / 503, retry-after 6 s), then an answer (overloaded count=2)",
        )
        self.settle()

    def retrying(self, kind: str, how: str) -> None:
        state, cue = kind + "_retrying", RETRY_CUE[self.cli, kind]
        if cue and self.wait(cue, 20):
            time.sleep(1)
            self.snap(state, how + "; the CLI's retry indicator is on screen")
        else:
            time.sleep(4)
            self.snap(state, how + "; 4 s in: the CLI retries silently under its busy line")

    def usage_limit(self, state: str = "usage_limit", reset_in: int = 7200, how: str = "") -> None:
        assert self.fake
        # retry_after = reset_in: opencode retries a 429 after its retry-after, forever
        self.fake.set(
            "ratelimit", flavor="usage", reset_in=reset_in, retry_after=reset_in, main_only=True
        )
        self.prompt("usage limit please")
        if self.wait(LIMIT_CUE[self.cli], 30):
            time.sleep(4)  # claude 2.1.197 opens /rate-limit-options, codex its model menu
        self.snap(state, how or f"usage limit, reset in {reset_in} s (ratelimit flavor=usage)")

    # ---------------------------------------------------------------- per CLI
    def claude(self) -> None:
        self.start("api", auth="api")  # API-key billing: 429s are retried in both versions
        self.common()
        assert self.fake
        self.fake.set("overloaded", main_only=True)
        self.prompt("overloaded for good")
        self.wait(r"Repeated 529", 60)
        time.sleep(1)
        self.snap("overloaded_gave_up", "529 on every request: the CLI stops after 3 attempts")
        self.usage_limit(
            "usage_limit_api_billing",
            how="usage-limit 429 to an API-key (billing) login: no reset time on screen",
        )
        self.stop()

        self.start("subscriber", auth="oauth")  # a Max subscriber's screens
        self.wait(clis.idle_with("claude", "FAKE-LLM reply"), 60)
        assert self.fake and self.run
        self.fake.set("ratelimit", retry_after=8, count=1, main_only=True)
        self.prompt("rate limited please")
        time.sleep(4)
        self.snap(
            "ratelimit_subscriber",
            "one 429 rate limit (not a usage limit) to a subscriber login, 4 s in",
        )
        self.settle()
        self.usage_limit(how="subscriber usage limit, reset in 2 h (5-hour claim)")
        if self.version != "2.1.197":
            # the newer builds offer to continue by themselves at the reset
            self.run.keys("Escape")
            time.sleep(2)
            self.snap("usage_limit_autocontinue_cancelled", "Esc on the usage-limit footer")
            self.usage_limit(
                "usage_limit_autocontinue", 20, "usage limit resetting in 20 s: continues by itself"
            )
            assert self.fake
            self.fake.set("ok", delay=3)
            n = len(self.fake.model_requests())
            deadline = time.monotonic() + 180
            while len(self.fake.model_requests()) == n and time.monotonic() < deadline:
                time.sleep(1)
            self.log("continued by itself:", len(self.fake.model_requests()) > n)
            self.settle(60)
            self.snap("usage_limit_resumed", "after the reset: the CLI's own continue, answered")
        self.stop()

    def codex(self) -> None:
        self.start("main", max_retries=4)
        self.common()
        self.usage_limit()
        self.stop()

    def gemini(self) -> None:
        self.start("main")
        self.common()
        self.usage_limit(how="daily quota exhausted (429 PerDay quota): a dialog, no reset time")
        assert self.run
        self.run.keys("Down", "Enter")
        time.sleep(3)
        self.snap("usage_limit_stopped", "chose 2. Stop in the usage-limit dialog")
        self.stop()

    def opencode(self) -> None:
        self.start("main")
        self.common()
        assert self.fake
        self.fake.set("error500", count=2, main_only=True, headers={"retry-after": 8})
        self.prompt("server error please")
        if self.wait(r"\[retrying", 20):
            time.sleep(1)
        self.snap(
            "error500_retrying",
            "two 500s (retry-after 8 s): a long error squeezes `esc interrupt` in the footer",
        )
        self.settle()
        self.usage_limit(how="usage limit, 429 with retry-after 7200 s: opencode retries forever")
        self.stop()

    # ---------------------------------------------------------------- signals, transcripts
    def save_signals(self) -> None:
        assert self.run
        out = self.sigdir / f"{self.tag}.signals.jsonl"
        lines = [
            json.dumps({k: v for k, v in s.items() if k != "argv"}) for s in self.run.signals()
        ]
        out.write_text("".join(line + "\n" for line in lines))
        home = self.run.home
        keep: list[str] = []
        if self.cli == "claude":
            for f in glob.glob(str(home / ".claude/projects/*/*.jsonl")):
                for line in open(f):
                    d = json.loads(line)
                    if (
                        d.get("isApiErrorMessage")
                        or d.get("type") in ("queue-operation",)
                        or (
                            d.get("type") == "system"
                            and d.get("subtype") in ("informational", "api_error")
                        )
                        or (
                            d.get("type") == "user"
                            and (d.get("origin") or {}).get("kind") == "auto-continuation"
                        )
                    ):
                        keep.append(line)
        elif self.cli == "codex":
            for f in glob.glob(str(home / ".codex/sessions/**/*.jsonl"), recursive=True):
                for line in open(f):
                    d = json.loads(line)
                    if d.get("type") == "event_msg":
                        keep.append(line)
        elif self.cli == "gemini":
            for f in glob.glob(str(home / ".gemini/tmp/*/chats/*.jsonl")):
                for line in open(f):
                    d = json.loads(line)
                    if d.get("type") in ("error", "info", "gemini"):
                        keep.append(line)
        if keep:
            (self.sigdir / f"{self.tag}.transcript.jsonl").write_text("".join(keep))

    def write_index(self) -> None:
        old = {}
        idx = self.dir / "INDEX.md"
        if idx.exists():
            for m in re.finditer(r"^\| `(\S+)\.txt` \| (.*) \|$", idx.read_text(), re.M):
                old[m.group(1)] = m.group(2)
        old.update(dict(self.notes))
        rows = "".join(f"| `{k}.txt` | {v} |\n" for k, v in sorted(old.items()))
        idx.write_text(
            f"# {self.cli} {self.version}: captured screens\n\n"
            f"120x40, `tmux capture-pane -p`, against tests/realcli/fakemodel.py, by "
            f"`python tests/realcli/capture_screens.py` ({time.strftime('%Y-%m-%d')}, TZ=UTC).\n\n"
            f"| screen | how it was produced |\n|---|---|\n{rows}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--set", default="all")
    ap.add_argument("--cli", nargs="*", default=list(clis.CLIS))
    a = ap.parse_args()
    v = clis.versions()
    sets = list(v["sets"]) if a.set == "all" else [a.set]
    seen = set()
    for set_name in sets:
        for cli in a.cli:
            version = v["sets"][set_name][cli]
            if (cli, version) in seen:
                continue
            seen.add((cli, version))
            if not clis.find_bin(cli, set_name):
                print(f"skip {cli} {version}: not installed (bash tests/realcli/install.sh)")
                continue
            cap = Capture(cli, set_name, version)
            try:
                getattr(cap, cli)()
            finally:
                if cap.run:
                    cap.stop()
                cap.write_index()


if __name__ == "__main__":
    main()
