#!/usr/bin/env bash
# Issue 4, network prune: removes the networks without endpoints, keeps the
# ones with endpoints; the kept network still works.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
lab_up
for n in used empty1 empty2; do wgnet network create "$n" >/dev/null; done
wgnet network create --ipv6 --subnet 2001:db8:9::/64 empty6 >/dev/null
lab run --name a --network used >/dev/null
lab run --name b --network used >/dev/null
out=$(wgnet network prune -f) || fail "prune failed: $out"
for n in empty1 empty2 empty6; do
	echo "$out" | grep -qx "$n" || fail "prune did not report $n: $out"
done
echo "$out" | grep -qx used && fail "prune reported used: $out"
[ "$(wgnet network ls --format '{{.Name}}')" = used ] || fail "left: $(wgnet network ls --format '{{.Name}}')"
reach a "$(cip b used)" || fail "the kept network stopped working"
ok "prune removed empty1 empty2 empty6, kept used (still working)"
out=$(wgnet network prune -f) || fail "second prune failed"
echo "$out" | grep -qx used && fail "second prune removed used"
lab rm a b >/dev/null
wgnet network prune -f | grep -qx used || fail "used not pruned once its containers left"
[ -z "$(wgnet network ls -q)" ] || fail "networks left after the last prune"
ok "after the containers left, prune removed used too"
