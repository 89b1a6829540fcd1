package dev.ferry.rules.nft;

import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.rules.nft.ServiceRules.Element;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Turns service ports into nftables transactions for Ferry's {@code ip} / {@code ip6} table, laid
 * out as kube-proxy's nftables mode: base chains hook into netfilter and dispatch through the
 * {@code service-ips} / {@code service-nodeports} verdict maps, {@code no-endpoint-*} maps reject,
 * {@code firewall-ips} enforces source ranges, {@code cluster-ips} rejects unknown ClusterIP ports;
 * most services then reach their endpoints through the shared {@link PickChains} and the endpoint
 * maps rather than chains of their own.
 * A full payload rewrites every chain and map in one transaction (never deleting the table, so
 * affinity sets and running connections are untouched); a partial payload carries only the changed
 * services' chains and map elements.
 *
 * <p>Before rendering, services are validated against each other: a frontend (address, protocol,
 * port) or NodePort already claimed by an earlier service (in name order) makes the later one
 * rejected, so one bad service never makes the kernel refuse the transaction. Not thread-safe
 * (callers own an instance per sync loop); the static {@link #render} is.
 */
public final class NftRenderer {
    /** Base chains: name → declaration. Priorities as kube-proxy (dstnat - 10 for the filters, etc.). */
    static final Map<String, String> BASE_CHAINS = new LinkedHashMap<>();
    static final List<String> REGULAR_CHAINS = List.of("services", "firewall-check", "service-endpoints-check",
            "nodeport-endpoints-check", "cluster-ips-check", ServiceChainRenderer.REJECT_CHAIN,
            ServiceChainRenderer.MARK_MASQ, "masquerading");

    static {
        BASE_CHAINS.put("filter-prerouting", "{ type filter hook prerouting priority -110 ; }");
        BASE_CHAINS.put("filter-input", "{ type filter hook input priority -110 ; }");
        BASE_CHAINS.put("filter-forward", "{ type filter hook forward priority -110 ; }");
        BASE_CHAINS.put("filter-output", "{ type filter hook output priority -110 ; }");
        BASE_CHAINS.put("filter-output-post-dnat", "{ type filter hook output priority -90 ; }");
        BASE_CHAINS.put("nat-prerouting", "{ type nat hook prerouting priority -100 ; }");
        BASE_CHAINS.put("nat-output", "{ type nat hook output priority -100 ; }");
        BASE_CHAINS.put("nat-postrouting", "{ type nat hook postrouting priority 100 ; }");
    }

    private final NftOptions options;

    public NftRenderer(NftOptions options) {
        this.options = options;
    }

    public NftOptions options() {
        return options;
    }

    /**
     * The full payload of both families for an empty kernel, as {@code ferry sync --dry-run --mode
     * nftables} prints it. Service ports that {@link dev.ferry.rules.ServicePortValidator} or the
     * map-entry check reject are left out.
     */
    public static String render(List<ServicePort> ports, NftOptions options) {
        NftRenderer r = new NftRenderer(options);
        List<ServicePort> accepted = dev.ferry.rules.ServicePortValidator.validate(ports).accepted();
        StringBuilder sb = new StringBuilder();
        for (NftFamily f : NftFamily.values()) {
            Validated v = r.validate(f, r.renderAll(accepted, f));
            sb.append(r.full(f, v, Set.of(), Set.of()).text());
        }
        return sb.toString();
    }

    /** Each service's rules in family f, in name order (no cross-service checks yet). */
    Map<ServicePortName, ServiceRules> renderAll(Collection<ServicePort> ports, NftFamily f) {
        Map<ServicePortName, ServiceRules> out = new TreeMap<>();
        for (ServicePort sp : ports) {
            ServiceRules r = ServiceChainRenderer.render(sp, f, options);
            if (r != null) {
                out.put(sp.name(), r);
            }
        }
        return out;
    }

    /** A service left out of the rules, with the reason. */
    public record Rejected(ServicePortName service, String reason) {}

    /** Services that can be programmed together, their shared map entries, and the ones that cannot. */
    record Validated(Map<ServicePortName, ServiceRules> services, Map<String, Claim> slots, List<Rejected> rejected) {}

    /** A shared map or set entry and the service that owns it. */
    record Claim(Element element, ServicePortName owner) {}

    /** Drops services whose map entries collide with an earlier service's (by name order) and indexes the rest. */
    Validated validate(NftFamily f, Map<ServicePortName, ServiceRules> rendered) {
        Map<ServicePortName, ServiceRules> ok = new TreeMap<>();
        Map<String, Claim> slots = new HashMap<>(rendered.size() * 4);
        List<Rejected> rejected = new ArrayList<>();
        for (ServiceRules r : rendered.values()) {
            String conflict = null;
            for (Element e : r.elements()) {
                if (e.value() == null) {
                    continue; // a set element (cluster-ips) may be shared by every port of a service
                }
                Claim c = slots.get(e.slot());
                if (c != null && !c.owner().equals(r.name())) {
                    conflict = f.table + " " + e.map() + " entry " + e.key() + " is already used by service " + c.owner();
                    break;
                }
            }
            if (conflict != null) {
                rejected.add(new Rejected(r.name(), conflict));
                continue;
            }
            ok.put(r.name(), r);
            for (Element e : r.elements()) {
                slots.putIfAbsent(e.slot(), new Claim(e, r.name()));
            }
        }
        return new Validated(ok, slots, rejected);
    }

    /**
     * The whole table in one transaction: creates what is missing, flushes and refills every chain
     * and map Ferry owns, and deletes chains and sets that exist in the kernel but are no longer
     * wanted. The table itself is never deleted.
     */
    NftPayload full(NftFamily f, Validated v, Set<String> existingChains, Set<String> existingSets) {
        NftPayload.Writer w = new NftPayload.Writer(true, 64 + v.services().size() * 24);
        full(w, f, v, existingChains, existingSets);
        return w.build();
    }

    void full(NftPayload.Writer w, NftFamily f, Validated v, Set<String> existingChains, Set<String> existingSets) {
        String t = f.table + " " + options.table();
        w.line(null, "add table ", t, " { comment \"rules for Ferry\" ; }");
        for (Map.Entry<String, String> c : BASE_CHAINS.entrySet()) {
            w.line(null, "add chain ", t, " ", c.getKey(), " ", c.getValue());
        }
        for (String c : REGULAR_CHAINS) {
            w.line(null, "add chain ", t, " ", c);
        }
        for (String c : BASE_CHAINS.keySet()) {
            if (existingChains.contains(c)) {
                w.line(null, "flush chain ", t, " ", c);
            }
        }
        for (String c : REGULAR_CHAINS) {
            if (existingChains.contains(c)) {
                w.line(null, "flush chain ", t, " ", c);
            }
        }
        Map<String, StaticSet> statics = staticSets(f);
        for (Map.Entry<String, StaticSet> s : statics.entrySet()) {
            w.line(null, "add ", s.getValue().kind(), " ", t, " ", s.getKey(), " ", s.getValue().declaration());
            if (existingSets.contains(s.getKey())) {
                w.line(null, "flush ", s.getValue().kind(), " ", t, " ", s.getKey());
            }
        }
        writeSkeletonRules(w, f, t);
        Set<String> picks = picks(v.services().values());
        for (String p : picks) {
            w.line(null, "add chain ", t, " ", p);
            if (existingChains.contains(p)) {
                w.line(null, "flush chain ", t, " ", p);
            }
        }
        for (String p : picks) {
            for (String rule : PickChains.rules(p, f, options)) {
                rule(w, t, p, rule);
            }
        }

        for (ServiceRules r : v.services().values()) {
            for (String chain : r.chains().keySet()) {
                w.line(r.name(), "add chain ", t, " ", chain);
                if (existingChains.contains(chain)) {
                    w.line(r.name(), "flush chain ", t, " ", chain);
                }
            }
            for (Map.Entry<String, String> s : r.sets().entrySet()) {
                w.line(r.name(), "add set ", t, " ", s.getKey(), " ", s.getValue());
            }
        }
        for (ServiceRules r : v.services().values()) {
            writeRules(w, t, r);
        }
        for (Claim c : sortedClaims(v.slots())) {
            writeElement(w, "add", t, c);
        }
        if (!existingChains.isEmpty() || !existingSets.isEmpty()) {
            Set<String> wantedChains = new HashSet<>(picks);
            Set<String> wantedSets = new HashSet<>(statics.keySet());
            for (ServiceRules r : v.services().values()) {
                wantedChains.addAll(r.chains().keySet());
                wantedSets.addAll(r.sets().keySet());
            }
            List<String> stale = new ArrayList<>();
            for (String c : sorted(existingChains)) {
                if (!BASE_CHAINS.containsKey(c) && !REGULAR_CHAINS.contains(c) && !wantedChains.contains(c)) {
                    stale.add(c);
                }
            }
            // Stale chains may jump to each other: empty them all before deleting any.
            for (String c : stale) {
                w.line(null, "flush chain ", t, " ", c);
            }
            for (String c : stale) {
                w.line(null, "delete chain ", t, " ", c);
            }
            for (String s : sorted(existingSets)) {
                if (!wantedSets.contains(s)) {
                    w.line(null, "delete set ", t, " ", s);
                }
            }
        }
    }

    /**
     * Only what changed between two validated states: changed services' chains rewritten (new ones
     * added, stale ones deleted), affinity sets added/deleted, and map entries whose value changed.
     */
    NftPayload partial(NftFamily f, Validated before, Validated after) {
        NftPayload.Writer w = new NftPayload.Writer(false, 64);
        partial(w, f, before, after, picks(before.services().values()));
        return w.build();
    }

    /**
     * As {@link #partial(NftFamily, Validated, Validated)}, where knownPicks are the pick chains the
     * kernel has (a partial sync never deletes one; the next full sync removes unused ones). Returns
     * the pick chains this payload creates.
     */
    Set<String> partial(NftPayload.Writer w, NftFamily f, Validated before, Validated after, Set<String> knownPicks) {
        String t = f.table + " " + options.table();
        List<ServiceRules[]> changed = new ArrayList<>();
        for (Map.Entry<ServicePortName, ServiceRules> e : after.services().entrySet()) {
            ServiceRules old = before.services().get(e.getKey());
            if (!e.getValue().equals(old)) {
                changed.add(new ServiceRules[] {old, e.getValue()});
            }
        }
        for (Map.Entry<ServicePortName, ServiceRules> e : before.services().entrySet()) {
            if (!after.services().containsKey(e.getKey())) {
                changed.add(new ServiceRules[] {e.getValue(), null});
            }
        }
        // 1. new chains and sets, flush changed chains
        for (ServiceRules[] c : changed) {
            ServiceRules old = c[0];
            ServiceRules now = c[1];
            if (now == null) {
                continue;
            }
            for (Map.Entry<String, List<String>> chain : now.chains().entrySet()) {
                List<String> was = old == null ? null : old.chains().get(chain.getKey());
                if (was == null) {
                    w.line(now.name(), "add chain ", t, " ", chain.getKey());
                } else if (!was.equals(chain.getValue())) {
                    w.line(now.name(), "flush chain ", t, " ", chain.getKey());
                }
            }
            for (Map.Entry<String, String> s : now.sets().entrySet()) {
                if (old == null || !s.getValue().equals(old.sets().get(s.getKey()))) {
                    w.line(now.name(), "add set ", t, " ", s.getKey(), " ", s.getValue());
                }
            }
        }
        // pick chains the changed services need and the kernel may lack: created (or refilled) before
        // any map entry jumps to them
        Set<String> created = new java.util.TreeSet<>();
        for (ServiceRules[] c : changed) {
            if (c[1] != null) {
                for (String p : c[1].picks()) {
                    if (!knownPicks.contains(p)) {
                        created.add(p);
                    }
                }
            }
        }
        for (String p : created) {
            w.line(null, "add chain ", t, " ", p);
            w.line(null, "flush chain ", t, " ", p);
            for (String rule : PickChains.rules(p, f, options)) {
                rule(w, t, p, rule);
            }
        }
        // 2. rules of those chains
        for (ServiceRules[] c : changed) {
            ServiceRules old = c[0];
            ServiceRules now = c[1];
            if (now == null) {
                continue;
            }
            for (Map.Entry<String, List<String>> chain : now.chains().entrySet()) {
                List<String> was = old == null ? null : old.chains().get(chain.getKey());
                if (!chain.getValue().equals(was)) {
                    for (String rule : chain.getValue()) {
                        w.line(now.name(), "add rule ", t, " ", chain.getKey(), " ", rule);
                    }
                }
            }
        }
        // 3. map entries: delete what went away or changed value, then add the new ones
        Map<String, Claim> gone = new HashMap<>();
        for (Claim c : before.slots().values()) {
            Claim now = after.slots().get(c.element().slot());
            if (now == null || !now.element().equals(c.element())) {
                gone.put(c.element().slot(), c);
            }
        }
        Map<String, Claim> added = new HashMap<>();
        for (Claim c : after.slots().values()) {
            Claim was = before.slots().get(c.element().slot());
            if (was == null || !was.element().equals(c.element())) {
                added.put(c.element().slot(), c);
            }
        }
        for (Claim c : sortedClaims(gone)) {
            writeElement(w, "delete", t, c);
        }
        for (Claim c : sortedClaims(added)) {
            writeElement(w, "add", t, c);
        }
        // 4. chains and sets nothing refers to any more; emptied first, as they may jump to each other
        List<ServicePortName> goneOwners = new ArrayList<>();
        List<String> goneChains = new ArrayList<>();
        for (ServiceRules[] c : changed) {
            ServiceRules old = c[0];
            ServiceRules now = c[1];
            if (old == null) {
                continue;
            }
            for (Map.Entry<String, List<String>> chain : old.chains().entrySet()) {
                if (now == null || !now.chains().containsKey(chain.getKey())) {
                    // Only external chains jump to other per-service chains; the rest only to fixed ones.
                    if (!chain.getValue().isEmpty() && chain.getKey().startsWith("external-")) {
                        w.line(old.name(), "flush chain ", t, " ", chain.getKey());
                    }
                    goneOwners.add(old.name());
                    goneChains.add(chain.getKey());
                }
            }
        }
        for (int i = 0; i < goneChains.size(); i++) {
            w.line(goneOwners.get(i), "delete chain ", t, " ", goneChains.get(i));
        }
        for (ServiceRules[] c : changed) {
            ServiceRules old = c[0];
            ServiceRules now = c[1];
            if (old == null) {
                continue;
            }
            for (String set : old.sets().keySet()) {
                if (now == null || !now.sets().containsKey(set)) {
                    w.line(old.name(), "delete set ", t, " ", set);
                }
            }
        }
        return created;
    }

    /** The pick chains the given services jump to, in name order. */
    static Set<String> picks(Collection<ServiceRules> services) {
        Set<String> out = new java.util.TreeSet<>();
        for (ServiceRules r : services) {
            out.addAll(r.picks());
        }
        return out;
    }

    private static void writeRules(NftPayload.Writer w, String t, ServiceRules r) {
        for (Map.Entry<String, List<String>> chain : r.chains().entrySet()) {
            for (String rule : chain.getValue()) {
                w.line(r.name(), "add rule ", t, " ", chain.getKey(), " ", rule);
            }
        }
    }

    /**
     * An added entry carries its owner's name as a comment, as kube-proxy's do: with no chain of its
     * own, a service is found in {@code nft list} (and {@code ferry dump rules NS/NAME}) by it.
     */
    private static void writeElement(NftPayload.Writer w, String op, String t, Claim c) {
        Element e = c.element();
        if ("delete".equals(op)) {
            w.line(c.owner(), op, " element ", t, " ", e.map(), " { ", e.key(), " }");
            return;
        }
        String comment = " comment \"" + ChainNames.comment(c.owner()) + "\"";
        if (e.value() == null) {
            w.line(c.owner(), op, " element ", t, " ", e.map(), " { ", e.key(), comment, " }");
        } else {
            w.line(c.owner(), op, " element ", t, " ", e.map(), " { ", e.key(), comment, " : ", e.value(), " }");
        }
    }

    /** A set or map of the skeleton. */
    record StaticSet(String kind, String declaration) {}

    /** Sets and maps of the skeleton: name → declaration. */
    Map<String, StaticSet> staticSets(NftFamily f) {
        Map<String, StaticSet> m = new LinkedHashMap<>();
        String a = f.addrType;
        String addrKey = "{ type " + a + " . inet_proto . inet_service : verdict ; }";
        String portKey = "{ type inet_proto . inet_service : verdict ; }";
        m.put(ServiceChainRenderer.CLUSTER_IPS, new StaticSet("set", "{ type " + a + " ; comment \"active ClusterIPs\" ; }"));
        if (options.clusterCidrs(f).size() > 1) {
            m.put(ServiceChainRenderer.CLUSTER_CIDRS, new StaticSet("set", "{ type " + a + " ; flags interval ; comment \"clusterCIDRs\" ; }"));
        }
        if (!options.nodePortAddresses(f).isEmpty()) {
            m.put("nodeport-ips", new StaticSet("set", "{ type " + a + " ; flags interval ; comment \"nodePortAddresses\" ; }"));
        }
        m.put(ServiceChainRenderer.NO_ENDPOINT_SERVICES, new StaticSet("map", addrKey));
        m.put(ServiceChainRenderer.NO_ENDPOINT_NODEPORTS, new StaticSet("map", portKey));
        m.put(ServiceChainRenderer.FIREWALL_IPS, new StaticSet("map", addrKey));
        m.put(ServiceChainRenderer.SERVICE_IPS, new StaticSet("map", addrKey));
        m.put(ServiceChainRenderer.SERVICE_NODEPORTS, new StaticSet("map", portKey));
        for (String p : PickChains.PROTOCOLS) {
            m.put(PickChains.serviceEndpoints(p), new StaticSet("map", PickChains.serviceEndpointsDeclaration(f, p)));
            m.put(PickChains.nodePortEndpoints(p), new StaticSet("map", PickChains.nodePortEndpointsDeclaration(f, p)));
        }
        m.put(PickChains.SERVICE_HAIRPIN, new StaticSet("set", PickChains.hairpinDeclaration(f)));
        return m;
    }

    private void writeSkeletonRules(NftPayload.Writer w, NftFamily f, String t) {
        String h = f.header;
        String mark = "0x" + Integer.toHexString(options.masqueradeBit());
        // As kube-proxy's nftables mode: never NodePorts on loopback (no route_localnet here), even when
        // nodePortAddresses lists it.
        String nodePortMatch = options.nodePortAddresses(f).isEmpty()
                ? "fib daddr type local " + h + " daddr != " + f.loopback
                : "fib daddr type local " + h + " daddr != " + f.loopback + " " + h + " daddr @nodeport-ips";
        rule(w, t, "filter-prerouting", "ct state new jump firewall-check");
        rule(w, t, "filter-input", "ct state new jump nodeport-endpoints-check");
        rule(w, t, "filter-input", "ct state new jump service-endpoints-check");
        rule(w, t, "filter-forward", "ct state new jump service-endpoints-check");
        rule(w, t, "filter-forward", "ct state new jump cluster-ips-check");
        rule(w, t, "filter-output", "ct state new jump service-endpoints-check");
        rule(w, t, "filter-output", "ct state new jump firewall-check");
        rule(w, t, "filter-output-post-dnat", "ct state new jump cluster-ips-check");
        rule(w, t, "nat-prerouting", "jump services");
        rule(w, t, "nat-output", "jump services");
        rule(w, t, "nat-postrouting", "jump masquerading");
        rule(w, t, "services", h + " daddr . meta l4proto . th dport vmap @service-ips");
        rule(w, t, "services", nodePortMatch + " meta l4proto . th dport vmap @service-nodeports");
        rule(w, t, "firewall-check", h + " daddr . meta l4proto . th dport vmap @firewall-ips");
        rule(w, t, "service-endpoints-check", h + " daddr . meta l4proto . th dport vmap @no-endpoint-services");
        rule(w, t, "nodeport-endpoints-check", nodePortMatch + " meta l4proto . th dport vmap @no-endpoint-nodeports");
        rule(w, t, "cluster-ips-check", h + " daddr @cluster-ips reject");
        List<dev.ferry.model.Cidr> serviceCidrs = options.serviceCidrs(f);
        if (!serviceCidrs.isEmpty()) {
            // an address of the service range that no service holds: dropped, as kube-proxy does, instead
            // of being routed towards whatever the default route leads to
            rule(w, t, "cluster-ips-check", h + " daddr " + ServiceChainRenderer.cidrSet(serviceCidrs)
                    + " drop comment \"drop traffic to unallocated ClusterIPs\"");
        }
        rule(w, t, ServiceChainRenderer.REJECT_CHAIN, "reject");
        rule(w, t, ServiceChainRenderer.MARK_MASQ, "meta mark set meta mark | " + mark);
        for (String hairpin : PickChains.hairpinRules(f)) {
            rule(w, t, "masquerading", hairpin);
        }
        rule(w, t, "masquerading", "meta mark & " + mark + " == 0 return");
        rule(w, t, "masquerading", "meta mark set meta mark ^ " + mark);
        rule(w, t, "masquerading", "masquerade fully-random");
        if (options.clusterCidrs(f).size() > 1) {
            w.line(null, "add element ", t, " ", ServiceChainRenderer.CLUSTER_CIDRS, " ",
                    ServiceChainRenderer.cidrSet(options.clusterCidrs(f)));
        }
        dev.ferry.model.Cidr loopback = dev.ferry.model.Cidr.parse(f.loopback);
        List<dev.ferry.model.Cidr> npa = options.nodePortAddresses(f).stream()
                .filter(c -> !(loopback.contains(c.address()) && c.prefixLength() >= loopback.prefixLength())).toList();
        if (!npa.isEmpty()) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < npa.size(); i++) {
                sb.append(i > 0 ? ", " : "").append(npa.get(i));
            }
            w.line(null, "add element ", t, " nodeport-ips { ", sb.toString(), " }");
        }
    }

    private static void rule(NftPayload.Writer w, String t, String chain, String rule) {
        w.line(null, "add rule ", t, " ", chain, " ", rule);
    }

    private static List<Claim> sortedClaims(Map<String, Claim> slots) {
        // by owner, then by slot: the map's key, so the slot string is not rebuilt at every comparison
        List<Map.Entry<String, Claim>> l = new ArrayList<>(slots.entrySet());
        l.sort(Comparator.comparing((Map.Entry<String, Claim> e) -> e.getValue().owner()).thenComparing(Map.Entry::getKey));
        List<Claim> out = new ArrayList<>(l.size());
        for (Map.Entry<String, Claim> e : l) {
            out.add(e.getValue());
        }
        return out;
    }

    private static List<String> sorted(Set<String> s) {
        List<String> l = new ArrayList<>(s);
        l.sort(null);
        return l;
    }
}
