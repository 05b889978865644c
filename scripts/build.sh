#!/usr/bin/env bash
# Compile polyagent into one executable per platform, with the agent's permission set (deno.json
# "agent"), into dist/, plus dist/SHA256SUMS.
#
#   scripts/build.sh [--targets "x86_64-unknown-linux-gnu aarch64-apple-darwin …"] [--out DIR]
#
# deno compile downloads the runtime (denort) for each target. Where that download is not
# reachable, set DENORT_BIN to a denort binary for the host; then only the host target is built.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets="x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-apple-darwin aarch64-apple-darwin"
targets="$all_targets"
out="dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) targets="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

host=$(deno eval -q 'console.log(Deno.build.target)')
version=$(deno eval -q 'console.log(JSON.parse(Deno.readTextFileSync("deno.json")).version)')
if [ "$targets" = "host" ]; then targets="$host"; fi
if [ -n "${DENORT_BIN:-}" ]; then
  if [ "$targets" = "$all_targets" ]; then targets="$host"; fi
  for t in $targets; do
    if [ "$t" != "$host" ]; then
      echo "build.sh: DENORT_BIN is a runtime for this host ($host); it cannot build $t" >&2
      exit 2
    fi
  done
  echo "build.sh: using DENORT_BIN=$DENORT_BIN for $host"
fi

mkdir -p "$out"
built=()
for t in $targets; do
  file="polyagent-$version-$t"
  echo "build.sh: compiling $file"
  if ! log=$(deno compile -q -P=agent --v8-flags=--max-semi-space-size=2 --no-code-cache --unstable-net --include lib/backends/http_proxy/worker_main.ts --target "$t" --output "$out/$file" main.ts 2>&1); then
    if printf '%s' "$log" | grep -qi "error sending request\|dns error\|denort"; then
      echo "build.sh: cannot download the Deno runtime (denort) for $t from the official site." >&2
      echo "build.sh: build where it is reachable, or set DENORT_BIN to a denort binary for $host." >&2
    fi
    printf '%s\n' "$log" >&2
    exit 1
  fi
  built+=("$file")
done

(cd "$out" && sha256sum "${built[@]}" > SHA256SUMS)
echo "build.sh: wrote ${#built[@]} executable(s) and $out/SHA256SUMS"
