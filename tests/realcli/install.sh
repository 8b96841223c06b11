#!/usr/bin/env bash
# Install the real agent CLIs the realcli tier runs, at the versions tests/realcli/versions.toml
# pins, from the npm registry.
#
#   bash tests/realcli/install.sh [SET...]      (sets: pinned newest; default: all of them)
#
# Each set goes to $AO_REALCLIS_DIR/<set> (default ~/.cache/agent-orchestrator/realclis/<set>),
# as a plain npm project: <dir>/<set>/node_modules/.bin/{claude,codex,gemini,opencode}.
# A package already installed there at the pinned version is skipped; a CLI whose version in
# this set equals its version in a set listed earlier is not installed twice (clis.py finds it
# in either folder). Needs node and npm (Claude Code >= 2.1.3xx asks for node >= 22 but runs on
# 20). Nothing outside that folder and npm's own cache is written.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${AO_REALCLIS_DIR:-$HOME/.cache/agent-orchestrator/realclis}
command -v node >/dev/null && command -v npm >/dev/null || { echo "install.sh: node and npm are needed" >&2; exit 2; }

# "set cli package version" lines, in versions.toml order
plan=$(python3 - "$here/versions.toml" "$@" <<'EOF'
import sys, tomllib
v = tomllib.load(open(sys.argv[1], "rb"))
want = sys.argv[2:] or list(v["sets"])
bad = [s for s in want if s not in v["sets"]]
if bad:
    sys.exit(f"install.sh: unknown set(s) {bad}; known: {list(v['sets'])}")
seen = {}
for s in v["sets"]:
    for cli, ver in v["sets"][s].items():
        if s in want and (cli, ver) not in seen:
            print(s, cli, v["packages"][cli], ver)
        seen.setdefault((cli, ver), s)
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
