#!/bin/sh
# The legacy backend's floor at 10 000 services: what iptables-legacy-restore --noflush costs with
# nothing to change, against the 238 021-line nat+filter payload Ferry renders.
set -e
PAYLOAD=${1:?usage: legacy_floor.sh PAYLOAD_FILE (from dev.ferry.bench.rules.iptables.PayloadDump)}
NS=rtlf$$
ip netns add $NS
trap "ip netns del $NS" EXIT
T="/usr/bin/time -f %e_s_wall_%U_user_%S_sys"
echo "load full payload:"; $T ip netns exec $NS iptables-legacy-restore -w 5 --noflush --counters < "$PAYLOAD"
SVC=$(grep -m1 '^:KUBE-SVC-' "$PAYLOAD" | cut -d' ' -f1 | tr -d :)
ONE=$(printf '*nat\n:%s - [0:0]\n%s\nCOMMIT\n' "$SVC" "$(grep "^-A $SVC " "$PAYLOAD")")
for i in 1 2 3; do
 echo "save -t nat:"; $T ip netns exec $NS iptables-legacy-save -t nat > /dev/null
 echo "restore --noflush, empty *nat COMMIT:"; printf '*nat\nCOMMIT\n' | $T ip netns exec $NS iptables-legacy-restore -w 5 --noflush --counters
 echo "restore --noflush, one KUBE-SVC chain rewritten:"; echo "$ONE" | $T ip netns exec $NS iptables-legacy-restore -w 5 --noflush --counters
 echo "same without --counters:"; echo "$ONE" | $T ip netns exec $NS iptables-legacy-restore -w 5 --noflush
done
echo "rules in nat: $(ip netns exec $NS iptables-legacy-save -t nat | grep -c '^-A')"
