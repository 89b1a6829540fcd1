#!/bin/sh
# iptables-nft-restore --noflush --counters of a Ferry payload as it is ("plain") and with a chain-less
# -S opening each table ("-S": what IptablesSyncer sends for large payloads on the nf_tables backend),
# each into a fresh namespace (first sync), then each over the rules already there (resync). The plain
# first sync is quadratic in iptables-nft 1.8.9 (cache_chain_list_insert): minutes from ~3 000 services.
# Usage: nft_restore_cache.sh PAYLOAD_FILE [plain|s|both]   (payload from
#   java -cp benchmarks.jar dev.ferry.bench.rules.iptables.PayloadDump N FILE)
set -e
PAYLOAD=${1:?usage: nft_restore_cache.sh PAYLOAD_FILE [plain|s|both]}
WHICH=${2:-both}
S=$(mktemp)
trap 'rm -f "$S"' EXIT
sed -e 's/^\*nat$/*nat\n-S/' -e 's/^\*filter$/*filter\n-S/' "$PAYLOAD" > "$S"
T="/usr/bin/time -f %e_s_wall_%U_user_%S_sys_%MKB"
run() { # name file
  NS=rtnc$$
  ip netns add $NS
  echo "$1, first sync:"; $T ip netns exec $NS iptables-nft-restore -w 5 --noflush --counters < "$2" > /dev/null
  echo "$1, resync over it:"; $T ip netns exec $NS iptables-nft-restore -w 5 --noflush --counters < "$2" > /dev/null
  echo "$1: rules in nat $(ip netns exec $NS iptables-nft-save -t nat | grep -c '^-A')"
  ip netns del $NS
}
[ "$WHICH" = s ] || run plain "$PAYLOAD"
[ "$WHICH" = plain ] || run -S "$S"
