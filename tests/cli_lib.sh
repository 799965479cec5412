# cli_lib.sh - what the command-line test scripts share; sourced, not run.
# Sets $tmp (removed on exit) and $failures, and defines:
#   fail "message"                      count a failure
#   expect_error "what" "fragment" cmd  the command must end in a clear
#       error: exit status 1-127 within 120 s (no crash, no hang), the
#       fragment on stderr, and stderr under 4 KB.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

expect_error() {
    local what=$1 needle=$2 status bytes
    shift 2
    timeout 120 "$@" >"$tmp/out" 2>"$tmp/err"
    status=$?
    bytes=$(stat -c %s "$tmp/err")
    if [ $status -eq 124 ]; then fail "$what: no answer within 120 s"; return; fi
    if [ $status -eq 0 ]; then fail "$what: exit status 0"; return; fi
    if [ $status -ge 128 ]; then fail "$what: crashed (status $status)"; return; fi
    if [ "$bytes" -gt 4096 ]; then fail "$what: $bytes bytes on stderr"; return; fi
    grep -qF -- "$needle" "$tmp/err" || fail "$what: stderr lacks '$needle': $(head -c 600 "$tmp/err")"
}
