#!/usr/bin/env bash
# Benchmark, not a test (ctest never runs it): application submits per second end to end through
# aqpd, against pgbench running the same database writes, at the same concurrency on the same
# database. Prints each round, the medians of BENCH_ROUNDS rounds and the ratio aqpd/pgbench
# (the target is >= 0.7).
#
# One "submit" is a complete cycle for one provider and one service type:
#
#   aqpd side (wrk, BENCH_CONCURRENCY threads with one kept-alive TLS connection each, and a Lua
#   state machine per connection, written below):
#     1. POST /v1/applications {"service_type", "answers"} with the provider's bearer key:
#        key lookup (once per key; aqpd caches known keys), body parsed and validated, then the
#        app_create statement of api/sql.c (INSERT application + INSERT audit_event
#        'application.create', one statement, one transaction) and the JSON reply (201);
#     2. POST /v1/applications/{id}/submit: the app_load read (application, organisation,
#        service type, criteria set, register facts), every automatic criterion of criteria
#        set v1 evaluated in qualify/, then app_submit (UPDATE application status and results +
#        INSERT audit_event 'application.submit', one statement, one transaction) and the reply
#        (200, status in_assessment).
#     A cycle counts when its submit answers 200 with status in_assessment.
#
#   pgbench side (BENCH_CONCURRENCY clients, -M prepared, one script run per cycle): the two
#     write statements aqpd runs, with the same answers, the same results document and the
#     same replies built (api_application), each in its own transaction as in aqpd:
#     1. app_create's statement (INSERT application + INSERT audit_event);
#     2. app_submit's statement (UPDATE application + INSERT audit_event).
#     Not the key lookup, not app_load's read, not the rule evaluation, HTTP, TLS or JSON
#     parsing: that is what the ratio prices.
#
# Service types family-support, edge-of-care, advocacy and assessment-care-planning (Ofsted does
# not regulate them, so every automatic check passes and the application waits for an assessor);
# an organisation has one open application per service type, so each organisation serves four
# cycles and the organisations (with provider keys for aqpd) are created beforehand, a fresh
# range for every run. Rounds alternate aqpd and pgbench, so both see the tables grow alike.
# With 2 or more cores, aqpd and PostgreSQL run on CPU 0 and the load generator on CPU 1.
#
#   tests/bench/submit_vs_pgbench.sh          (builds build/aqpd first if needed)
# Environment: BENCH_DURATION (seconds, default 10), BENCH_CONCURRENCY (16), BENCH_ROUNDS (3),
# BENCH_POOL_SIZE (aqpd's database connections; default: aqpd's own default), BENCH_PIN (1; 0
# to let the scheduler place everything), BENCH_DURABLE (0: the cluster runs as the tests' does,
# fsync and synchronous_commit off; 1: PostgreSQL's durable defaults), BENCH_LOG_LEVEL (info).
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"

DURATION=${BENCH_DURATION:-10}
CONC=${BENCH_CONCURRENCY:-16}
ROUNDS=${BENCH_ROUNDS:-3}
PIN=${BENCH_PIN:-1}

scripts/deps.sh wrk util-linux >/dev/null
bench_aqpd
bench_tmpdir aqpd-bench-submit
bench_pin "$PIN"

