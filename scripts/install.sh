#!/usr/bin/env bash
# Install polyagent: the executable (or, from a source checkout without one, a launcher that runs
# main.ts with the agent's permission set), a default config (only if absent), the state, run and
# log directories with their modes, the unprivileged `polyagent` account, and a systemd unit (an
# OpenRC script where there is no systemd). Safe to run again.
#
#   scripts/install.sh [--root DIR] [--prefix /usr/local] [--binary FILE | --launcher]
#                      [--init auto|systemd|openrc]
#
# --root installs below DIR (a staging folder), as packaging tools do. Without --binary, a built
# dist/ executable for this host is used if there is one; --launcher installs the launcher anyway.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

root=""
prefix="/usr/local"
binary=""
launcher=0
init="auto"
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="${2%/}"; shift 2 ;;
    --prefix) prefix="${2%/}"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --launcher) launcher=1; shift ;;
    --init) init="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$init" in auto|systemd|openrc) ;; *) echo "install.sh: --init must be auto, systemd or openrc" >&2; exit 2 ;; esac
if [ -n "$binary" ] && [ "$launcher" = 1 ]; then
  echo "install.sh: --binary and --launcher exclude each other" >&2; exit 2
fi

# FHS: a /usr or /usr/local install keeps its config in /etc; any other prefix in PREFIX/etc.
case "$prefix" in /usr|/usr/local) sysconf="/etc" ;; *) sysconf="$prefix/etc" ;; esac
bindir="$prefix/bin"
config="$sysconf/polyagent/polyagent.toml"
state_dir="/var/lib/polyagent"
run_dir="/run/polyagent"
log_dir="/var/log/polyagent"

install -d -m 0755 "$root$bindir" "$root$sysconf/polyagent"
# The state dir is 0751: other users may not list it, but the account below can traverse it to the
# folders made for it (quix.work_dir, masq.data_root); every state document in it is 0600.
install -d -m 0751 "$root$state_dir"
install -d -m 0750 "$root$log_dir"
install -d -m 0755 "$root$run_dir"

# The unprivileged account the agent's children run as when no config key names one (Quix
# `execute`, the MASQ Node's default real-user): a system account without login or home. With
# --root the staging tree gets no account (a package creates it in its postinst).
account="polyagent"
if [ -z "$root" ] && [ "$(id -u)" = 0 ] && ! getent passwd "$account" >/dev/null 2>&1; then
  if command -v useradd >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment "polyagent children" "$account"
  elif command -v adduser >/dev/null 2>&1; then
    addgroup -S "$account" && adduser -S -D -H -h /nonexistent -s /sbin/nologin -G "$account" "$account"
  else
    echo "install.sh: no useradd or adduser: children will run as nobody" >&2
  fi
  getent passwd "$account" >/dev/null 2>&1 && echo "install.sh: created the system account $account"
fi

if [ -z "$binary" ] && [ "$launcher" = 0 ]; then
  target=$(deno eval -q 'console.log(Deno.build.target)' 2>/dev/null || true)
  version=$(sed -n 's/^ *"version": *"\(.*\)",*$/\1/p' "$here/deno.json" | head -n 1)
  candidate="$here/dist/polyagent-$version-$target"
  [ -n "$target" ] && [ -x "$candidate" ] && binary="$candidate"
fi
if [ -n "$binary" ]; then
  install -m 0755 "$binary" "$root$bindir/.polyagent.new"
  mv -f "$root$bindir/.polyagent.new" "$root$bindir/polyagent"
  echo "install.sh: installed $binary as $bindir/polyagent"
else
  cat > "$root$bindir/.polyagent.new" <<LAUNCHER
#!/bin/sh
# polyagent launcher for a source checkout: runs main.ts with the agent's permission set.
# An upgrade (polyagent upgrade, systemctl reload) starts the successor through this launcher.
export POLYAGENT_LAUNCHER="\$0"
exec deno run -q -P=agent --v8-flags=--max-semi-space-size=2 --no-code-cache --config "$here/deno.json" "$here/main.ts" "\$@"
LAUNCHER
  chmod 0755 "$root$bindir/.polyagent.new"
  mv -f "$root$bindir/.polyagent.new" "$root$bindir/polyagent"
  echo "install.sh: installed a launcher for $here/main.ts as $bindir/polyagent"
