#!/usr/bin/env bash
# Limits: a body over max_body_bytes gets 413 problem+json "body_too_large" (with and without
# `Expect: 100-continue`, and chunked); a body under it is not refused; a header block over
# max_header_bytes is refused and one under it is served. Default and configured limits.
source "$(dirname "$0")/../lib/common.sh"
t_init
new_database
aqpd_env

on_exit "rm -f '$T/2MiB' '$T/16MiB'" # a failed test keeps $T: not 18 MiB of x
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' x >"$T/2MiB"
head -c $((16 * 1024 * 1024)) /dev/zero | tr '\0' x >"$T/16MiB"
head -c 1000 /dev/zero | tr '\0' x >"$T/1000B"
head -c 8192 /dev/zero | tr '\0' x >"$T/8KiB"

# ---- defaults: max_body_bytes 1048576 ----
aqpd_start
# Without Expect the client is still sending when the server refuses: the server must let it
# finish (or drain) so that it can read the answer. Three times, as a race shows only sometimes.
for i in 1 2 3; do
  https POST /healthz -H 'Expect:' --data-binary @"$T/2MiB"
  expect_problem 413 body_too_large "2 MiB body, no Expect header (default limit), try $i"
done
# A body larger than the socket buffers cannot be written before the server answers.
for i in 1 2 3; do
  https POST /healthz -H 'Expect:' --data-binary @"$T/16MiB"
  expect_problem 413 body_too_large "16 MiB body, no Expect header (default limit), try $i"
done
https POST /healthz -H 'Expect: 100-continue' --data-binary @"$T/2MiB"
expect_problem 413 body_too_large "2 MiB body with Expect: 100-continue (default limit)"
https POST /healthz -H 'Transfer-Encoding: chunked' --data-binary @"$T/2MiB"
expect_problem 413 body_too_large "2 MiB chunked body (default limit)"
https POST /healthz -H 'Expect:' --data-binary @"$T/1000B"
expect_problem 405 method_not_allowed "1000-byte body to POST /healthz is not refused for size"
https GET /healthz
expect_status 200 "GET /healthz after refused bodies"
aqpd_stop TERM

# ---- configured: 4096-byte body and header limits ----
export AQPD_MAX_BODY_BYTES=4096 AQPD_MAX_HEADER_BYTES=4096
aqpd_start
https POST /healthz -H 'Expect:' --data-binary @"$T/8KiB"
expect_problem 413 body_too_large "8 KiB body over max_body_bytes=4096"
https POST /healthz -H 'Expect: 100-continue' --data-binary @"$T/8KiB"
expect_problem 413 body_too_large "8 KiB body with Expect: 100-continue over max_body_bytes=4096"
https POST /healthz -H 'Expect:' --data-binary @"$T/1000B"
expect_problem 405 method_not_allowed "1000-byte body under max_body_bytes=4096"

https GET /healthz -H "X-Padding: $(head -c 1000 /dev/zero | tr '\0' y)"
expect_status 200 "GET /healthz with a 1000-byte header under max_header_bytes=4096"
https GET /healthz -H "X-Padding: $(head -c 8192 /dev/zero | tr '\0' y)"
case "$HTTP_STATUS" in
  400 | 413 | 431 | 000) ;;
  *) fail "GET /healthz with an 8 KiB header over max_header_bytes=4096: expected 400, 413, 431 or a closed connection, got $HTTP_STATUS" ;;
esac
# Many small headers add up too.
hdrs=()
for i in $(seq 1 100); do hdrs+=(-H "X-H$i: $(printf '%060d' "$i")"); done
https GET /healthz "${hdrs[@]}"
case "$HTTP_STATUS" in
  400 | 413 | 431 | 000) ;;
  *) fail "GET /healthz with 100 headers of ~70 bytes over max_header_bytes=4096: got $HTTP_STATUS" ;;
esac
https GET /healthz
expect_status 200 "GET /healthz after refused headers"
aqpd_stop TERM
