# Sourced by the scripts: installs the Debian packages given as arguments when any is missing
# (root, or sudo without a password). Each script names every package it needs itself, so that
# it works alone on a fresh Debian 12 (scripts/fresh-check proves it on a minbase root); what a
# minbase root already has (bash, coreutils, grep, sed, mawk, hostname, libc-bin's ldd, apt)
# is not named. Without root or sudo it stops with the apt-get line to run.
qgemm_install_deps() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing: ${missing[*]}"
  local SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null || ! sudo -n true 2>/dev/null; then
      echo "qgemm: missing Debian packages and no root or password-less sudo; as root run:" >&2
      echo "  apt-get install --no-install-recommends ${missing[*]}" >&2
      return 1
    fi
    SUDO="sudo -n"
  fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
