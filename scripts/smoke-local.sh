#!/usr/bin/env bash
# README command 1's job, as a newcomer's fresh machine does it: `local up` on the default path
# (as root: /var/lib/pgdeck/local, made from nothing), `status` shows one primary and two
# replicas, the console in tmux (80x24 and 160x48) shows the three members, and
# `local down --purge` leaves no process and no file behind. Run by .ci/run after the tests.
# Under umask 027, as hardened jump hosts set it (the test suite's cluster runs under 077).
set -euo pipefail
umask 027
cd "$(dirname "$0")/.."

cargo build --release --locked --quiet
pgdeck=$PWD/target/release/pgdeck
# The default paths, as a newcomer has them: no PGDECK_HOME, no --dir.
unset PGDECK_HOME PGDECK_CONFIG_DIR
cluster=postgres-cluster
# pgdeck's default data directory: /var/lib/pgdeck for root (src/config.rs), else XDG's.
if [ "$(id -u)" -eq 0 ]; then dir=/var/lib/pgdeck/local; else dir=${XDG_DATA_HOME:-$HOME/.local/share}/pgdeck/local; fi
session=pgdeck-smoke-$$

fail() {
  echo "smoke: FAILED: $*" >&2
  for log in "$dir"/logs/*.log; do
    [ -f "$log" ] && { echo "--- $log (last 30 lines)" >&2; tail -n 30 "$log" >&2; }
  done
  exit 1
}
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  [ -d "$dir" ] && "$pgdeck" local down --purge --confirm "$cluster" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# Whatever fails unforeseen still says where, and shows the cluster's logs.
trap 'fail "line $LINENO: $BASH_COMMAND"' ERR

[ ! -e "$dir" ] || fail "$dir exists already; this smoke wants a machine where pgdeck never ran"

echo "smoke: pgdeck local up (default directory $dir, umask $(umask))"
"$pgdeck" local up || fail "local up"

echo "smoke: pgdeck status --output json"
roles=""
for _ in $(seq 60); do
  roles=$("$pgdeck" status --output json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(" ".join(sorted(m["role"] for m in doc["members"])))')
  [ "$roles" = "primary replica replica" ] && break
  sleep 1
done
[ "$roles" = "primary replica replica" ] || fail "status shows roles [$roles], not one primary and two replicas"

for size in 80x24 160x48; do
  echo "smoke: the console at $size"
  tmux new-session -d -s "$session" -x "${size%x*}" -y "${size#*x}" "$pgdeck"
  seen=""
  for _ in $(seq 30); do
    screen=$(tmux capture-pane -p -t "$session")
    seen=$(grep -o "$cluster-[123]" <<<"$screen" | sort -u | tr '\n' ' ' || true)
    [ "$seen" = "$cluster-1 $cluster-2 $cluster-3 " ] && break
    sleep 1
  done
  [ "$seen" = "$cluster-1 $cluster-2 $cluster-3 " ] || { echo "$screen" >&2; fail "the console at $size shows [$seen]"; }
  tmux send-keys -t "$session" C-c
  for _ in $(seq 10); do tmux has-session -t "$session" 2>/dev/null || break; sleep 0.5; done
  tmux has-session -t "$session" 2>/dev/null && fail "the console at $size did not quit on ctrl-c"
done

echo "smoke: local down --purge without a confirmation is refused"
if "$pgdeck" local down --purge </dev/null >/dev/null 2>&1; then fail "local down --purge ran without --confirm"; fi
[ -f "$dir/cluster.json" ] || fail "a refused purge removed something"

echo "smoke: local down --purge --confirm $cluster"
"$pgdeck" local down --purge --confirm "$cluster" || fail "local down --purge"
[ ! -e "$dir" ] || fail "$dir is still there"
left=$(pgrep -f -- "$dir" || true)
[ -z "$left" ] || fail "processes left: $(ps -o pid,args -p "${left//$'\n'/,}")"
echo "smoke: passed"