# ---- a private cluster, migrated, with the register ----
say "starting a private PostgreSQL cluster"
if [[ "${BENCH_DURABLE:-0}" == 1 ]]; then bench_cluster_start durable; else bench_cluster_start; fi
if ((${#pin_server[@]})); then
  # The postmaster and its processes; backends forked later inherit the affinity.
  for p in $(pgrep -f "postgres -D $AQPD_PG_DATA" || true) $(pgrep -P "$(head -n 1 "$AQPD_PG_DATA/postmaster.pid")" || true); do
    taskset -a -p -c 0 "$p" >/dev/null 2>&1 || true
  done
fi
"$AQPD" migrate >"$D/setup.log" 2>&1 || { cat "$D/setup.log" >&2; exit 1; }
"$AQPD" import ofsted data/ofsted/Provider_level_at_31_Mar_2025.csv >"$D/setup.log" 2>&1 ||
  { cat "$D/setup.log" >&2; exit 1; }

# Organisations are bench_org(n), with provider key "aqpd_" + n in 43 digits (only its SHA-256
# is stored, as aqpd stores keys). make_orgs FIRST COUNT.
bench_psql <<'SQL'
CREATE FUNCTION bench_org(n bigint) RETURNS uuid LANGUAGE sql IMMUTABLE AS
  $$ SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid $$;
SQL
make_orgs() {
  bench_psql -c "INSERT INTO organisation (id, name, kind, sector)
      SELECT bench_org(n), 'Bench provider ' || n, 'provider', 'voluntary' FROM generate_series($1, $1 + $2 - 1) n;
    INSERT INTO api_key (key_hash, role, organisation_id, label)
      SELECT sha256(convert_to('aqpd_' || lpad(n::text, 43, '0'), 'UTF8')), 'provider', bench_org(n), 'bench'
      FROM generate_series($1, $1 + $2 - 1) n;
    ANALYZE organisation; ANALYZE api_key;"
}

# The answers of every cycle: criteria/examples/family-support.json with valid dates and a
# registered manager (assessment-care-planning needs one), compact.
ANSWERS=$(jq -c --arg until "$(date -u -d '+400 days' +%F)" --arg reviewed "$(date -u -d '-30 days' +%F)" \
  '.answers | .insurance[].expires = $until | .safeguarding.policy_reviewed = $reviewed
   | .workforce.registered_manager = {"name": "Sam Example", "swe_number": "SW104233"}' \
  criteria/examples/family-support.json)

# ---- aqpd ----
bench_cert
# shellcheck disable=SC2086 # AQPD_POOL_SIZE only when BENCH_POOL_SIZE is set
bench_aqpd_start AQPD_LOG_LEVEL="${BENCH_LOG_LEVEL:-info}" ${BENCH_POOL_SIZE:+AQPD_POOL_SIZE=$BENCH_POOL_SIZE}
bench_wait_ready

# One cycle by hand: checks the set-up and gives the results document the pgbench side writes.
NEXT=1 # the next organisation number to hand out
make_orgs "$NEXT" 1
key=$(printf 'aqpd_%043d' "$NEXT")
NEXT=$((NEXT + 1))
call() { # METHOD PATH [BODY]
  bench_curl "$AQPD_PORT" "$2" -sS -X "$1" -H "Authorization: Bearer $key" \
    ${3:+-H 'Content-Type: application/json' --data-binary "$3"}
}
app=$(call POST /v1/applications "{\"service_type\": \"family-support\", \"answers\": $ANSWERS}" | jq -r .id)
reply=$(call POST "/v1/applications/$app/submit")
[[ "$(jq -r .status <<<"$reply")" == in_assessment ]] || { say "a submit by hand did not wait for an assessor: $reply"; exit 1; }
RESULTS=$(jq -c .results <<<"$reply")
say "aqpd on :$AQPD_PORT; one cycle by hand: $(jq -r '[.results[] | .criterion + ":" + .outcome] | join(" ")' <<<"$reply")"

# ---- pgbench's script: app_create's and app_submit's statements (api/sql.c) ----
cat >"$D/submit.sql" <<'SQL'
\set i :i + 1
\set n :base + :client_id * :per + (:i - 1) / 4
\set t 1 + (:i - 1) % 4
WITH st AS (SELECT code FROM service_type
            WHERE code = (ARRAY['family-support', 'edge-of-care', 'advocacy', 'assessment-care-planning'])[:t]),
 q AS (SELECT status FROM qualification WHERE organisation_id = bench_org(:n)
       AND service_type = (ARRAY['family-support', 'edge-of-care', 'advocacy', 'assessment-care-planning'])[:t]
       AND status IN ('active', 'suspended')),
 a AS (INSERT INTO application (organisation_id, service_type, criteria_version, answers)
  SELECT bench_org(:n), st.code, (SELECT max(version) FROM criteria_set), :answers::jsonb FROM st
  WHERE NOT EXISTS (SELECT 1 FROM q) RETURNING *),
 e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)
  SELECT :actor, 'application.create', 'application', a.id::text,
         jsonb_build_object('after', to_jsonb(a)) FROM a RETURNING 1)
SELECT st.code AS code, (SELECT api_application(a) FROM a) AS created,
       (SELECT status FROM q) AS qstatus, (SELECT id FROM a) AS app,
       (SELECT updated_at::text FROM a) AS ver FROM st
\gset
WITH u AS (UPDATE application SET status = 'in_assessment', results = :results::jsonb, submitted_at = now(),
  updated_at = now() WHERE id = :app::uuid AND status = 'draft' AND updated_at = :ver::timestamptz
  RETURNING *),
 e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)
  SELECT :actor, 'application.submit', 'application', u.id::text,
         jsonb_build_object('before', jsonb_build_object('status', 'draft'::text),
                            'after', jsonb_build_object('status', u.status), 'results', u.results)
  FROM u RETURNING 1)
