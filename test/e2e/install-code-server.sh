#!/usr/bin/env bash
# Installs a real VS Code (code-server, from the npm registry) for Keel's end-to-end tests,
# with the Debian packages the tests need (Chromium, Dovecot, Postfix, Radicale). Idempotent: a
# second run reuses the install in seconds.
#
#   test/e2e/install-code-server.sh          # install or reuse
#   KEEL_CS_FORCE=1 test/e2e/install-code-server.sh   # wipe and reinstall
#
# Result: test/e2e/.code-server/node_modules/.bin/code-server (the folder is git-ignored).
set -euo pipefail

CS_VERSION="4.100.3"
APT_PACKAGES=(libkrb5-dev libxkbfile-dev libsecret-1-dev pkg-config ripgrep chromium)
# The email connector's tests start their own Dovecot and Postfix (test/helpers/mailServers.ts)
# with their own config files; the system services of these packages are never started.
APT_PACKAGES+=(dovecot-imapd dovecot-lmtpd postfix)
# The bench's LangGraph peer (SqliteSaver) uses better-sqlite3, which builds from source when no
# prebuilt binary can be fetched.
APT_PACKAGES+=(python3 make g++)
# The calendar connector's tests start their own Radicale (CalDAV; test/helpers/calendarServer.ts)
# on loopback in a temp folder; its system service is never started.
APT_PACKAGES+=(radicale)

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CS_DIR="${SCRIPT_DIR}/.code-server"
MARKER="${CS_DIR}/.installed-${CS_VERSION}"
CS_BIN="${CS_DIR}/node_modules/.bin/code-server"
VSCODE_DIR="${CS_DIR}/node_modules/code-server/lib/vscode"
START_TIME="${EPOCHREALTIME:-$(date +%s.%N)}"

log() { printf '[code-server] %s\n' "$*"; }
# `code-server --version` writes ~/.config/code-server/config.yaml (with a password) and
# ~/.local/share/code-server/coder-logs on first use, and prints an "info Wrote default config"
# line before the version. Keep those files inside the install and print only the version line.
cs_version() {
  XDG_CONFIG_HOME="${CS_DIR}/.xdg/config" XDG_DATA_HOME="${CS_DIR}/.xdg/data" \
    "${CS_BIN}" --version 2>/dev/null | grep -m1 -F "${CS_VERSION} " || return 1
}
die() { printf '[code-server] ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() {
  local now="${EPOCHREALTIME:-$(date +%s.%N)}"
  log "done in $(awk -v a="${START_TIME}" -v b="${now}" 'BEGIN { printf "%.1f", b - a }')s"
}

# npm must treat each folder we install into as its own project: never walk up to the
# repository's npm-workspaces root. An explicit --prefix plus --workspaces=false does that.
# Drop inherited npm settings (e.g. when run from an `npm run` script) that could redirect it.
unset npm_config_prefix npm_config_workspace npm_config_workspaces npm_config_global \
      npm_config_include_workspace_root npm_config_omit npm_config_production 2>/dev/null || true
npm_in() { # npm_in DIR ARGS... : run npm with DIR as its project root
  local dir="$1"; shift
  (cd "${dir}" && npm --prefix "${dir}" --workspaces=false --no-audit --no-fund "$@")
}

command -v node >/dev/null || die "node is not on PATH (Node 20 is required)"
command -v npm >/dev/null || die "npm is not on PATH"
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
[[ "${NODE_MAJOR}" == "20" ]] || die "code-server ${CS_VERSION} needs Node 20, found $(node -v)"

# Serialise concurrent runs (two test jobs at once) by locking this script file itself.
if command -v flock >/dev/null; then
  exec 9<"${BASH_SOURCE[0]}"
  flock -w 1800 9 || die "timed out waiting for another install-code-server.sh run"
fi

# ---------------------------------------------------------------- step 1: Debian packages
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null || true)"
  [[ "${status}" == "install ok installed" ]] || missing+=("${pkg}")
