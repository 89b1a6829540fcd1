package dev.ferry.rules.ipvs;

import dev.ferry.lb.Algorithm;
import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.Frontend;
import dev.ferry.model.FrontendKind;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.SessionAffinity;
import dev.ferry.rules.ServicePortValidator;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * Renders IPv4 service ports for IPVS mode in kube-proxy's IPVS layout: one virtual server per
 * frontend (ClusterIP, externalIP, LoadBalancer IP, NodePort on each node address) with masquerade
 * (-m) real servers of weight 1, ClientIP affinity as persistence (-p timeout), the scheduler from
 * the service's ferry.dev/lb-algorithm (kernel schedulers only: p2c maps to lc, random to rr) or the
 * configured default; ipsets KUBE-CLUSTER-IP, KUBE-EXTERNAL-IP, KUBE-LOAD-BALANCER(-FW,
 * -SOURCE-CIDR), KUBE-LOOP-BACK and KUBE-NODE-PORT-{TCP,UDP,SCTP} swapped in atomically; and the
 * iptables glue that masquerades and filters by those sets. Cluster frontends get the endpoints
 * selected for cluster traffic, external ones those selected for external traffic.
 * Stateless and thread-safe.
 */
public final class IpvsRenderer {
    private static final Set<String> KERNEL_SCHEDULERS = Set.of("rr", "wrr", "lc", "wlc", "sh", "dh", "mh", "sed", "nq", "lblc", "lblcr");

    private IpvsRenderer() {}

    public static IpvsRendering render(Collection<ServicePort> ports, IpvsOptions o) {
        ServicePortValidator.Result v = ServicePortValidator.validate(ports);
        StringBuilder vs = new StringBuilder();
        Set<String> clusterIp = new TreeSet<>(), externalIp = new TreeSet<>(), lb = new TreeSet<>(),
                lbFw = new TreeSet<>(), lbSrc = new TreeSet<>(), loopBack = new TreeSet<>(), addrs = new TreeSet<>();
        Set<String> np = new TreeSet<>();
        List<String> npTcp = new ArrayList<>(), npUdp = new ArrayList<>(), npSctp = new ArrayList<>();
        for (ServicePort sp : v.accepted()) {
            List<Frontend> fronts = new ArrayList<>();
            for (Frontend f : sp.frontends()) {
                if (f.kind() == FrontendKind.NODE_PORT) {
                    for (InetAddress ip : o.nodeIPs()) {
                        if (!isV6(ip)) fronts.add(new Frontend(FrontendKind.NODE_PORT, ip, f.port()));
                    }
                    (sp.name().protocol() == Protocol.TCP ? npTcp : sp.name().protocol() == Protocol.UDP ? npUdp : npSctp)
                            .add(Integer.toString(f.port()));
                } else if (!isV6(f.address())) {
                    fronts.add(f);
                }
            }
            String proto = sp.name().protocol().name().toLowerCase(Locale.ROOT);
            String flag = switch (sp.name().protocol()) {
                case TCP -> "-t";
                case UDP -> "-u";
                case SCTP -> "--sctp-service";
            };
            String sched = scheduler(sp, o);
            for (Frontend f : fronts) {
                String vip = IpAddresses.format(f.address()) + ":" + f.port();
                vs.append("-A ").append(flag).append(' ').append(vip).append(" -s ").append(sched);
                if (sp.sessionAffinity() == SessionAffinity.CLIENT_IP) {
                    vs.append(" -p ").append(sp.affinityTimeoutSeconds());
                }
                vs.append('\n');
                boolean external = f.kind().isExternal();
                List<Endpoint> eps = new ArrayList<>();
                for (Endpoint e : sp.endpoints()) {
                    if (!isV6(e.address()) && (external ? e.externalTraffic() : e.clusterTraffic())) eps.add(e);
                }
                eps.sort((a, b) -> a.hostPort().compareTo(b.hostPort()));
                for (Endpoint e : eps) {
                    vs.append("-a ").append(flag).append(' ').append(vip).append(" -r ").append(e.hostPort())
                            .append(" -m -w 1\n");
                    String epIp = IpAddresses.format(e.address());
                    loopBack.add(epIp + "," + proto + ":" + e.port() + "," + epIp);
                }
                String entry = IpAddresses.format(f.address()) + "," + proto + ":" + f.port();
                switch (f.kind()) {
                    case CLUSTER_IP -> clusterIp.add(entry);
                    case EXTERNAL_IP -> externalIp.add(entry);
                    case LOAD_BALANCER -> {
                        lb.add(entry);
                        if (!sp.loadBalancerSourceRanges().isEmpty()) {
                            lbFw.add(entry);
                            for (Cidr c : sp.loadBalancerSourceRanges()) {
                                if (!c.isIpv6()) lbSrc.add(entry + "," + c);
                            }
                        }
                    }
                    case NODE_PORT -> { }
                }
                if (f.kind() != FrontendKind.NODE_PORT) addrs.add(IpAddresses.format(f.address()));
            }
        }
        StringBuilder ipset = new StringBuilder();
        set(ipset, "KUBE-CLUSTER-IP", "hash:ip,port", clusterIp);
        set(ipset, "KUBE-EXTERNAL-IP", "hash:ip,port", externalIp);
        set(ipset, "KUBE-LOAD-BALANCER", "hash:ip,port", lb);
        set(ipset, "KUBE-LOAD-BALANCER-FW", "hash:ip,port", lbFw);
        set(ipset, "KUBE-LOAD-BALANCER-SOURCE-CIDR", "hash:ip,port,net", lbSrc);
        set(ipset, "KUBE-LOOP-BACK", "hash:ip,port,ip", loopBack);
        set(ipset, "KUBE-NODE-PORT-TCP", "bitmap:port range 0-65535", new TreeSet<>(npTcp));
        set(ipset, "KUBE-NODE-PORT-UDP", "bitmap:port range 0-65535", new TreeSet<>(npUdp));
        set(ipset, "KUBE-NODE-PORT-SCTP", "bitmap:port range 0-65535", new TreeSet<>(npSctp));

        StringBuilder addr = new StringBuilder();
        addr.append("link add ").append(IpvsOptions.INTERFACE).append(" type dummy\n");
        for (String a : addrs) {
            addr.append("address replace ").append(a).append("/32 dev ").append(IpvsOptions.INTERFACE).append('\n');
        }
        return new IpvsRendering(vs.toString(), ipset.toString(), glue(o), addr.toString(), v.rejected());
    }