fi

if [ -e "$root$config" ]; then
  echo "install.sh: kept the existing $config"
else
  cat > "$root$config" <<CONFIG
# polyagent configuration. \`polyagent config print\` shows every key with its default;
# \`polyagent config check\` validates this file.

[agent]
state_dir = "$state_dir"
run_dir = "$run_dir"
log_dir = "$log_dir"
log_level = "info"

[admin]
enabled = true
listen = "127.0.0.1:9150"

# Enable the protocols this host serves:
# [cryptoded]
# enabled = true
# [sozu]
# enabled = true
# [intervirt]
# enabled = true
# [masq]
# enabled = true
# [quix]
# enabled = true
CONFIG
  chmod 0640 "$root$config"
  echo "install.sh: wrote $config"
fi

if [ "$init" = "auto" ]; then
  if command -v systemctl >/dev/null 2>&1 || [ -d /run/systemd/system ]; then init="systemd"
  elif command -v openrc-run >/dev/null 2>&1; then init="openrc"
  else init="systemd"; fi
fi
if [ "$init" = "systemd" ]; then
  unit_dir="$root/etc/systemd/system"
  install -d -m 0755 "$unit_dir"
  cat > "$unit_dir/.polyagent.service.new" <<UNIT
[Unit]
Description=polyagent: the agent behind cryptoded, Quix WSI, sozu, Intervirt and MASQ
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=$bindir/polyagent serve --config $config --set agent.pid_file=$run_dir/polyagent.pid
# reload = zero-downtime upgrade: the agent starts its successor (this executable, new or not),
# hands over and exits; systemd then reads the successor's pid from PIDFile as the main process.
ExecReload=$bindir/polyagent upgrade --config $config
PIDFile=$run_dir/polyagent.pid
# openvpn, the MASQ Node and the processes the agent supervises live in this cgroup and must
# outlive a restart (the next agent re-adopts them): stop and restart signal the agent only.
KillMode=process
KillSignal=SIGTERM
TimeoutStopSec=10
Restart=on-failure
RestartSec=2
RuntimeDirectory=polyagent
RuntimeDirectoryMode=0755
RuntimeDirectoryPreserve=yes
StateDirectory=polyagent
StateDirectoryMode=0751
LogsDirectory=polyagent
UMask=0077

[Install]
WantedBy=multi-user.target
UNIT
  mv -f "$unit_dir/.polyagent.service.new" "$unit_dir/polyagent.service"
  echo "install.sh: installed /etc/systemd/system/polyagent.service (systemctl daemon-reload && systemctl enable --now polyagent)"
else
  install -d -m 0755 "$root/etc/init.d"
  cat > "$root/etc/init.d/.polyagent.new" <<RC
#!/sbin/openrc-run
description="polyagent: the agent behind cryptoded, Quix WSI, sozu, Intervirt and MASQ"
command="$bindir/polyagent"
command_args="serve --config $config --set agent.pid_file=/run/polyagent.pid"
command_background=true
# the agent rewrites it: after an upgrade it names the successor
pidfile="/run/polyagent.pid"
retry="SIGTERM/10/SIGKILL/5"
# openvpn, the MASQ Node and supervised processes outlive the agent and are re-adopted
rc_cgroup_cleanup="no"
extra_started_commands="reload"

reload() {
  ebegin "Upgrading polyagent without downtime"
  "$bindir/polyagent" upgrade --config $config
  eend \$?
}

depend() {
  need net
}

start_pre() {
  checkpath -d -m 0755 $run_dir
  checkpath -d -m 0751 $state_dir
  checkpath -d -m 0750 $log_dir
}
RC
  chmod 0755 "$root/etc/init.d/.polyagent.new"
  mv -f "$root/etc/init.d/.polyagent.new" "$root/etc/init.d/polyagent"
  echo "install.sh: installed /etc/init.d/polyagent (rc-update add polyagent default)"
fi
