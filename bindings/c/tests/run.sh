#!/usr/bin/env bash
# Starts runtel-sim, runs the C test program and the example against it.
# RUNTEL_SIM: the simulator binary; RUNTEL_WRAP: a command prefix (valgrind).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
test_bin="$1"
example_bin="$2"
out="$(mktemp)"
# Seed dates pinned so record id N has dt 1704067200 + 7*(N-1): the test's
# filter value 1704084000 is the 2401st record's (the last 100 of 2500).
"$RUNTEL_SIM" --listen 127.0.0.1:0 --seed DomainCDR=2500 --user reader@sim.runtel.local:reader-pw:perms=DomainCDR.list --seed-epoch 1704067200 --vectors "$here/../../../tests/vectors" >"$out" 2>/dev/null &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do [[ -s "$out" ]] && break; sleep 0.05; done
url="$(sed -n 's/^listening on //p' "$out")"
[[ -n "$url" ]] || { echo "runtel-sim did not start" >&2; exit 1; }
export RUNTEL_SIM_URL="$url" RUNTEL_VECTORS="$here/../../../tests/vectors"

# Two HTTPS simulators: a certificate for localhost only, and an expired one.
# Started in this shell (not in $(...)) so the trap can stop them.
"$RUNTEL_SIM" --listen 127.0.0.1:0 --tls --tls-name localhost --cert-out "$out.tls.pem" >"$out.tls" 2>/dev/null &
tls_pid=$!
"$RUNTEL_SIM" --listen 127.0.0.1:0 --tls --tls-expired --cert-out "$out.expired.pem" >"$out.expired" 2>/dev/null &
expired_pid=$!
trap 'kill $sim_pid $tls_pid $expired_pid 2>/dev/null || true; rm -f "$out" "$out".*' EXIT
# A simulator whose Defender never blocks: what reaches it is what the client let through.
"$RUNTEL_SIM" --listen 127.0.0.1:0 --defender-max-failures 100000 --seed DomainCDR=250 >"$out.lenient" 2>/dev/null &
lenient_pid=$!
trap 'kill $sim_pid $tls_pid $expired_pid $lenient_pid 2>/dev/null || true; rm -f "$out" "$out".*' EXIT
for _ in $(seq 100); do [[ -s "$out.tls" && -s "$out.expired" && -s "$out.lenient" ]] && break; sleep 0.05; done
export RUNTEL_LENIENT_URL="$(sed -n 's/^listening on //p' "$out.lenient")"
# Tokens that live 2 s: renewals must not turn into a login per call.
"$RUNTEL_SIM" --listen 127.0.0.1:0 --token-lifetime 2 >"$out.short" 2>/dev/null &
short_pid=$!
trap 'kill $sim_pid $tls_pid $expired_pid $lenient_pid $short_pid 2>/dev/null || true; rm -f "$out" "$out".*' EXIT
for _ in $(seq 100); do [[ -s "$out.short" ]] && break; sleep 0.05; done
export RUNTEL_SHORT_TOKEN_URL="$(sed -n 's/^listening on //p' "$out.short")"
RUNTEL_TLS_URL="$(sed -n 's/^listening on //p' "$out.tls")"
RUNTEL_TLS_EXPIRED_URL="$(sed -n 's/^listening on //p' "$out.expired")"
export RUNTEL_TLS_URL RUNTEL_TLS_CA="$out.tls.pem" RUNTEL_TLS_EXPIRED_URL RUNTEL_TLS_EXPIRED_CA="$out.expired.pem"
${RUNTEL_WRAP:-} "$test_bin"
RUNTEL_PASSWORD=admin ${RUNTEL_WRAP:-} "$example_bin" "$url" admin@sim.runtel.local | tee "$out.example"
grep -q "CDRs: 2500 of 2500" "$out.example"
grep -q "logged out" "$out.example"