SELECT api_application(u) || jsonb_strip_nulls(jsonb_build_object('qualification',
  CASE WHEN u.status = 'qualified' THEN qualification_grant(u, :actor) END)) AS submitted FROM u
\gset
SQL

# ---- wrk's script: per thread (= per connection) a loop of create, submit; the next service
# type, after four the next organisation ----
LUA=$D/submit.lua
cat >"$LUA" <<'LUA'
local threads, nthreads = {}, 0
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

local types = {"family-support", "edge-of-care", "advocacy", "assessment-care-planning"}

function init(args)
  local base, per = tonumber(args[1]), tonumber(args[2])
  answers = args[3]
  org = base + tid * per
  t, app = 1, nil
  cycles, errors, first_error = 0, 0, ""
end

local function auth()
  return "Bearer " .. string.format("aqpd_%043d", org)
end

function request()
  if app == nil then
    return wrk.format("POST", "/v1/applications",
      {["Authorization"] = auth(), ["Content-Type"] = "application/json"},
      '{"service_type": "' .. types[t] .. '", "answers": ' .. answers .. '}')
  end
  return wrk.format("POST", "/v1/applications/" .. app .. "/submit", {["Authorization"] = auth()})
end

local function next_cycle()
  app = nil
  t = t + 1
  if t > #types then t, org = 1, org + 1 end
end

local function failed(status, body)
  errors = errors + 1
  if first_error == "" then first_error = status .. " " .. string.sub(body or "", 1, 300) end
end

function response(status, headers, body)
  if app == nil then
    app = status == 201 and string.match(body, '^{"id": ?"([0-9a-f%-]+)"') or nil
    if app == nil then failed(status, body); next_cycle() end
  else
    if status == 200 and string.find(body, '"status": ?"in_assessment"') then
      cycles = cycles + 1
    else
      failed(status, body)
    end
    next_cycle()
  end
end

function done(summary, latency, requests)
  local c, e, fe = 0, 0, ""
  for _, th in ipairs(threads) do
    c = c + th:get("cycles")
    e = e + th:get("errors")
    if fe == "" then fe = th:get("first_error") end
  end
  local s = summary.duration / 1e6
  io.write(string.format("cycles %d errors %d seconds %.3f per_second %.1f\n", c, e, s, c / s))
  if fe ~= "" then io.write("first_error " .. fe .. "\n") end
end
LUA

# ---- runs ----
# Organisations per client (or wrk thread) per run, four cycles each: 500 for the warm-up, then
# three times what the faster warm-up needed, so that no client runs out (pgbench with fewer
# clients gets the same organisations, split fewer ways).
PER=$((2000 / 4))

# fresh: makes the organisations of the next run (CONC * PER of them) and sets BASE, the first.
fresh() {
  BASE=$NEXT
  make_orgs "$BASE" $((CONC * PER))
  NEXT=$((NEXT + CONC * PER))
  bench_psql -c CHECKPOINT
}

# run_aqpd SECONDS BASE: prints complete cycles per second; errors to stderr.
run_aqpd() {
  local base=$2 out
  out=$("${pin_client[@]}" wrk -t"$CONC" -c"$CONC" -d"$1s" --timeout 10s -s "$LUA" \
    "https://127.0.0.1:$AQPD_PORT" -- "$base" "$PER" "$ANSWERS" 2>&1)
  grep -E 'Socket errors' <<<"$out" | sed 's/^/bench:   aqpd: /' >&2 || true
  local line
  line=$(grep '^cycles ' <<<"$out") || { say "wrk: $out"; exit 1; }
  # "cycles N errors E seconds S per_second R"
  read -r _ _ _ errors _ _ _ rate <<<"$line"
  ((errors == 0)) || say "  aqpd: $errors failed requests (first: $(grep '^first_error' <<<"$out" | cut -c13-300))"
  echo "$rate"
}

