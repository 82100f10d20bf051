# Sourced by scripts/test.sh and .ci/run: make Debian's Chromium available for the browser tests (tests/ui).
# Installs the `chromium` package when it is missing and this shell may (root, or sudo without a password, and
# apt-get); otherwise says why the browser tests will be skipped. CHROMIUM_PATH points the tests elsewhere.
_chromium_found() {
    [ -n "${CHROMIUM_PATH:-}" ] && [ -x "${CHROMIUM_PATH}" ] && return 0
    command -v chromium >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium ]
}
if ! _chromium_found; then
    _sudo=""
    [ "$(id -u)" -eq 0 ] || { sudo -n true 2>/dev/null && _sudo="sudo -n"; }
    if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$_sudo" ]; }; then
        echo "Installing Debian's chromium for the browser tests (apt-get) ..." >&2
        ($_sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -qq chromium >/dev/null) \
            || echo "Could not install chromium; the browser tests (tests/ui) will be skipped." >&2
    else
        echo "No chromium and no way to install it (needs root and apt-get); the browser tests (tests/ui) will be" \
             "skipped. Install Chromium, or set CHROMIUM_PATH to a Chromium binary." >&2
    fi
fi