done
if ((${#missing[@]} == 0)); then
  log "step 1/4: Debian packages already installed (${APT_PACKAGES[*]})"
else
  log "step 1/4: installing Debian packages: ${missing[*]}"
  SUDO=()
  if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      SUDO=(sudo -n)
    else
      die "not root and no passwordless sudo; install these packages first: apt-get install -y ${missing[*]}"
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Postfix unconfigured: its postinst writes no system main.cf and starts no system mail server.
  echo 'postfix postfix/main_mailer_type select No configuration' | "${SUDO[@]}" debconf-set-selections
  # No package's service starts during the install (dovecot's would listen on 143): a policy-rc.d
  # that denies every start, only for this install, only when the machine has none of its own.
  policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "${policy}" >/dev/null
    "${SUDO[@]}" chmod 755 "${policy}"
  fi
  # Wait for (rather than fail on) an apt/dpkg lock held by someone else.
  status=0
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update || status=$?
  ((status != 0)) || "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" || status=$?
  [[ -z "${policy}" ]] || "${SUDO[@]}" rm -f "${policy}"
  ((status == 0)) || die "apt-get failed (exit ${status}) installing: ${missing[*]}"
fi
command -v rg >/dev/null || die "ripgrep (rg) is not on PATH after installing it"

# ---------------------------------------------------------------- reuse an existing install
if [[ -n "${KEEL_CS_FORCE:-}" ]]; then
  log "KEEL_CS_FORCE is set: reinstalling"
elif [[ -f "${MARKER}" ]]; then
  if [[ -x "${CS_BIN}" ]] && version_out="$(cs_version)"; then
    log "reusing existing install at ${CS_DIR} (code-server ${version_out})"
    elapsed
    exit 0
  fi
  log "marker present but '${CS_BIN} --version' does not work; reinstalling"
fi

# Anything without the marker is a half-finished (or stale) install: start from scratch.
if [[ -e "${CS_DIR}" ]]; then
  [[ "${CS_DIR}" == */test/e2e/.code-server ]] || die "refusing to remove unexpected path ${CS_DIR}"
  log "removing incomplete or stale install at ${CS_DIR}"
  rm -rf "${CS_DIR}"
fi
mkdir -p "${CS_DIR}"
# Its own package.json makes it an npm project of its own, outside the repo's workspaces.
printf '{\n  "name": "keel-e2e-code-server",\n  "private": true\n}\n' >"${CS_DIR}/package.json"

# ---------------------------------------------------------------- step 2: code-server itself
# --ignore-scripts: its postinstall refuses root and downloads ripgrep from the internet.
log "step 2/4: npm install --ignore-scripts code-server@${CS_VERSION}"
npm_in "${CS_DIR}" install --ignore-scripts --save-exact "code-server@${CS_VERSION}"
log "step 2/4: npm rebuild argon2"
npm_in "${CS_DIR}" rebuild argon2

[[ -d "${VSCODE_DIR}" ]] || die "expected ${VSCODE_DIR} after installing code-server"

# ---------------------------------------------------------------- step 3: VS Code's dependencies
log "step 3/4: npm install --omit=dev --ignore-scripts in lib/vscode"
npm_in "${VSCODE_DIR}" install --omit=dev --ignore-scripts
# @vscode/ripgrep's postinstall downloads rg unless bin/ exists: supply Debian's rg instead.
log "step 3/4: using $(command -v rg) as @vscode/ripgrep's rg"
mkdir -p "${VSCODE_DIR}/node_modules/@vscode/ripgrep/bin"
cp "$(command -v rg)" "${VSCODE_DIR}/node_modules/@vscode/ripgrep/bin/rg"
chmod 755 "${VSCODE_DIR}/node_modules/@vscode/ripgrep/bin/rg"
# node-pty's install script runs `npx node-gyp`, which needs the yes.
log "step 3/4: npm rebuild in lib/vscode (native modules)"
npm_config_yes=true npm_in "${VSCODE_DIR}" rebuild

# ---------------------------------------------------------------- step 4: code-server's postinstall
log "step 4/4: symlinks and built-in extensions' dependencies"
ln -sfn node_modules "${VSCODE_DIR}/node_modules.asar"
ln -sfn code-linux.sh "${VSCODE_DIR}/bin/remote-cli/code-server"
ln -sfn browser-linux.sh "${VSCODE_DIR}/bin/helpers/browser.sh"
npm_in "${VSCODE_DIR}/extensions" install --omit=dev

# ---------------------------------------------------------------- verify and mark complete
log "verifying: code-server --version"
version_out="$(cs_version)" || die "'${CS_BIN} --version' failed or is not ${CS_VERSION} after install"
printf 'code-server %s\ninstalled %s\n' "${version_out}" "$(date -u +%FT%TZ)" >"${MARKER}"
log "installed code-server ${version_out} at ${CS_DIR}"
elapsed
