#!/usr/bin/env bash
# make pi-check: systemd/install.sh on a bare Debian Bookworm root (the base of Raspberry
# Pi OS Lite) with only python3, online from this source tree and offline from an x86_64
# wheelhouse in a network namespace with no network. In each root it runs
# `campus-edge doctor` and an import of the reader drivers, and it prints each step's time.
# Takes minutes (not in `make test`); needs root, debootstrap, unshare and chroot.
#
#   sudo tools/pi-check.sh
#
# PI_CHECK_WHEELHOUSE=DIR   use this wheelhouse (default: `make wheelhouse PLATFORM=x86_64`)
# PI_CHECK_CACHE=DIR        where the debootstrap tarball is kept between runs
#                           (default /var/cache/campus-edge-pi-check)
# PI_CHECK_MIRROR=URL       the Debian mirror (default http://deb.debian.org/debian)
# PI_CHECK_KEEP=1           keep the two roots (their folder is printed) to look inside
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${PI_CHECK_CACHE:-/var/cache/campus-edge-pi-check}"
mirror="${PI_CHECK_MIRROR:-http://deb.debian.org/debian}"
tarball="$cache/bookworm-minbase-$(dpkg --print-architecture 2>/dev/null || echo amd64).tgz"
drivers="import edge.devices.contactless, edge.devices.uart, edge.devices.wedge, nfc, serial, evdev"

say() { echo "pi-check: $*"; }
fail() { echo "pi-check: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run it as root (sudo make pi-check): it makes a root with debootstrap and chroots into it"
for tool in debootstrap unshare chroot mount; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is needed: apt-get install ${tool/unshare/util-linux}"
done
unshare --net true 2>/dev/null || fail "this machine does not allow a network namespace (unshare --net)"

work="$(mktemp -d /var/tmp/campus-edge-pi-check.XXXXXX)"
mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[i]}" 2>/dev/null || true; done
  if [ "${PI_CHECK_KEEP:-0}" = 1 ]; then say "the roots stay in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

times=()
step_started=0
step_name=""
begin() { step_name="$1"; step_started=$SECONDS; say "== $1"; }
end() { times+=("$(printf '%-76s %4d s' "$step_name" $((SECONDS - step_started)))"); }

# The environment inside the roots: nothing of this shell but the package index settings.
chroot_env=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive)
for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_CERT PIP_DEFAULT_TIMEOUT \
            http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -n "${!name:-}" ] && chroot_env+=("$name=${!name}")
done
in_root() { local root="$1"; shift; chroot "$root" "${chroot_env[@]}" "$@"; }

mount_root() {
  local root="$1"
  mount -t proc proc "$root/proc" && mounts+=("$root/proc")
  mount -t sysfs sysfs "$root/sys" && mounts+=("$root/sys")
  mount --bind /dev "$root/dev" && mounts+=("$root/dev")
  mount --bind /dev/pts "$root/dev/pts" && mounts+=("$root/dev/pts")
}
unmount_root() {
  local root="$1" m
  for m in dev/pts dev sys proc; do umount -l "$root/$m"; done
  mounts=()
}