# run_pgbench SECONDS BASE [CLIENTS]: prints transactions (cycles) per second.
run_pgbench() {
  local base=$2 out clients=${3:-$CONC}
  out=$("${pin_client[@]}" "$AQPD_PG_BINDIR/pgbench" -h "$AQPD_PG_HOST" -p "$AQPD_PG_PORT" \
    -U "$AQPD_PG_USER" -n -M prepared -c "$clients" -j 2 -T "$1" -f "$D/submit.sql" \
    -D i=0 -D base="$base" -D per=$((CONC * PER / clients)) -D answers="$ANSWERS" -D results="$RESULTS" \
    -D actor=key:bench aqpd 2>&1)
  if grep -qiE 'aborted|error' <<<"$out"; then
    say "  pgbench: $(grep -iE -m 3 'aborted|error' <<<"$out")"
  fi
  sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out"
}

say "warm-up, sizing the organisation ranges"
fresh
wa=$(run_aqpd 3 "$BASE")
fresh
wp=$(run_pgbench 3 "$BASE")
say "warm-up: aqpd $wa cycles/s, pgbench $wp tx/s"
max=$(awk -v a="$wa" -v b="$wp" 'BEGIN { print (a > b ? a : b) }')
PER=$(awk -v r="$max" -v d="$DURATION" -v c="$CONC" 'BEGIN { printf "%d", r * d * 3 / c / 4 + 100 }')
say "$PER organisations (x4 cycles) per client and run"

# For context only (not in the ratio): pgbench with as many clients as aqpd has database
# connections. Every audit event takes one advisory lock until its transaction commits
# (schema/0001_audit.sql), so fewer connections contend less for it.
POOL=${BENCH_POOL_SIZE:-$(sed -n 's/^#define LIMIT_POOL_SIZE \([0-9]*\).*/\1/p' daemon/limits.h)}
a_runs=() p_runs=() q_runs=()
for r in $(seq 1 "$ROUNDS"); do
  fresh
  a=$(run_aqpd "$DURATION" "$BASE")
  fresh
  p=$(run_pgbench "$DURATION" "$BASE")
  fresh
  q=$(run_pgbench "$DURATION" "$BASE" "$POOL")
  a_runs+=("$a")
  p_runs+=("$p")
  q_runs+=("$q")
  printf 'round %d: aqpd %8.0f submits/s   pgbench %8.0f tx/s   (pgbench with %s clients: %.0f tx/s)\n' \
    "$r" "$a" "$p" "$POOL" "$q"
done

# Every cycle left its two audit events, and the chain still verifies.
"$AQPD" audit verify >"$D/verify.out" 2>&1 ||
  { say "aqpd audit verify failed: $(cat "$D/verify.out")"; exit 1; }
say "$(cat "$D/verify.out")"

am=$(bench_median "${a_runs[@]}")
pm=$(bench_median "${p_runs[@]}")
qm=$(bench_median "${q_runs[@]}")
ratio=$(bench_ratio "$am" "$pm")
printf 'median: aqpd %.0f submits/s, pgbench %.0f tx/s, ratio aqpd/pgbench %s (target >= 0.7)\n' \
  "$am" "$pm" "$ratio"
printf '(for context: pgbench with %s clients, aqpd'"'"'s database connections: %.0f tx/s)\n' "$POOL" "$qm"
printf '(concurrency %s, %ss runs, TLS keep-alive, loopback, %s core(s)%s, aqpd pool %s, %s)\n' \
  "$CONC" "$DURATION" "$(nproc)" "${pin_client:+; aqpd and PostgreSQL on CPU 0, clients on CPU 1}" \
  "$POOL" \
  "$([[ "${BENCH_DURABLE:-0}" == 1 ]] && echo 'durable commits' || echo 'fsync and synchronous_commit off')"
