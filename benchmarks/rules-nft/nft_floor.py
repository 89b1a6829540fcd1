# Usage (root): python3 nft_floor.py CHAINS... ; one scratch namespace per size, deleted afterwards.
# How long one nft -f command takes against a table of C regular chains (nft 1.0.6 fills its cache
# with every chain before add rule / add element / delete element; flush chain asks only for the genid).
import subprocess, time, statistics, random, sys
def sh(ns, args, inp=None):
    return subprocess.run(["ip","netns","exec",ns]+args, input=inp, capture_output=True, text=True, check=True)
for C in [int(x) for x in sys.argv[1:]]:
    ns = "rtnf%06x" % random.randrange(1<<24)
    subprocess.run(["ip","netns","add",ns], check=True)
    try:
        L = ["add table ip t", "add chain ip t pre { type nat hook prerouting priority -100 ; }",
             "add map ip t svc { type ipv4_addr . inet_proto . inet_service : verdict ; }",
             "add chain ip t masq", "add rule ip t masq meta mark set meta mark | 0x4000",
             "add rule ip t pre ip daddr . meta l4proto . th dport vmap @svc"]
        for i in range(C):
            c = "service-%08X-bench/svc-%d/tcp/http" % (i, i)
            L.append("add chain ip t " + c)
            for j in range(5):
                n = i * 5 + j
                a = "10.%d.%d.%d" % (128 + n // 65536, (n // 256) % 256, n % 256)
                L.append("add rule ip t %s jhash ip saddr . th sport mod 5 seed 0x1234 == %d ip saddr %s jump masq" % (c, j, a))
                L.append("add rule ip t %s jhash ip saddr . th sport mod 5 seed 0x1234 == %d meta l4proto tcp dnat to %s:8080" % (c, j, a))
            L.append("add element ip t svc { 10.96.%d.%d . tcp . 80 : goto %s }" % (i // 250, i % 250, c))
        if C == 0:
            L.append("add chain ip t service-00000000-bench/svc-0/tcp/http")
        sh(ns, ["nft", "-f", "-"], "\n".join(L) + "\n")
        c0 = "service-00000000-bench/svc-0/tcp/http"
        cmds = {
            "add element": "add element ip t svc { 10.99.0.1 . tcp . 80 : goto %s }\n" % c0,
            "delete element": "delete element ip t svc { 10.99.0.1 . tcp . 80 }\n",
            "add rule": "add rule ip t %s meta l4proto tcp dnat to 10.200.0.1:8080\n" % c0,
            "flush chain": "flush chain ip t %s\n" % c0,
        }
        res = {k: [] for k in cmds}
        for rep in range(7):
            for k, v in cmds.items():
                t = time.perf_counter(); sh(ns, ["nft", "-f", "-"], v); res[k].append((time.perf_counter() - t) * 1000)
        print("| %d | %s |" % (C, " | ".join("%.1f" % statistics.median(res[k]) for k in cmds)), flush=True)
    finally:
        subprocess.run(["ip","netns","del",ns])