    static String scheduler(ServicePort sp, IpvsOptions o) {
        String s = sp.lbAlgorithm().isEmpty() ? o.scheduler() : sp.lbAlgorithm();
        if (KERNEL_SCHEDULERS.contains(s)) return s;
        try {
            return switch (Algorithm.named(s)) {
                case P2C -> "lc";
                case RANDOM -> "rr";
                case MH -> "mh";
                default -> Algorithm.named(s).schedulerName();
            };
        } catch (RuntimeException e) {
            return o.scheduler();
        }
    }

    private static void set(StringBuilder b, String name, String type, Set<String> entries) {
        String tmp = name + "-T";
        String family = type.startsWith("bitmap") ? "" : " family inet hashsize 1024 maxelem 65536";
        b.append("create ").append(name).append(' ').append(type).append(family).append(" -exist\n");
        b.append("create ").append(tmp).append(' ').append(type).append(family).append(" -exist\n");
        b.append("flush ").append(tmp).append('\n');
        for (String e : entries) b.append("add ").append(tmp).append(' ').append(e).append('\n');
        // swap makes the new contents visible at once; the old contents leave with the temporary set
        b.append("swap ").append(tmp).append(' ').append(name).append('\n');
        b.append("destroy ").append(tmp).append('\n');
    }

    static String glue(IpvsOptions o) {
        String m = o.mark();
        Cidr cidr = null;
        for (Cidr c : o.clusterCidrs()) {
            if (!c.isIpv6()) { cidr = c; break; }
        }
        StringBuilder b = new StringBuilder();
        b.append("*filter\n:KUBE-PROXY-FIREWALL - [0:0]\n:KUBE-SOURCE-RANGES-FIREWALL - [0:0]\n:KUBE-FORWARD - [0:0]\n");
        b.append("-A KUBE-PROXY-FIREWALL -m comment --comment \"Kubernetes service load balancer ip + port for load balancer with sourceRange\" -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL\n");
        b.append("-A KUBE-SOURCE-RANGES-FIREWALL -m set --match-set KUBE-LOAD-BALANCER-SOURCE-CIDR dst,dst,src -j RETURN\n");
        b.append("-A KUBE-SOURCE-RANGES-FIREWALL -j DROP\n");
        b.append("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n");
        b.append("-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark ").append(m).append('/').append(m).append(" -j ACCEPT\n");
        b.append("-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n");
        b.append("COMMIT\n");
        b.append("*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-POSTROUTING - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-NODE-PORT - [0:0]\n:KUBE-LOAD-BALANCER - [0:0]\n");
        b.append("-A KUBE-POSTROUTING -m comment --comment \"Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose\" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE\n");
        b.append("-A KUBE-POSTROUTING -m mark ! --mark ").append(m).append('/').append(m).append(" -j RETURN\n");
        b.append("-A KUBE-POSTROUTING -j MARK --xor-mark ").append(m).append('\n');
        b.append("-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n");
        b.append("-A KUBE-MARK-MASQ -j MARK --or-mark ").append(m).append('\n');
        if (o.masqueradeAll()) {
            b.append("-A KUBE-SERVICES -m comment --comment \"Kubernetes service cluster ip + port for masquerade purpose\" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ\n");
        } else if (cidr != null) {
            b.append("-A KUBE-SERVICES -m comment --comment \"Kubernetes service cluster ip + port for masquerade purpose\" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s ").append(cidr).append(" -j KUBE-MARK-MASQ\n");
        }
        b.append("-A KUBE-SERVICES -m comment --comment \"Kubernetes service lb portal\" -m set --match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER\n");
        b.append("-A KUBE-SERVICES -m comment --comment \"Kubernetes service external ip + port for masquerade and filter purpose\" -m set --match-set KUBE-EXTERNAL-IP dst,dst -j KUBE-MARK-MASQ\n");
        b.append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT\n");
        b.append("-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT\n");
        b.append("-A KUBE-SERVICES -m set --match-set KUBE-LOAD-BALANCER dst,dst -j ACCEPT\n");
        b.append("-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ\n");
        for (String p : List.of("tcp", "udp", "sctp")) {
            b.append("-A KUBE-NODE-PORT -p ").append(p).append(" -m comment --comment \"Kubernetes nodeport ")
                    .append(p.toUpperCase(Locale.ROOT)).append(" port for masquerade purpose\" -m set --match-set KUBE-NODE-PORT-")
                    .append(p.toUpperCase(Locale.ROOT)).append(" dst -j KUBE-MARK-MASQ\n");
        }
        b.append("COMMIT\n");
        return b.toString();
    }

    private static boolean isV6(InetAddress a) {
        return a != null && a.getAddress().length == 16;
    }
}
