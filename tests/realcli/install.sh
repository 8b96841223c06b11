#!/usr/bin/env bash
# Install the real agent CLIs the realcli tier runs, at the versions tests/realcli/versions.toml
# pins, from the npm registry.
#
#   bash tests/realcli/install.sh [SET...]      (sets: pinned newest; default: all of them)
#
# Each set goes to $AO_REALCLIS_DIR/<set> (default ~/.cache/agent-orchestrator/realclis/<set>),
# as a plain npm project: <dir>/<set>/node_modules/.bin/{claude,codex,gemini,opencode}.
# A package already installed there at the pinned version is skipped. A version that an
# earlier set pins too (gemini and opencode have no newer release) is installed once, in the
# earlier set's folder, where clis.py finds it; `install.sh newest` alone installs everything
# into newest/. Needs node and npm (Claude Code 2.1.3xx asks for node >= 22, runs on 20).
# Nothing is written outside that folder and npm's own cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${AO_REALCLIS_DIR:-$HOME/.cache/agent-orchestrator/realclis}
command -v node >/dev/null && command -v npm >/dev/null || { echo "install.sh: node and npm are needed" >&2; exit 2; }

# "set cli package version" lines, in versions.toml order
plan=$(python3 - "$here/versions.toml" "$root" "$@" <<'EOF'
import json, sys, tomllib
from pathlib import Path
v = tomllib.load(open(sys.argv[1], "rb"))
root, want, order = Path(sys.argv[2]), sys.argv[3:] or list(v["sets"]), list(v["sets"])
bad = [s for s in want if s not in v["sets"]]
if bad:
    sys.exit(f"install.sh: unknown set(s) {bad}; known: {order}")

def installed(s, pkg, ver):
    try:
        return json.loads((root / s / "node_modules" / pkg / "package.json").read_text())["version"] == ver
    except (OSError, ValueError, KeyError):
        return False

for s in want:
    for cli, ver in v["sets"][s].items():
        pkg = v["packages"][cli]
        # a version an earlier set pins too lives in that set's folder, if it is (to be) there
        earlier = [e for e in order[: order.index(s)] if v["sets"][e].get(cli) == ver]
        if not any(e in want or installed(e, pkg, ver) for e in earlier):
            print(s, cli, pkg, ver)
EOF
)

for set in $(echo "$plan" | awk '{print $1}' | uniq); do
    dir=$root/$set
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || printf '{"name": "ao-realclis-%s", "private": true}\n' "$set" >"$dir/package.json"
    todo=()
    while read -r s cli pkg ver; do
        [ "$s" = "$set" ] || continue
        have=$(node -e 'try{console.log(require(process.argv[1]).version)}catch(e){}' \
               "$dir/node_modules/$pkg/package.json" 2>/dev/null || true)
        if [ "$have" = "$ver" ] && [ -e "$dir/node_modules/.bin/$cli" ]; then
            echo "install.sh: $set/$cli $ver already installed"
        else
            todo+=("$pkg@$ver")
        fi
    done <<<"$plan"
    if [ ${#todo[@]} -gt 0 ]; then
        echo "install.sh: $set: npm install ${todo[*]}"
        (cd "$dir" && npm install --no-audit --no-fund --save-exact "${todo[@]}" >/dev/null)
    fi
done
echo "install.sh: done; run the tier with: AO_REALCLI=1 AO_REALCLIS_DIR=$root python -m pytest -q tests/realcli"
