#!/usr/bin/env bash
# Issue 3: static --ip, --ip-range allocation, a /29 filling up with a clear
# "no free address" error, 20 parallel runs getting 20 distinct addresses.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
lab_up
wgnet network create --subnet 10.123.0.0/24 --ip-range 10.123.0.128/28 --gateway 10.123.0.254 rnet >/dev/null
lab run --name s1 --network rnet --ip 10.123.0.7 >/dev/null
[ "$(cip s1 rnet)" = 10.123.0.7 ] || fail "static --ip not honoured"
lab exec s1 -- ip route show default | grep -q "via 10.123.0.254" || fail "gateway not the default route"
lab run --name s2 --network rnet >/dev/null
[ "$(cip s2 rnet)" = 10.123.0.128 ] || fail "--ip-range not used: $(cip s2 rnet)"
reach s2 10.123.0.7 || fail "s2 cannot reach s1"
ok "static --ip and --ip-range allocation"
out=$(lab run --name s3 --network rnet --ip 10.123.0.7 2>&1) && fail "taken address accepted"
echo "$out" | grep -qi "in use\|taken\|already" || fail "unclear error for a taken address: $out"
out=$(lab run --name s4 --network rnet --ip 10.124.0.7 2>&1) && fail "address outside the subnet accepted"
ok "taken and foreign static addresses refused"
[ -z "$(lab ls | awk '$1=="s3"||$1=="s4"')" ] || fail "failed runs left containers behind"

wgnet network create --subnet 10.124.0.0/29 small >/dev/null
g=$(lab ls | awk '$1=="s1"{print $2}')
for i in 1 2 3 4 5; do lab run --name f$i --network small --guest "$g" >/dev/null || fail "run f$i on a /29"; done
out=$(lab run --name f6 --network small --guest "$g" 2>&1) && fail "a sixth address on a /29"
echo "$out" | grep -qi "no free\|no available\|exhausted" || fail "unclear pool-full error: $out"
ok "a /29 fills up after 5 containers: $(echo "$out" | tail -1)"
lab rm f3 >/dev/null
lab run --name f7 --network small --guest "$g" >/dev/null || fail "freed address not reusable"
[ "$(cip f7 small)" = 10.124.0.4 ] || fail "f7 did not get the freed address: $(cip f7 small)"
ok "freed addresses are reused"

wgnet network create par >/dev/null
for i in $(seq 1 20); do lab run --name p$i --network par >/dev/null 2>"$TMP/p$i.err" & done
wait
for i in $(seq 1 20); do [ -s "$TMP/p$i.err" ] && { cat "$TMP/p$i.err"; fail "parallel run p$i"; }; done
wgnet network inspect par | python3 -c '
import json,sys
ips=[c["IPv4Address"] for c in json.load(sys.stdin)[0]["Containers"].values()]
assert len(ips)==20 and len(set(ips))==20, ips
print(len(set(ips)), "distinct")' || fail "parallel addresses not distinct"
reach p1 "$(cip p20 par)" || fail "p1 cannot reach p20"
ok "20 parallel runs on one network got 20 distinct addresses"
