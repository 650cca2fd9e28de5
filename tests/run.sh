#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine: installs what the tests use (a real
# OpenSSH server, shellcheck, rclone for the remote durable target, rsync for the pull recipe,
# slurm-wlm, munge, slurmdbd and mariadb-server for a one-node Slurm cluster the tests start by
# hand, Python packages in .venv), then the static checks (ruff, mypy; configured in
# pyproject.toml) and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v rsync >/dev/null 2>&1 || need+=(rsync)    # the pull recipe in references/ssh-transport.md is run as written
[ -x /usr/sbin/slurmctld ] || need+=(slurm-wlm)  # slurmctld, slurmd, client commands
[ -x /usr/sbin/munged ] || need+=(munge)
[ -x /usr/sbin/slurmdbd ] || need+=(slurmdbd)  # accounting, so sacct has job rows
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)  # slurmdbd's database, started in a temp dir
command -v flock >/dev/null 2>&1 && command -v setsid >/dev/null 2>&1 || need+=(util-linux)  # the box scripts lock with flock
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/ruff check engine
.venv/bin/mypy  # files and settings come from pyproject.toml
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
