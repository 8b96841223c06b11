#!/usr/bin/env bash
# smoke.sh: an isolated end-to-end proof of the demo fleet:
#   check -> up -> status -> kill a session -> the watchdog heals it -> down.
#
# It never touches your default tmux server or any process it did not start: everything runs
# on a private tmux server (`tmux -L smoke-$$`) whose socket lives in a fresh TMUX_TMPDIR, with
# a throwaway HOME and work dir. An EXIT trap always tears it all down.
#
# Usage: bash smoke.sh        (needs `agents` on PATH, or the package importable by python)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOCK="smoke-$$"
DEADLINE_S=20
WATCHDOG_PID=""

TMUX_TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/smoke-tmux.XXXXXX")"
SMOKE_HOME="$(mktemp -d "${TMPDIR:-/tmp}/smoke-home.XXXXXX")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/smoke-work.XXXXXX")"
export TMUX_TMPDIR
export HOME="$SMOKE_HOME"
unset TMUX TMUX_PANE

if command -v agents >/dev/null 2>&1; then
    AGENTS=(agents)
elif command -v python >/dev/null 2>&1; then
    AGENTS=(python -m agent_orchestrator)
else
    AGENTS=(python3 -m agent_orchestrator)
fi

t() { tmux -L "$SOCK" "$@"; }
ag() { (cd "$WORK" && "${AGENTS[@]}" "$@"); }

cleanup() {
    local rc=$?
    set +e
    ag down >/dev/null 2>&1
    t kill-server >/dev/null 2>&1
    # the watchdog logs its own stop on the way out: let it finish before removing its dir
    if [[ -n "$WATCHDOG_PID" ]]; then
        local i
        for ((i = 0; i < 50; i++)); do
            kill -0 "$WATCHDOG_PID" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -rf "$WORK" "$SMOKE_HOME" "$TMUX_TMPDIR"
    exit "$rc"
}
trap cleanup EXIT

fail() {
    set +e
    echo "smoke: FAIL: $*" >&2
    {
        echo "-- tmux -L $SOCK ls:"
        t ls 2>&1
        echo "-- events.jsonl:"
        cat "$WORK/.agents/events.jsonl" 2>&1
        echo "-- watchdog log (tail):"
        tail -n 30 "$WORK/.agents/demo-watchdog.log" 2>&1
    } | sed 's/^/    /' >&2
    exit 1
}

step() { echo "== smoke: $*"; }

# poll CMD... until it succeeds or DEADLINE_S passes (0.2 s steps); return its last status.
poll() {
    local end=$((SECONDS + DEADLINE_S))
    while true; do
        if "$@"; then
            return 0
        fi
        if ((SECONDS >= end)); then
            return 1
        fi
        sleep 0.2
    done
}

has_alpha() { t has-session -t '=demo-alpha' 2>/dev/null; }

# alpha's session exists, `status` shows it running with the watchdog up, and the watchdog has
# taken alpha over (an alpha line in events.jsonl): only then is a kill a "restart" to it.
alpha_running() {
    local out
    has_alpha || return 1
    out="$(ag status 2>/dev/null)" || return 1
    # a live agent reads running, active, idle Ns or idle Nm
    grep -Eq '^alpha[[:space:]].*[[:space:]](running|active|idle [0-9]+[sm])[[:space:]]' <<<"$out" \
        || return 1
    WATCHDOG_PID="$(grep -oE 'watchdog: running \(pid [0-9]+' <<<"$out" | grep -oE '[0-9]+$')" \
        || return 1
    [[ -f "$WORK/.agents/events.jsonl" ]] && grep -Eq '"agent": *"alpha"' "$WORK/.agents/events.jsonl"
}

restart_count() {
    local f="$WORK/.agents/events.jsonl"
    [[ -f "$f" ]] || { echo 0; return; }
    grep -E '"agent": *"alpha"' "$f" | grep -cE '"event": *"restart"' || true
}

alpha_healed() {
    has_alpha && (( $(restart_count) > RESTARTS_BEFORE ))
}

# -- set up the private work dir --------------------------------------------------------------
cp "$REPO/agents.example.toml" "$WORK/agents.toml"
sed -i "/^log_dir[[:space:]]*=/a tmux_socket = \"$SOCK\"" "$WORK/agents.toml"
grep -q "^tmux_socket = \"$SOCK\"" "$WORK/agents.toml" \
    || fail "could not set tmux_socket in agents.toml"

step "agents check"
ag check || fail "agents check"

step "agents up (tmux -L $SOCK)"
ag up || fail "agents up"

step "waiting for demo-alpha to run under the watchdog"
poll alpha_running || fail "demo-alpha not running (with the watchdog watching it) within ${DEADLINE_S}s"

RESTARTS_BEFORE="$(restart_count)"
step "killing demo-alpha behind the watchdog's back"
t kill-session -t '=demo-alpha' || fail "could not kill demo-alpha"

step "waiting for the watchdog to heal demo-alpha"
poll alpha_healed || fail "demo-alpha not restarted (session + restart event) within ${DEADLINE_S}s"

step "agents status"
ag status || fail "agents status"

step "agents down"
ag down || fail "agents down"

if sessions="$(t ls -F '#{session_name}' 2>/dev/null)"; then
    if grep -q '^demo-' <<<"$sessions"; then
        fail "sessions left after down: $(grep '^demo-' <<<"$sessions" | tr '\n' ' ')"
    fi
fi

echo "smoke: PASS"