# This machine's DNS, apt sources and pip settings, so the root reaches the same registries.
copy_host_settings() {
  local root="$1" file
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null || [ -s /etc/apt/sources.list ]; then
    rm -f "$root/etc/apt/sources.list"
    [ -s /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/sources.list"
    for file in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
      [ -f "$file" ] && cp "$file" "$root/etc/apt/sources.list.d/"
    done
  fi
  for file in /etc/apt/apt.conf.d/*; do
    grep -qs 'Acquire' "$file" && cp "$file" "$root/etc/apt/apt.conf.d/"
  done
  for file in /usr/share/keyrings/*.gpg; do
    [ -e "$root$file" ] || { mkdir -p "$root/usr/share/keyrings"; cp "$file" "$root$file"; }
  done
  # A campus proxy's own CA (here too): ca-certificates, which install.sh installs, adds it.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  fi
  [ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
  [ -d /etc/xdg/pip ] && mkdir -p "$root/etc/xdg" && cp -r /etc/xdg/pip "$root/etc/xdg/"
  [ -d "$HOME/.config/pip" ] && mkdir -p "$root/root/.config" && cp -r "$HOME/.config/pip" "$root/root/.config/"
  return 0
}

# doctor and the reader drivers, as the service user, in a root.
check_root() {
  local root="$1" label="$2"; shift 2
  local out status=0
  say "$label: campus-edge doctor (a chroot has no reader, no service and no network time:"
  say "  doctor says so; what matters is that it runs and checks the database and disk)"
  out="$("$@" chroot --userspec=campus-edge:campus-edge "$root" "${chroot_env[@]}" \
         CAMPUS_EDGE_DATA_DIR=/var/lib/campus-edge /opt/campus-edge/venv/bin/campus-edge doctor \
         --lang en 2>&1)" || status=$?
  printf '    %s\n' "${out//$'\n'/$'\n'    }"
  if [ "$status" -gt 1 ] || grep -q Traceback <<<"$out" || ! grep -q '^. disk:' <<<"$out"; then
    fail "$label: campus-edge doctor did not run through (exit status $status)"
  fi
  say "$label: the reader drivers: $drivers"
  "$@" chroot --userspec=campus-edge:campus-edge "$root" "${chroot_env[@]}" \
    /opt/campus-edge/venv/bin/python -c "$drivers; print('    imported; evdev from', evdev.__file__)" \
    || fail "$label: the reader drivers do not import"
}

say "work folder $work"

if [ ! -s "$tarball" ]; then
  begin "debootstrap --make-tarball (first run only, cached in $cache)"
  mkdir -p "$cache"
  debootstrap --variant=minbase --make-tarball="$tarball.part" bookworm "$work/download" "$mirror" \
    > "$work/debootstrap-download.log" 2>&1 || fail "debootstrap could not download Bookworm (see $work/debootstrap-download.log; PI_CHECK_KEEP=1 keeps it)"
  mv "$tarball.part" "$tarball"
  end
fi

online="$work/online"
offline="$work/offline"
begin "debootstrap --variant=minbase bookworm (from the cached tarball)"
debootstrap --variant=minbase --unpack-tarball="$tarball" bookworm "$online" "$mirror" \
  > "$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; fail "debootstrap failed"; }
end

begin "apt-get install python3 (the bare root: Bookworm minbase + python3)"
copy_host_settings "$online"
mount_root "$online"
in_root "$online" apt-get update -q >/dev/null
in_root "$online" apt-get install -y -q python3 >/dev/null
in_root "$online" python3 --version
end

# The stick's debs/ for this machine: what a bare root with python3 lacks of apt-packages.txt,
# downloaded here as a school would for arm64 (README, "A USB stick for many Pis").
begin "the wheelhouse (x86_64) and its debs/"
if [ -n "${PI_CHECK_WHEELHOUSE:-}" ]; then
  house="$(realpath "$PI_CHECK_WHEELHOUSE")"
else
  make -C "$repo" --no-print-directory wheelhouse PLATFORM=x86_64 \
    || fail "make wheelhouse PLATFORM=x86_64 failed (or set PI_CHECK_WHEELHOUSE=DIR to a wheelhouse)"
  house="$(find "$repo/dist" -maxdepth 1 -type d -name 'campus-edge-wheelhouse-*-x86_64' -printf '%T@ %p\n' \
           | sort -rn | head -n 1 | cut -d' ' -f2-)"
fi
[ -f "$house/requirements.lock" ] || fail "$house is not a wheelhouse (no requirements.lock)"
stick="/root/stick/$(basename "$house")"
mkdir -p "$online/root/stick"
cp -r "$house" "$online$stick"
if [ ! -d "$online$stick/debs" ]; then
  list="$online$stick/apt-packages.txt"
  [ -f "$list" ] || list="$repo/systemd/apt-packages.txt"
  mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')
  in_root "$online" apt-get install -y -q --download-only --no-install-recommends "${packages[@]}" >/dev/null
  mkdir -p "$online$stick/debs"
  cp "$online"/var/cache/apt/archives/*.deb "$online$stick/debs/"
  in_root "$online" apt-get clean
  python3 "$repo/tools/wheelhouse.py" sums "$online$stick"  # the stick now holds debs/ too
fi
say "wheelhouse $(basename "$house"): $(find "$online$stick/wheels" -name '*.whl' | wc -l) wheels," \
    "$(find "$online$stick/debs" -name '*.deb' | wc -l) debs, $(du -sh "$online$stick" | cut -f1)"
# The source tree (as it is in this working copy, without its venv and builds).
mkdir -p "$online/root/campus-edge"
tar -C "$repo" --exclude=./.venv --exclude=./.git --exclude=./dist --exclude=./build \
    --exclude='*.egg-info' --exclude=./.demo --exclude=__pycache__ -cf - . \
  | tar -C "$online/root/campus-edge" -xf -
# The offline root is the same bare root, with the stick plugged in.
unmount_root "$online"
cp -a "$online" "$offline"
mount_root "$online"
mount_root "$offline"
end

begin "(a) online: install.sh from the source tree"
in_root "$online" bash -c 'cd /root/campus-edge && ./systemd/install.sh --station K-1 --reader K-1=nfc:usb' \
  || fail "(a) the online install failed (see above)"
end
begin "(a) online: install.sh again upgrades in place"
first="$(readlink "$online/opt/campus-edge/venv")"
in_root "$online" bash -c 'cd /root/campus-edge && ./systemd/install.sh' | grep 'campus-edge install:' \
  || fail "(a) the second run (an upgrade) failed (see above)"
second="$(readlink "$online/opt/campus-edge/venv")"
if [ "$first" = "$second" ] || [ ! -d "$online/opt/campus-edge/$first" ]; then
  fail "(a) the upgrade did not switch to a new venv beside $first"
fi
end
begin "(a) online: doctor and the reader drivers"
check_root "$online" "(a)"
end

begin "(b) offline: install.sh --wheelhouse, in a network namespace with no network"
if unshare --net chroot "$offline" "${chroot_env[@]}" python3 -c \
     'import socket; socket.create_connection(("151.101.0.223", 443), timeout=3)' 2>/dev/null; then
  fail "(b) the network namespace still reaches the internet: the offline check would prove nothing"
fi
say "(b) no network in the namespace: a connection to PyPI's address fails"
unshare --net chroot "$offline" "${chroot_env[@]}" bash -c \
  "cd /root/campus-edge && ./systemd/install.sh --wheelhouse $stick --station K-1 --reader K-1=nfc:usb" \
  || fail "(b) the offline install failed (see above)"
end
begin "(b) offline: doctor and the reader drivers (no network)"
check_root "$offline" "(b)" unshare --net
end

say "both installs completed with the reader drivers. Times on this machine ($(nproc) cores):"
printf '    %s\n' "${times[@]}"
