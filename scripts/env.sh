# Sourced by the other scripts: make sure a Python 3.12+ environment with icetrack installed is active.
# Uses the active virtual environment when it already has icetrack; otherwise creates ./.venv.
_icetrack_ready() {
    python -c 'import sys, tracking, dashboard, pytest, pytest_timeout; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}
if ! _icetrack_ready; then
    if [ ! -x .venv/bin/python ]; then
        for candidate in python3.13 python3.12 "$HOME/.pyenv/versions/3.12.1/bin/python" \
                         "$HOME/.pyenv/versions/3.13.0/bin/python" python3; do
            if command -v "$candidate" >/dev/null 2>&1 \
               && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
                "$candidate" -m venv .venv
                break
            fi
        done
        [ -x .venv/bin/python ] || { echo "icetrack needs Python 3.12 or newer" >&2; exit 1; }
        .venv/bin/pip install -q --upgrade pip
    fi
    export VIRTUAL_ENV="$PWD/.venv"
    export PATH="$VIRTUAL_ENV/bin:$PATH"
    _icetrack_ready || pip install -q -e '.[test]'
fi
