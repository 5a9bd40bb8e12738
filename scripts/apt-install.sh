# Sourced by the check scripts: `apt_install_bounded PACKAGE` installs a Debian package
# when apt-get exists, as root or through passwordless sudo, each apt-get call bounded
# to 5 minutes so that a machine without a reachable mirror never stalls CI. A failure
# is reported and left to the caller, which checks for what it needed.
apt_install_bounded() {
  command -v apt-get >/dev/null || return 1
  local sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo -n"
  apt() { timeout 300 $sudo_cmd apt-get "$@" >/dev/null 2>&1; }
  apt install -y --no-install-recommends "$1" \
    || { apt update && apt install -y --no-install-recommends "$1"; } \
    || { echo "   (apt-get failed or timed out)" >&2; return 1; }
}
