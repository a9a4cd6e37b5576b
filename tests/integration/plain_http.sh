#!/usr/bin/env bash
# Plain HTTP sent to the TLS port never gets an HTTP response (libevent serves plain HTTP on a
# TLS port if the bufferevent callback returns NULL: this is the test that catches it).
source "$(dirname "$0")/../lib/common.sh"
t_init
new_database
aqpd_env
aqpd_start

# plain_request TEXT: sends TEXT over a plain TCP connection, prints what comes back (3 s max)
# as `od -c` characters separated by spaces. The server may close or reset the connection at any
# point; that is not an error here.
plain_request() {
  rm -f "$T/plain.reply"
  (
    trap '' PIPE
    exec 3<>"/dev/tcp/127.0.0.1/$AQPD_PORT" || exit 0
    printf '%b' "$1" >&3 || true
    timeout 3 cat <&3 >"$T/plain.reply" || true
  ) 2>/dev/null || true
  od -An -c "$T/plain.reply" 2>/dev/null | tr -s ' \n' ' ' || true
}

reply=$(plain_request 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
assert_not_contains "$reply" "H T T P /" "reply to a plain HTTP/1.1 request on the TLS port"
reply=$(plain_request 'GET /healthz HTTP/1.0\r\n\r\n')
assert_not_contains "$reply" "H T T P /" "reply to a plain HTTP/1.0 request on the TLS port"
reply=$(plain_request 'GET /healthz\r\n\r\n')
assert_not_contains "$reply" "H T T P /" "reply to a plain HTTP/0.9 request on the TLS port"
# The same, as curl sees it: http:// to the TLS port must not produce a status.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$AQPD_PORT/healthz" || true)
assert_eq 000 "$code" "curl http:// to the TLS port: HTTP status"

# And the server is unharmed.
https GET /healthz
expect_status 200 "GET /healthz over TLS after plain HTTP attempts"
aqpd_stop TERM
