#!/usr/bin/env bash
# Install, upgrade or remove campus-edge on a Raspberry Pi (Raspberry Pi OS Bookworm,
# 64-bit) or any Debian with systemd. Run again to upgrade in place.
#
#   sudo ./systemd/install.sh --station K-3A --reader K-3A=nfc:usb \
#        --upstream https://hub.school.lan --device-token dev1....
#   sudo ./systemd/install.sh --role hub
#   sudo ./systemd/install.sh --settings /path/to/settings.toml
#   sudo ./systemd/install.sh --wheelhouse /media/usb/campus-edge-wheelhouse-0.1.0-aarch64
#   sudo ./systemd/install.sh --uninstall [--purge]
#
# It installs the Debian packages of systemd/apt-packages.txt that are missing (and says
# which), builds a new venv beside the running one with the pinned versions of
# requirements/pi.lock, and switches to it only once it passes its check: if anything
# fails, the running version is left as it was. --wheelhouse DIR (or DIR.tar.gz)
# installs with no network from a wheelhouse (README, "A USB stick for many Pis").
#
# --prefix DIR installs into DIR as if it were / (a throwaway root for tests): the
# same files land under DIR, and what would change the running system (apt-get, the
# user, systemctl, udevadm, raspi-config) is written to DIR/install.log instead of run.
set -euo pipefail

usage() {
  sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="$(dirname "$here")"
prefix=""
role="kiosk"
station=""
upstream=""
device_token=""
settings_file=""
port="8080"
kiosk_user="${SUDO_USER:-pi}"
given=" "  # the settings given on this run's command line (the rest are kept)
kiosk_user_given=0
uninstall=0
purge=0
wheelhouse=""
readers=()

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$(realpath -m "$2")"; shift 2 ;;
    --role) role="$2"; given+="role "; shift 2 ;;
    --station) station="$2"; shift 2 ;;
    --upstream) upstream="$2"; given+="upstream "; shift 2 ;;
    --device-token) device_token="$2"; given+="device_token "; shift 2 ;;
    --reader) readers+=("$2"); given+="readers "; shift 2 ;;
    --settings) settings_file="$2"; shift 2 ;;
    --port) port="$2"; given+="port "; shift 2 ;;
    --kiosk-user) kiosk_user="$2"; kiosk_user_given=1; shift 2 ;;
    --source) source_dir="$2"; shift 2 ;;
    --wheelhouse) wheelhouse="$(realpath -m "$2")"; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$role" in
  kiosk|hub) ;;
  *) echo "install.sh: --role is kiosk or hub (the central is set up by hand, see README)" >&2; exit 2 ;;
esac
if [ -n "$upstream" ] && [ -z "$device_token" ]; then
  echo "install.sh: --upstream needs --device-token (from 'campus-edge device add NAME' on the hub)" >&2
  exit 2
fi
# What goes into settings.toml, unit files and the desktop's autostart (run by a shell) is
# checked here: a station id as the roster spells it, a user name, a port, no quotes.
if [ -n "$station" ] && ! [[ "$station" =~ ^[A-Za-z0-9._-]{1,64}$ ]]; then
  echo "install.sh: --station '$station' is not a station id: use the id from stations.csv" \
       "(letters, digits, '-', '_' and '.')" >&2
  exit 2
