#!/usr/bin/env bash
# Installs what pgdeck's local cluster and its tests need on Debian (bookworm or later).
# Idempotent: packages already present are left as they are.
set -euo pipefail

packages=(
  postgresql postgresql-contrib   # PostgreSQL server and pg_stat_statements
  patroni etcd-server             # HA manager and its DCS
  pgbouncer pgbackrest            # pooler and backups
  tmux                            # end-to-end tests drive the real binary in tmux
)
# kubectl, for the tests against the fake Kubernetes API server. Any kubectl on PATH will do, and
# Debian's conflicts with others (google-cloud-sdk's), so it is installed only when there is none.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  as_root=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# moto's server mode stands in for AWS Secrets Manager in the tests (PyPI `moto[server]`).
if ! python3 -c 'import moto.server, flask_cors' >/dev/null 2>&1; then
  echo "installing moto[server] from PyPI"
  python3 -m pip install --quiet 'moto[server]' \
    || python3 -m pip install --quiet --break-system-packages 'moto[server]'
fi