fi
if ! [[ "$kiosk_user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]]; then
  echo "install.sh: --kiosk-user '$kiosk_user' is not a user name" >&2
  exit 2
fi
if ! [[ "$port" =~ ^[0-9]{2,5}$ ]]; then
  echo "install.sh: --port '$port' is not a port number" >&2
  exit 2
fi
for value in "$upstream" "$device_token" "${readers[@]}"; do
  if [[ "$value" == *[\"\\]* ]] || [[ "$value" =~ [[:cntrl:]] ]]; then
    echo "install.sh: '$value' holds a quote, a backslash or a control character" >&2
    exit 2
  fi
done
if [ -z "$prefix" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run it with sudo (or with --prefix DIR to try it in a folder)" >&2
  exit 2
fi

venv="/opt/campus-edge/venv"
data="/var/lib/campus-edge"
unit_dir="/etc/systemd/system"
user_unit_dir="/etc/systemd/user"
service="campus-edge"
[ "$role" = "hub" ] && service="campus-edge-hub"

log() { echo "campus-edge install: $*"; }

# Run a command that changes the running system; in prefix mode, only record it. A tool
# this machine lacks (raspi-config off a Pi), or systemctl and udevadm where systemd is not
# running (a chroot, a container), is skipped with a line that says so.
skipped_for_systemd=0
system() {
  if [ -n "$prefix" ]; then
    echo "$*" >> "$prefix/install.log"
  elif ! command -v "$1" >/dev/null 2>&1; then
    log "skipped '$*': $1 is not on this machine"
    [ "$1" != systemctl ] || skipped_for_systemd=1
  elif { [ "$1" = systemctl ] || [ "$1" = udevadm ]; } && [ ! -d /run/systemd/system ]; then
    log "skipped '$*': systemd is not running here (a chroot or a container)"
    skipped_for_systemd=1
  else
    "$@"
  fi
}

# Write a unit or config file from systemd/, with the placeholders filled in.
place() {
  local from="$1" to="$prefix$2"
  mkdir -p "$(dirname "$to")"
  sed -e "s#@VENV@#$venv#g" -e "s#@DATA@#$data#g" -e "s#@PORT@#$port#g" \
      -e "s#@STATION@#$station#g" -e "s#@CHROMIUM@#$chromium#g" "$here/$from" > "$to.new"
  chmod 0644 "$to.new"
  mv "$to.new" "$to"
}

if [ -n "$prefix" ]; then
  mkdir -p "$prefix"
  venv="$prefix$venv"
  data="$prefix$data"
fi

# One install.sh at a time: two at once would build into, or clean away, each other's venv.
mkdir -p "$prefix/run/lock"
exec 9>"$prefix/run/lock/campus-edge-install.lock"
if ! flock -n 9; then
  echo "install.sh: another install.sh is running on this machine: wait for it to finish" >&2
  exit 2
fi
# Removed when install.sh ends, however it ends (a dropped SSH session included): an
# unpacked wheelhouse, and a release until it is switched to.
cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT
trap 'exit 1' INT TERM HUP

# The desktop user whose screen shows the tap page, as the install recorded it.
kiosk_user_file="$(dirname "$venv")/kiosk-user"
if [ "$kiosk_user_given" -eq 0 ] && [ -f "$kiosk_user_file" ]; then
  kiosk_user="$(cat "$kiosk_user_file")"
fi

if [ "$uninstall" -eq 1 ]; then
  log "removing campus-edge (the ledger in $data stays unless --purge)"
  for unit in campus-edge campus-edge-hub campus-edge-backup.timer; do
    system systemctl disable --now "$unit" || true
  done
  system systemctl --global disable campus-edge-kiosk.service || true
  rm -f "$prefix$unit_dir/campus-edge.service" "$prefix$unit_dir/campus-edge-hub.service" \
        "$prefix$unit_dir/campus-edge-backup.service" "$prefix$unit_dir/campus-edge-backup.timer" \
        "$prefix$user_unit_dir/campus-edge-kiosk.service" \
        "$prefix/etc/udev/rules.d/60-campus-edge.rules" \
        "$prefix/etc/modprobe.d/campus-edge-nfc-blacklist.conf" \
        "$prefix/etc/systemd/journald.conf.d/campus-edge.conf"
  rm -rf "$(dirname "$venv")"
  # ---- the tap screen: the desktop user's autostart entries ----
  screen_home="$(getent passwd "$kiosk_user" | cut -d: -f6 || true)"
  screen_home="$prefix${screen_home:-/home/$kiosk_user}"
  if [ -f "$screen_home/.config/labwc/autostart" ]; then
    sed -i '/campus-edge-screen/d' "$screen_home/.config/labwc/autostart"
  fi
  if [ -f "$screen_home/.config/wayfire.ini" ]; then
    sed -i '/^# campus-edge tap screen (written by/,/^# campus-edge tap screen: end/d' \
      "$screen_home/.config/wayfire.ini"
  fi
  # ---- end of the tap screen ----
  system systemctl daemon-reload || true
  if [ "$purge" -eq 1 ]; then
    log "purging the data directory $data and the user campus-edge"
    rm -rf "$data"
    system userdel campus-edge || true
  fi
  log "removed"
  exit 0
fi

# Debian's python3: the venv is made from it, and Debian's python3-evdev is built for it.
python="/usr/bin/python3"
[ -x "$python" ] || python="$(command -v python3 || true)"
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "install.sh: Python 3.11 or newer is needed (Raspberry Pi OS Bookworm has 3.11)" >&2
  exit 2
fi
chromium="$(command -v chromium-browser || command -v chromium || echo /usr/bin/chromium)"

upgrading=0
[ -x "$venv/bin/campus-edge" ] && upgrading=1

# Where the program comes from: a wheelhouse (folder or .tar.gz), or this source tree with
# the pinned versions of requirements/pi.lock from the package index.
if [ -n "$wheelhouse" ]; then
  if [ -f "$wheelhouse" ] && [[ "$wheelhouse" == *.tar.gz ]]; then
    unpacked="$(mktemp -d)"
    cleanup+=("$unpacked")
    log "unpacking $wheelhouse"
    tar -xzf "$wheelhouse" -C "$unpacked"
    wheelhouse="$(find "$unpacked" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
  fi
  project_wheels=("$wheelhouse"/wheels/campus_edge-*.whl)
  if [ ! -f "$wheelhouse/requirements.lock" ] || [ ! -f "${project_wheels[0]}" ]; then
    echo "install.sh: $wheelhouse is not a wheelhouse (it needs requirements.lock and" \
         "wheels/campus_edge-*.whl; build one with 'make wheelhouse', README" \
         "\"A USB stick for many Pis (offline install)\")" >&2
    exit 2
  fi
  if [ ${#project_wheels[@]} -gt 1 ]; then
    echo "install.sh: $wheelhouse/wheels holds ${#project_wheels[@]} campus_edge wheels;" \
         "keep only the one to install" >&2
    exit 2
  fi
  if [ ! -f "$wheelhouse/SHA256SUMS" ]; then
    echo "install.sh: $wheelhouse has no SHA256SUMS: build the wheelhouse with 'make wheelhouse'" >&2
    exit 2
  fi
  unlisted="$(cd "$wheelhouse" && comm -23 <(find . -type f ! -name SHA256SUMS | sed 's#^\./##' | sort) \
                                           <(sed 's/^[0-9a-f]*  //' SHA256SUMS | sort))"
  if [ -n "$unlisted" ] || ! (cd "$wheelhouse" && sha256sum --quiet --strict -c SHA256SUMS) >&2; then
    echo "install.sh: $wheelhouse does not match its SHA256SUMS${unlisted:+ (not listed: $unlisted)}:" \
         "a damaged or altered copy. Nothing was changed; copy the wheelhouse again" >&2
    exit 1
  fi
  log "wheelhouse fingerprint $(sha256sum "$wheelhouse/SHA256SUMS" | cut -d' ' -f1)" \
      "(compare it with the one 'make wheelhouse' printed)"
  lock="$wheelhouse/requirements.lock"
  project="${project_wheels[0]}"
else
  lock="$source_dir/requirements/pi.lock"
  project="$source_dir"
  if [ ! -f "$lock" ]; then
    echo "install.sh: $lock is missing: the installer installs only the pinned versions of" \
         "that lock; use a complete copy of the repository, or --wheelhouse DIR" >&2
    exit 2
  fi
fi

# Debian packages: python3-venv (venv and pip), python3-evdev (keyboard-wedge readers),
# ca-certificates. Only the missing ones are installed, and the log says which.
apt_list="$here/apt-packages.txt"
if [ -n "$wheelhouse" ] && [ -f "$wheelhouse/apt-packages.txt" ]; then
  apt_list="$wheelhouse/apt-packages.txt"
fi
mapfile -t needed < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$apt_list" | grep -v '^$')
# shellcheck disable=SC2016  # ${...} is dpkg-query's format, not the shell's
installed_version() {
  { dpkg-query -W -f='${db:Status-Status} ${Version}' "$1" 2>/dev/null || true; } | sed -n 's/^installed //p'
}
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for package in "${needed[@]}"; do
    [ -n "$(installed_version "$package")" ] || missing+=("$package")
  done
else
  log "not a Debian system (no dpkg): make sure ${needed[*]} (or their equivalents) are installed"
fi
if [ ${#missing[@]} -eq 0 ]; then
  log "Debian packages: ${needed[*]} already installed"
elif [ -n "$prefix" ]; then
  log "Debian packages: would install ${missing[*]} (--prefix leaves this machine's packages alone)"
  system apt-get install -y --no-install-recommends "${missing[@]}"
elif [ -n "$wheelhouse" ] && [ -d "$wheelhouse/debs" ]; then
  log "Debian packages: installing ${missing[*]} from $wheelhouse/debs (no network)"
  arch="$(dpkg --print-architecture)"
  debs=()
  for deb in "$wheelhouse"/debs/*.deb; do
    [ -f "$deb" ] || continue
    deb_arch="$(dpkg-deb -f "$deb" Architecture)"
    [ "$deb_arch" = all ] || [ "$deb_arch" = "$arch" ] || continue
    have="$(installed_version "$(dpkg-deb -f "$deb" Package)")"
    if [ -n "$have" ] && dpkg --compare-versions "$have" ge "$(dpkg-deb -f "$deb" Version)"; then
      continue  # never downgrade what the Pi has
    fi
    debs+=("$deb")
  done
  if [ ${#debs[@]} -eq 0 ]; then
    echo "install.sh: $wheelhouse/debs holds no .deb for this machine ($arch) and" \
         "${missing[*]} are missing: build the stick's debs/ for $arch, or connect the Pi to" \
         "a network with apt access and run install.sh again" >&2
    exit 1
  fi
  # As root, not apt's _apt user: a stick under /media/USER or /root is not readable by _apt.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o APT::Sandbox::User=root "${debs[@]}"
else
  log "Debian packages: installing ${missing[*]} with apt-get"
  if ! apt-get update -q; then
    echo "install.sh: apt-get update failed: check the network and /etc/apt/sources.list*;" \
         "with no network, install from a wheelhouse with its debs/ (--wheelhouse DIR)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
debian_evdev="/usr/lib/python3/dist-packages/evdev"
if [ -z "$prefix" ] && [ ! -d "$debian_evdev" ]; then
  echo "install.sh: $debian_evdev is missing though python3-evdev is installed:" \
       "reinstall it (apt-get install --reinstall python3-evdev)" >&2
  exit 1
fi

# The program: a new venv beside the running one (/opt/campus-edge/venv is a link to the
# release it runs). The link moves to the new release only once it passes its check.
base="$(dirname "$venv")"
mkdir -p "$base"
release="$(mktemp -d "$base/venv-$(date +%Y%m%d-%H%M%S)-XXXX")"
chmod 0755 "$release"
cleanup+=("$release")
pip_env=(env)
pip_from=()
if [ -n "$wheelhouse" ]; then
  # No index, and none of this machine's pip settings that could add one.
  pip_env=(env -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_FIND_LINKS -u PIP_CONSTRAINT
           PIP_CONFIG_FILE=/dev/null)
  pip_from=(--no-index --find-links "$wheelhouse/wheels")
fi
pip() {
  "${pip_env[@]}" "$release/bin/python" -m pip --disable-pip-version-check --no-input "$@"
}

# Build the release; any failing step returns 1 (errexit does not apply inside `if !`).
build_release() {
  "$python" -m venv "$release" || return 1
  log "the pinned dependencies ($(grep -c '^[A-Za-z0-9].*==' "$lock") packages, $lock)"
  pip install --progress-bar off --require-hashes "${pip_from[@]}" -r "$lock" || return 1
  log "campus-edge itself ($project)"
  pip install --quiet "${pip_from[@]}" --no-deps "$project" || return 1
  local site
  site="$("$release/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" || return 1
  if [ -d "$debian_evdev" ]; then
    # Debian's evdev only, not all of /usr/lib/python3/dist-packages (see README).
    ln -s "$debian_evdev" "$site/evdev" || return 1
  else
    log "python3-evdev is not installed here: keyboard-wedge readers cannot be opened"
  fi
  mkdir -p "$release/share/doc/campus-edge" || return 1
  if [ -f "$source_dir/README.md" ]; then
    cp "$source_dir/README.md" "$release/share/doc/campus-edge/README.md" || return 1
  fi
}

# What "passes" means: the command runs, the reader drivers and their libraries import
# (nfcpy, pyserial, Debian's evdev), and pip finds every requirement satisfied. Not
# doctor: it judges this kiosk's readers, clock and hub, which no install can fix.
check_release() {
  local imports="import edge.devices.contactless, edge.devices.uart, edge.devices.wedge, nfc, serial"
  [ -d "$debian_evdev" ] && imports="$imports, evdev"
  "$release/bin/campus-edge" --help >/dev/null || return 1
  (cd / && "$release/bin/python" -c "$imports") || return 1  # not the source tree's edge/
  pip check || return 1
}

log "the program: a new venv, $release"
started=$SECONDS
if ! build_release || ! { log "checking it: campus-edge --help, the reader drivers, pip check"; check_release; }; then
  rm -rf "$release"
  if [ "$upgrading" -eq 1 ]; then
    echo "install.sh: the new version failed to install or to pass its check (see above), so" \
         "nothing was changed: the running version ($(readlink -f "$venv")) keeps running" \
         "with its settings and units" >&2
  else
    echo "install.sh: campus-edge failed to install or to pass its check (see above);" \
         "nothing was installed" >&2
  fi
  exit 1
fi
log "the new venv passed its check ($((SECONDS - started)) s)"

log "the service user"
if [ -z "$prefix" ]; then
  id campus-edge >/dev/null 2>&1 || \
    useradd --system --home-dir /var/lib/campus-edge --shell /usr/sbin/nologin campus-edge
  for group in dialout input plugdev gpio; do
    getent group "$group" >/dev/null && usermod -aG "$group" campus-edge
  done
else
  system useradd --system --home-dir /var/lib/campus-edge --shell /usr/sbin/nologin campus-edge
fi

log "the data directory $data"
mkdir -p "$data"
chmod 0750 "$data"
settings="$data/settings.toml"
if [ -n "$settings_file" ]; then
  cp "$settings_file" "$settings.new"
elif [ ! -f "$settings" ] || [ "$given" != " " ]; then
  # The settings given on this run replace theirs; every other line of the file stays
  # (a device token, the readers, a webhook set by hand), so a second run that adds one
  # thing (--kiosk-user, a reader) loses nothing.
  "$python" - "$settings" "$settings.new" "$given" "$role" "$port" "$upstream" \
      "$device_token" "${readers[@]}" <<'PY'
import json, sys, tomllib
from pathlib import Path

path, out, given, role, port, upstream, token, *readers = sys.argv[1:]
given = set(given.split())
old = tomllib.loads(Path(path).read_text()) if Path(path).exists() else {}
asked = {"role": role, "port": int(port), "upstream": upstream, "device_token": token,
         "readers": readers}
merged = dict(old)
for key, value in asked.items():
    if key in given or (key not in merged and key in ("role", "port", "readers")):
        merged[key] = value
if "role" in given or "host" not in merged:
    merged["host"] = "0.0.0.0" if merged["role"] == "hub" else "127.0.0.1"
order = ["role", "host", "port", "upstream", "device_token", "readers"]
keys = [k for k in order if k in merged] + [k for k in merged if k not in order]


def toml(key, value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]"
    sys.exit(f"install.sh: {path} sets {key} to more than a plain value: edit the file by "
             "hand, or give the whole file with --settings FILE")


lines = ["# campus-edge settings (written by systemd/install.sh; see README, Configuration)"]
lines += [f"{key} = {toml(key, merged[key])}" for key in keys]
Path(out).write_text("\n".join(lines) + "\n")
PY
fi
if [ -f "$settings.new" ]; then
  chmod 0640 "$settings.new"  # it holds the device token
  mv "$settings.new" "$settings"
fi
if [ -z "$prefix" ]; then
  chown -R campus-edge:campus-edge "$data"
fi

log "reader permissions, the kernel's NFC modules, a bounded journal"
place 60-campus-edge.rules /etc/udev/rules.d/60-campus-edge.rules
place campus-edge-nfc-blacklist.conf /etc/modprobe.d/campus-edge-nfc-blacklist.conf
place journald-campus-edge.conf /etc/systemd/journald.conf.d/campus-edge.conf
system udevadm control --reload
system udevadm trigger

log "the units"
place "$service.service" "$unit_dir/$service.service"
place campus-edge-backup.service "$unit_dir/campus-edge-backup.service"
place campus-edge-backup.timer "$unit_dir/campus-edge-backup.timer"
log "switching $venv to $(basename "$release")"
previous=""
if [ -L "$venv" ]; then
  previous="$(readlink "$venv")"
elif [ -d "$venv" ]; then
  rm -rf "$venv"  # a venv of an install.sh before releases: replaced by the link
fi
ln -sfn "$(basename "$release")" "$venv.link"
mv -Tf "$venv.link" "$venv"
cleanup=("${cleanup[@]/#$release/}")  # switched to: it stays
for old in "$base"/venv-*; do
  name="$(basename "$old")"
  [ "$name" = "$(basename "$release")" ] || [ "$name" = "$previous" ] || rm -rf "$old"
done
[ -n "$previous" ] && log "the previous release stays in $base/$previous (to go back: ln -sfn $previous $venv && systemctl restart $service)"
system systemctl daemon-reload
system systemctl enable campus-edge-backup.timer
system systemctl start campus-edge-backup.timer
system systemctl enable "$service"
if [ "$upgrading" -eq 1 ]; then
  system systemctl restart "$service"
else
  system systemctl start "$service"
fi
# ---- the tap screen (README "The screen (Wayland, labwc or wayfire)") ----
# The launcher goes to /opt/campus-edge/bin; the desktop user's labwc autostart (and
# wayfire.ini, when that user has one) start it at login; the user unit starts it on X11.
screen_bin="$prefix/opt/campus-edge/bin/campus-edge-screen"
if [ -z "$station" ] && [ -f "$screen_bin" ]; then  # an upgrade: the newer launcher
  install -m 0755 "$here/kiosk/campus-edge-screen" "$screen_bin.new"
  mv "$screen_bin.new" "$screen_bin"
fi
if [ -n "$station" ] && [ -z "$prefix" ] && ! id "$kiosk_user" >/dev/null 2>&1; then
  log "no user $kiosk_user to show the tap screen for: run this again as" \
      "sudo $0 --station $station --kiosk-user NAME (NAME: the user that logs in to the" \
      "desktop); the settings stay, and the service itself is installed"
elif [ -n "$station" ]; then
  screen_url="http://127.0.0.1:$port/kiosk/$station"
  screen_home="$(getent passwd "$kiosk_user" | cut -d: -f6 || true)"
  [ -n "$screen_home" ] || screen_home="/home/$kiosk_user"
  screen_home="$prefix$screen_home"
  log "the tap screen for the desktop user $kiosk_user: $screen_url"
  echo "$kiosk_user" > "$kiosk_user_file"  # so --uninstall finds this user's autostart
  mkdir -p "$(dirname "$screen_bin")"
  install -m 0755 "$here/kiosk/campus-edge-screen" "$screen_bin.new"
  mv "$screen_bin.new" "$screen_bin"
  screen_fill() {  # a template from systemd/ with the launcher, the page and the port
    sed -e "s#@SCREEN@#$screen_bin#g" -e "s#@URL@#$screen_url#g" -e "s#@PORT@#$port#g" \
        -e "s#@STATION@#$station#g" "$here/$1"
  }
  screen_mkdirs() {  # make the user's folders that are missing, owned by the user
    local dir="$1"
    [ -d "$dir" ] && return 0
    screen_mkdirs "$(dirname "$dir")"
    mkdir "$dir"
    if [ -z "$prefix" ]; then chown "$kiosk_user:" "$dir"; fi
  }
  # X11: the user unit, enabled for every graphical session.
  mkdir -p "$prefix$user_unit_dir"
  screen_fill campus-edge-kiosk.service > "$prefix$user_unit_dir/campus-edge-kiosk.service"
  chmod 0644 "$prefix$user_unit_dir/campus-edge-kiosk.service"
  system systemctl --global enable campus-edge-kiosk.service
  # labwc: one line in the user's autostart (an older campus-edge line is replaced).
  labwc_autostart="$screen_home/.config/labwc/autostart"
  screen_mkdirs "$(dirname "$labwc_autostart")"
  { grep -v 'campus-edge-screen' "$labwc_autostart" 2>/dev/null || true
    screen_fill kiosk/labwc-autostart; } > "$labwc_autostart.new"
  mv "$labwc_autostart.new" "$labwc_autostart"
  if [ -z "$prefix" ]; then chown "$kiosk_user:" "$labwc_autostart"; fi
  log "  labwc: $labwc_autostart"
  # wayfire (older Bookworm images): our block in the user's wayfire.ini, if it has one.
  wayfire_ini="$screen_home/.config/wayfire.ini"
  if [ -f "$wayfire_ini" ]; then
    { sed '/^# campus-edge tap screen (written by/,/^# campus-edge tap screen: end/d' "$wayfire_ini"
      screen_fill kiosk/wayfire.ini; } > "$wayfire_ini.new"
    mv "$wayfire_ini.new" "$wayfire_ini"
    if [ -z "$prefix" ]; then chown "$kiosk_user:" "$wayfire_ini"; fi
    log "  wayfire: $wayfire_ini"
  fi
  # Screen blanking off (labwc, wayfire and X11 alike: raspi-config knows which runs).
  if [ -z "$prefix" ] && command -v raspi-config >/dev/null 2>&1; then
    raspi-config nonint do_blanking 1 || true
  else
    system raspi-config nonint do_blanking 1
  fi
  log "the tap screen opens for $kiosk_user at the next desktop login"
fi
# ---- end of the tap screen ----

if [ "$skipped_for_systemd" -eq 1 ]; then
  log "systemd is not running here: the units are written; on the running system, start them" \
      "with: systemctl daemon-reload && systemctl enable --now $service campus-edge-backup.timer"
fi
if [ "$upgrading" -eq 1 ]; then log "upgraded"; else log "installed"; fi
echo "Check it with: sudo -u campus-edge CAMPUS_EDGE_DATA_DIR=$data $venv/bin/campus-edge doctor"
