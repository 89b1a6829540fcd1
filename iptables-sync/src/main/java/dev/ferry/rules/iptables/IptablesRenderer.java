package dev.ferry.rules.iptables;

import dev.ferry.model.Rejection;
import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.ServicePort;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import dev.ferry.rules.ServicePortValidator;
import dev.ferry.select.TrafficVerdicts;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Renders service ports as one iptables-restore payload (tables filter and nat) in kube-proxy's
 * chain layout and rule order: KUBE-SERVICES → KUBE-SVC-* (cluster policy) / KUBE-SVL-* (local
 * policy) → KUBE-SEP-* (DNAT), KUBE-EXT-* for NodePort/externalIP/LB traffic, KUBE-FW-* for
 * loadBalancerSourceRanges, REJECT/DROP for ports without (local) endpoints in the filter table.
 * Endpoint choice is the endpoints' selection flags (clusterTraffic for ClusterIP traffic,
 * externalTraffic for external frontends), so the kernel agrees with the userspace proxy.
 *
 * <p>Partial rendering (kube-proxy's MinimizeIPTablesRestore): given the chain hashes of the last
 * applied rendering, only chains whose content changed are declared and written (a declared chain
 * is flushed by iptables-restore --noflush, an undeclared one is left alone), and service chains
 * that disappeared are flushed and deleted with -X at the end, after nothing refers to them.
 *
 * <p>Stateless and thread-safe; the caller keeps the hashes between syncs.
 */
public final class IptablesRenderer {
    private static final String[] PROBABILITIES = new String[1025];

    private IptablesRenderer() {}

    /** Validates ports and renders the full payload for opts' family (what `ferry sync --dry-run` prints). */
    public static String render(Collection<ServicePort> ports, RenderOptions opts) {
        return render(ports, opts, Map.of(), true).payload();
    }

    /**
     * Validates ports and renders them. previous are the chain hashes of the last applied rendering
     * (empty at start-up: then only chains seeded there as "known to exist" are candidates for
     * deletion); full writes every chain regardless of previous.
     */
    public static Rendering render(Collection<ServicePort> ports, RenderOptions opts, Map<String, Long> previous,
                                   boolean full) {
        return render(ports, opts, previous, full, null);
    }

    /**
     * As {@link #render(Collection, RenderOptions, Map, boolean)}, reusing cache for service ports that
     * are equal to their last rendering and whose chains are unchanged in previous (partial renders
     * only); cache is updated to this rendering. cache may be null.
     */
    public static Rendering render(Collection<ServicePort> ports, RenderOptions opts, Map<String, Long> previous,
                                   boolean full, RenderCache cache) {
        // A port that is the very object accepted last time needs no per-port re-check (names, ranges);
        // the cross-service frontend claims are still taken for every port.
        Map<dev.ferry.model.ServicePortName, RenderCache.Entry> known =
                cache != null && opts.equals(cache.options) ? cache.entries : Map.of();
        ServicePortValidator.Result v = ServicePortValidator.validate(ports, sp -> {
            RenderCache.Entry e = known.get(sp.name());
            return e != null && e.port() == sp;
        });
        return new Pass(opts, previous, full, cache).run(v.accepted(), v.rejected());
    }

    /** One rendering; not shared between threads. */
    private static final class Pass {
        final RenderOptions o;
        final Map<String, Long> previous;
        final boolean full;
        final String family;
        final Cidr clusterCidr;
        final String mark;
        final Map<String, Long> hashes;
        /** previous is exactly the chain map this cache's last rendering produced: its entries need no re-check. */
        final boolean previousIsCachedRendering;
        /** Keys of this rendering found in previous; equal to previous.size() means no chain went stale. */
        int keptKeys;
        /** Cached entries carried into this rendering (reused or re-rendered), and the re-rendered ones. */
        int seenOld;
        final List<RenderCache.Entry> replaced = new ArrayList<>();
        /**
         * Some service's lines in the top-level chains (KUBE-SERVICES, KUBE-NODEPORTS, the filter
         * chains) may differ from the previous rendering: a service came, went, or was re-rendered with
         * other top-level lines. While false, those chains equal previous's, hashes included.
         */
        boolean topChanged;
        final List<String> written = new ArrayList<>();
        final List<String> deleted = new ArrayList<>();
        // per table: declarations of top-level chains, of service chains, and the rules
        final StringBuilder filterTopDecls = new StringBuilder(), filterRules = new StringBuilder();
        final StringBuilder natTopDecls = new StringBuilder(), natDecls = new StringBuilder(1 << 16);
        final StringBuilder natRules = new StringBuilder(1 << 20);
        // top-level chain contents, filled while walking the services
        final StringBuilder fServices = new StringBuilder(), fExternal = new StringBuilder(),
                fNodePorts = new StringBuilder(), fFirewall = new StringBuilder();
        final StringBuilder nServices = new StringBuilder(1 << 16), nNodePorts = new StringBuilder();
        final StringBuilder chain = new StringBuilder(1024);
        final RenderCache cache;
        final Map<dev.ferry.model.ServicePortName, RenderCache.Entry> oldEntries;
        final Map<dev.ferry.model.ServicePortName, RenderCache.Entry> newEntries;
        // chains emitted for the service being rendered (recorded into its cache entry)
        final List<String> svcKeys = new ArrayList<>();
        long[] svcHashes = new long[16];
        boolean recording;

        Pass(RenderOptions o, Map<String, Long> previous, boolean full, RenderCache cache) {
            this.cache = cache;
            this.oldEntries = cache != null && o.equals(cache.options) ? cache.entries : Map.of();
            this.newEntries = cache != null ? new HashMap<>(Math.max(16, oldEntries.size() * 4 / 3 + 16)) : null;
            this.o = o;
            this.previous = previous == null ? Map.of() : previous;
            // sized for the previous rendering's chains: growing a 60 000-entry map by doubling rehashes it 12 times
            this.hashes = new HashMap<>(Math.max(64, this.previous.size() * 4 / 3 + 64));
            this.previousIsCachedRendering = cache != null && previous != null && previous == cache.rendered
                    && !oldEntries.isEmpty();
            this.topChanged = full || !previousIsCachedRendering;
            this.full = full;
            this.family = o.ipv6() ? "ipv6" : "ipv4";
            this.clusterCidr = o.clusterCidr();
            this.mark = o.masqueradeMark();
        }

        Rendering run(List<ServicePort> ports, List<Rejection> rejected) {
            natStatic();
            for (ServicePort sp : ports) {
                service(sp);
            }
            topChanged |= seenOld != oldEntries.size(); // a cached service is gone
            filterStatic();
            // KUBE-SERVICES ends with the jump to KUBE-NODEPORTS: "this must be the last rule in this chain"
            nodePortsTail();
            emit(false, true, ChainNames.SERVICES, nServices);
            emit(false, true, ChainNames.NODEPORTS, nNodePorts);
            staleChains();

            StringBuilder out = new StringBuilder(filterRules.length() + natDecls.length() + natRules.length() + 4096);
            if (filterRules.length() > 0 || filterTopDecls.length() > 0) {
                out.append("*filter\n").append(filterTopDecls).append(filterRules).append("COMMIT\n");
            }
            if (natRules.length() > 0 || natDecls.length() > 0 || natTopDecls.length() > 0) {
                out.append("*nat\n").append(natTopDecls).append(natDecls).append(natRules).append("COMMIT\n");
            }
            int n = 0;
            for (int i = 0; i < out.length(); i++) {
                if (out.charAt(i) == '\n') n++;
            }
            Rendering r = new Rendering(out.toString(), hashes, written, deleted, n, rejected);
            if (cache != null) {
                cache.entries = newEntries;
                cache.options = o;
                cache.rendered = r.chainHashes();
            }
            return r;
        }

        // ---- static chains ------------------------------------------------------------------

        void natStatic() {
            StringBuilder c = chain;
            c.setLength(0);
            c.append("-A KUBE-POSTROUTING -m mark ! --mark ").append(mark).append('/').append(mark).append(" -j RETURN\n");
            c.append("-A KUBE-POSTROUTING -j MARK --xor-mark ").append(mark).append('\n');
            c.append("-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n");
            emit(false, true, ChainNames.POSTROUTING, c);
            c.setLength(0);
            c.append("-A KUBE-MARK-MASQ -j MARK --or-mark ").append(mark).append('\n');
            emit(false, true, ChainNames.MARK_MASQ, c);
        }

        void filterStatic() {
            emit(true, true, ChainNames.NODEPORTS, fNodePorts);
            emit(true, true, ChainNames.SERVICES, fServices);
            emit(true, true, ChainNames.EXTERNAL_SERVICES, fExternal);
            StringBuilder c = chain;
            c.setLength(0);
            if (o.servesLocalhostNodePorts()) {
                // route_localnet=1 lets any host route 127.0.0.0/8 to this node: accept such packets only as
                // the DNAT'd NodePort connections they become, as kube-proxy does.
                c.append("-A KUBE-FIREWALL -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8")
                        .append(" ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n");
            }
            emit(true, true, ChainNames.KUBELET_FIREWALL, c);
            c.setLength(0);
            c.append("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n");
            c.append("-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark ")
                    .append(mark).append('/').append(mark).append(" -j ACCEPT\n");
            c.append("-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n");
            emit(true, true, ChainNames.FORWARD, c);
            emit(true, true, ChainNames.PROXY_FIREWALL, fFirewall);
        }

        void nodePortsTail() {
            List<Cidr> cidrs = o.nodePortCidrs();
            boolean localhost = o.servesLocalhostNodePorts();
            String loopback = o.ipv6() ? "::1/128" : "127.0.0.0/8";
            String comment = " -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\"";
            if (cidrs.isEmpty()) {
                nServices.append("-A KUBE-SERVICES").append(comment).append(" -m addrtype --dst-type LOCAL");
                if (!localhost) {
                    // without route_localnet a DNAT'd loopback connection hangs: leave localhost alone
                    nServices.append(" ! -d ").append(loopback);
                }
                nServices.append(" -j KUBE-NODEPORTS\n");
            } else {
                Cidr lo = Cidr.parse(loopback);
                for (Cidr c : cidrs) {
                    boolean onlyLoopback = lo.contains(c.address()) && c.prefixLength() >= lo.prefixLength();
                    if (onlyLoopback && !localhost) {
                        continue; // kube-proxy ignores loopback nodePortAddresses without localhostNodePorts (always for IPv6)
                    }
                    if (!localhost && c.contains(lo.address())) {
                        // a wider CIDR holding loopback: loopback destinations stop here, before the jump
                        nServices.append("-A KUBE-SERVICES -m comment --comment \"localhost is not a NodePort address\" -d ")
                                .append(loopback).append(" -j RETURN\n");
                    }
                    // kube-proxy matches the node's addresses inside these CIDRs; "in the CIDR and local" is the
                    // same set without enumerating interfaces (which a namespaced node would not see from here).
                    nServices.append("-A KUBE-SERVICES").append(comment).append(" -d ").append(c)
                            .append(" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n");
                }
            }
        }

        // ---- one service port ---------------------------------------------------------------

        void service(ServicePort sp) {
            InetAddress clusterIP = firstOfFamily(sp.clusterIPs());
            if (clusterIP == null || sp.headless() || sp.frontends().isEmpty()) {
                return; // not served in this family (kube-proxy runs one proxier per family likewise)
            }
            RenderCache.Entry old = oldEntries.get(sp.name());
            if (!full && old != null && unchanged(old, sp)) {
                reuse(old);
                return;
            }
            int ns0 = nServices.length(), np0 = nNodePorts.length(), fs0 = fServices.length(),
                    fe0 = fExternal.length(), fn0 = fNodePorts.length(), ff0 = fFirewall.length();
            svcKeys.clear();
            recording = true;
            renderService(sp, clusterIP);
            recording = false;
            if (newEntries != null) {
                String[] keys = svcKeys.toArray(new String[0]);
                long[] hs = java.util.Arrays.copyOf(svcHashes, keys.length);
                RenderCache.Entry e = new RenderCache.Entry(sp, nServices.substring(ns0), nNodePorts.substring(np0),
                        fServices.substring(fs0), fExternal.substring(fe0), fNodePorts.substring(fn0),
                        fFirewall.substring(ff0), keys, hs);
                if (newEntries.put(sp.name(), e) != null || old == null) {
                    topChanged = true; // a new service (or a name twice in the input)
                } else {
                    seenOld++;
                    replaced.add(old);
                    topChanged |= !sameTopLines(old, e);
                }
            } else {
                topChanged = true;
            }
        }

        /** The service is as last rendered and every chain of it is in the kernel with that content. */
        boolean unchanged(RenderCache.Entry e, ServicePort sp) {
            if (e.port() != sp && !e.port().equals(sp)) return false;
            if (previousIsCachedRendering) {
                return true; // previous holds exactly the hashes this entry was recorded with
            }
            String[] keys = e.chainKeys();
            long[] hs = e.chainHashes();
            for (int i = 0; i < keys.length; i++) {
                Long p = previous.get(keys[i]);
                if (p == null || p != hs[i]) return false;
            }
            return true;
        }

        void reuse(RenderCache.Entry e) {
            nServices.append(e.natServices());
            nNodePorts.append(e.natNodePorts());
            fServices.append(e.filterServices());
            fExternal.append(e.filterExternal());
            fNodePorts.append(e.filterNodePorts());
            fFirewall.append(e.filterFirewall());
            String[] keys = e.chainKeys();
            long[] hs = e.chainHashes();
            for (int i = 0; i < keys.length; i++) {
                if (hashes.put(keys[i], hs[i]) == null) {
                    keptKeys++; // unchanged() saw every key of a reused entry in previous
                }
            }
            if (newEntries.put(e.port().name(), e) == null) {
                seenOld++;
            } else {
                topChanged = true;
            }
        }

        static boolean sameTopLines(RenderCache.Entry a, RenderCache.Entry b) {
            return a.natServices().equals(b.natServices()) && a.natNodePorts().equals(b.natNodePorts())
                    && a.filterServices().equals(b.filterServices()) && a.filterExternal().equals(b.filterExternal())
                    && a.filterNodePorts().equals(b.filterNodePorts()) && a.filterFirewall().equals(b.filterFirewall());
        }

        void renderService(ServicePort sp, InetAddress clusterIP) {
            String name = sp.name().toString();
            String proto = sp.name().protocol().name().toLowerCase(Locale.ROOT);
            String svcChain = ChainNames.service(name, proto);
            String svlChain = ChainNames.serviceLocal(name, proto);
            String extChain = ChainNames.external(name, proto);
            String fwChain = ChainNames.firewall(name, proto);
            String port = Integer.toString(sp.port());
            String match = " -m " + proto + " -p " + proto;

            List<Endpoint> internal = new ArrayList<>();
            List<Endpoint> external = new ArrayList<>();
            boolean anyUsable = false;
            for (Endpoint e : sp.endpoints()) {
                if (isV6(e.address()) != o.ipv6()) continue;
                if (e.clusterTraffic()) internal.add(e);
                if (e.externalTraffic()) external.add(e);
                anyUsable |= TrafficVerdicts.usable(e) || e.clusterTraffic() || e.externalTraffic();
            }
            Comparator<Endpoint> byHostPort = Comparator.comparing(Endpoint::hostPort);
            internal.sort(byHostPort);
            external.sort(byHostPort);
            List<InetAddress> externalIPs = ofFamily(sp.externalIPs());
            List<InetAddress> lbIPs = ofFamily(sp.loadBalancerIPs());
            List<Cidr> ranges = new ArrayList<>();
            for (Cidr c : sp.loadBalancerSourceRanges()) {
                if (c.isIpv6() == o.ipv6()) ranges.add(c);
            }
            boolean internalLocal = sp.internalTrafficPolicy() == TrafficPolicy.LOCAL;
            boolean externallyAccessible = sp.nodePort() != 0 || !externalIPs.isEmpty() || !lbIPs.isEmpty();
            boolean externalLocal = externallyAccessible && sp.externalTrafficPolicy() == TrafficPolicy.LOCAL;
            boolean hasEndpoints = anyUsable;
            boolean hasInternal = !internal.isEmpty();
            boolean hasExternal = !external.isEmpty();
            String internalChain = internalLocal ? svlChain : svcChain;
            String externalPolicyChain = externalLocal ? svlChain : svcChain;
            boolean usesExt = hasEndpoints && externallyAccessible;
            boolean usesFw = hasEndpoints && !lbIPs.isEmpty() && !ranges.isEmpty();
            String lbChain = usesFw ? fwChain : extChain;

            String internalFilterTarget = null, internalFilterComment = null;
            String externalFilterTarget = null, externalFilterComment = null;
            TrafficVerdicts.Block internalBlock = TrafficVerdicts.whenNoEndpoint(hasEndpoints, hasInternal);
            TrafficVerdicts.Block externalBlock = TrafficVerdicts.whenNoEndpoint(hasEndpoints, hasExternal);
            if (internalBlock != TrafficVerdicts.Block.NONE) {
                internalFilterTarget = internalBlock.name();
                internalFilterComment = blockComment(name, internalBlock);
            }
            if (externalBlock != TrafficVerdicts.Block.NONE) {
                externalFilterTarget = externalBlock.name();
                externalFilterComment = blockComment(name, externalBlock);
            }
            String cip = IpAddresses.format(clusterIP);

            // cluster IP
            if (hasInternal) {
                nServices.append("-A KUBE-SERVICES -m comment --comment \"").append(name).append(" cluster IP\"")
                        .append(match).append(" -d ").append(cip).append(" --dport ").append(port)
                        .append(" -j ").append(internalChain).append('\n');
            } else {
                fServices.append("-A KUBE-SERVICES -m comment --comment ").append(internalFilterComment).append(match)
                        .append(" -d ").append(cip).append(" --dport ").append(port).append(" -j ")
                        .append(internalFilterTarget).append('\n');
            }
            // external IPs
            for (InetAddress ip : externalIPs) {
                String a = IpAddresses.format(ip);
                if (hasEndpoints) {
                    nServices.append("-A KUBE-SERVICES -m comment --comment \"").append(name).append(" external IP\"")
                            .append(match).append(" -d ").append(a).append(" --dport ").append(port)
                            .append(" -j ").append(extChain).append('\n');
                }
                if (!hasExternal) {
                    fExternal.append("-A KUBE-EXTERNAL-SERVICES -m comment --comment ").append(externalFilterComment)
                            .append(match).append(" -d ").append(a).append(" --dport ").append(port).append(" -j ")
                            .append(externalFilterTarget).append('\n');
                }
            }
            // load-balancer IPs
            for (InetAddress ip : lbIPs) {
                String a = IpAddresses.format(ip);
                if (hasEndpoints) {
                    nServices.append("-A KUBE-SERVICES -m comment --comment \"").append(name).append(" loadbalancer IP\"")
                            .append(match).append(" -d ").append(a).append(" --dport ").append(port)
                            .append(" -j ").append(lbChain).append('\n');
                }
                if (usesFw) {
                    fFirewall.append("-A KUBE-PROXY-FIREWALL -m comment --comment \"").append(name)
                            .append(" traffic not accepted by ").append(fwChain).append('"').append(match)
                            .append(" -d ").append(a).append(" --dport ").append(port).append(" -j DROP\n");
                }
            }
            if (!hasExternal) {
                for (InetAddress ip : lbIPs) {
                    fExternal.append("-A KUBE-EXTERNAL-SERVICES -m comment --comment ").append(externalFilterComment)
                            .append(match).append(" -d ").append(IpAddresses.format(ip)).append(" --dport ").append(port)
                            .append(" -j ").append(externalFilterTarget).append('\n');
                }
            }
            // node port
            if (sp.nodePort() != 0) {
                String np = Integer.toString(sp.nodePort());
                if (hasEndpoints) {
                    nNodePorts.append("-A KUBE-NODEPORTS -m comment --comment ").append(name).append(match)
                            .append(" --dport ").append(np).append(" -j ").append(extChain).append('\n');
                }
                if (!hasExternal) {
                    fExternal.append("-A KUBE-EXTERNAL-SERVICES -m comment --comment ").append(externalFilterComment)
                            .append(" -m addrtype --dst-type LOCAL").append(match).append(" --dport ").append(np)
                            .append(" -j ").append(externalFilterTarget).append('\n');
                }
            }
            if (sp.healthCheckNodePort() != 0) {
                fNodePorts.append("-A KUBE-NODEPORTS -m comment --comment \"").append(name)
                        .append(" health check node port\" -m tcp -p tcp --dport ").append(sp.healthCheckNodePort())
                        .append(" -j ACCEPT\n");
            }

            // SEP chain names: one SHA-256 per endpoint per render
            java.util.Map<String, String> sepNames = new HashMap<>();
            for (Endpoint e : internal) sepNames.computeIfAbsent(e.hostPort(), hp -> ChainNames.endpoint(name, proto, hp));
            for (Endpoint e : external) sepNames.computeIfAbsent(e.hostPort(), hp -> ChainNames.endpoint(name, proto, hp));
            // SVC / SVL chains: which endpoints each holds (see the class comment on selection flags)
            List<Endpoint> svcEps = internalLocal ? (externallyAccessible && !externalLocal ? external : List.of()) : internal;
            List<Endpoint> svlEps = internalLocal ? internal : (externalLocal ? external : List.of());
            StringBuilder c = chain;
            // masquerade rule for cluster IP traffic lives in the internal traffic chain
            String masqArgs = null;
            if (hasInternal && (o.masqueradeAll() || clusterCidr != null)) {
                masqArgs = " -m comment --comment \"" + name + " cluster IP\"" + match + " -d " + cip + " --dport " + port
                        + (o.masqueradeAll() ? "" : " ! -s " + clusterCidr) + " -j KUBE-MARK-MASQ\n";
            }
            if (!svcEps.isEmpty()) {
                c.setLength(0);
                if (masqArgs != null && !internalLocal) c.append("-A ").append(svcChain).append(masqArgs);
                endpointJumps(c, sp, name, sepNames, svcChain, svcEps);
                emit(false, false, svcChain, c);
            }
            if (!svlEps.isEmpty()) {
                c.setLength(0);
                if (masqArgs != null && internalLocal) c.append("-A ").append(svlChain).append(masqArgs);
                endpointJumps(c, sp, name, sepNames, svlChain, svlEps);
                emit(false, false, svlChain, c);
            }
            if (usesExt) {
                c.setLength(0);
                if (!externalLocal) {
                    c.append("-A ").append(extChain).append(" -m comment --comment \"masquerade traffic for ").append(name)
                            .append(" external destinations\" -j KUBE-MARK-MASQ\n");
                } else {
                    // Pod and host traffic to an external address is not subject to the external policy
                    // (as if it went out to the load balancer and came back); it follows the internal one.
                    if (clusterCidr != null && hasInternal) {
                        c.append("-A ").append(extChain).append(" -m comment --comment \"pod traffic for ").append(name)
                                .append(" external destinations\" -s ").append(clusterCidr).append(" -j ")
                                .append(internalChain).append('\n');
                    }
                    c.append("-A ").append(extChain).append(" -m comment --comment \"masquerade LOCAL traffic for ")
                            .append(name).append(" external destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ\n");
                    if (hasInternal) {
                        c.append("-A ").append(extChain).append(" -m comment --comment \"route LOCAL traffic for ")
                                .append(name).append(" external destinations\" -m addrtype --src-type LOCAL -j ")
                                .append(internalChain).append('\n');
                    }
                }
                if (hasExternal) {
                    c.append("-A ").append(extChain).append(" -j ").append(externalPolicyChain).append('\n');
                }
                emit(false, false, extChain, c);
            }
            if (usesFw) {
                c.setLength(0);
                for (Cidr r : ranges) {
                    c.append("-A ").append(fwChain).append(" -m comment --comment \"").append(name)
                            .append(" loadbalancer IP\" -s ").append(r).append(" -j ").append(extChain).append('\n');
                }
                if (TrafficVerdicts.allowsFromNode(ranges, o.nodeIpsOfFamily())) {
                    // a VIP the node holds locally makes the node's own connections leave with it as source
                    for (InetAddress ip : lbIPs) {
                        c.append("-A ").append(fwChain).append(" -m comment --comment \"").append(name)
                                .append(" loadbalancer IP\" -s ").append(IpAddresses.format(ip)).append(" -j ")
                                .append(extChain).append('\n');
                    }
                }
                c.append("-A ").append(fwChain).append(" -m comment --comment \"other traffic to ").append(name)
                        .append(" will be dropped by KUBE-PROXY-FIREWALL\"\n");
                emit(false, false, fwChain, c);
            }
            // SEP chains: every endpoint some chain above jumps to, once
            List<Endpoint> all = new ArrayList<>(internal);
            for (Endpoint e : external) {
                if (!containsHostPort(all, e)) all.add(e);
            }
            all.sort(byHostPort);
            boolean affinity = sp.sessionAffinity() == SessionAffinity.CLIENT_IP;
            for (Endpoint e : all) {
                String hp = e.hostPort();
                String sep = sepNames.get(hp);
                c.setLength(0);
                c.append("-A ").append(sep).append(" -m comment --comment ").append(name).append(" -s ")
                        .append(IpAddresses.format(e.address())).append(" -j KUBE-MARK-MASQ\n");
                c.append("-A ").append(sep).append(" -m comment --comment ").append(name);
                if (affinity) c.append(" -m recent --name ").append(sep).append(" --set");
                c.append(match).append(" -j DNAT --to-destination ").append(hp).append('\n');
                emit(false, false, sep, c);
            }
        }

        void endpointJumps(StringBuilder c, ServicePort sp, String name, Map<String, String> sepNames,
                           String chainName, List<Endpoint> eps) {
            if (sp.sessionAffinity() == SessionAffinity.CLIENT_IP) {
                for (Endpoint e : eps) {
                    String hp = e.hostPort();
                    String sep = sepNames.get(hp);
                    c.append("-A ").append(chainName).append(" -m comment --comment \"").append(name).append(" -> ")
                            .append(hp).append("\" -m recent --name ").append(sep).append(" --rcheck --seconds ")
                            .append(sp.affinityTimeoutSeconds()).append(" --reap -j ").append(sep).append('\n');
                }
            }
            int n = eps.size();
            for (int i = 0; i < n; i++) {
                Endpoint e = eps.get(i);
                String hp = e.hostPort();
                c.append("-A ").append(chainName).append(" -m comment --comment \"").append(name).append(" -> ")
                        .append(hp).append('"');
                if (i < n - 1) {
                    c.append(" -m statistic --mode random --probability ").append(probability(n - i));
                }
                c.append(" -j ").append(sepNames.get(hp)).append('\n');
            }
        }

        // ---- chain bookkeeping --------------------------------------------------------------

        /** Records chain's content hash and writes it when full or changed. */
        void emit(boolean filter, boolean top, String name, StringBuilder content) {
            String key = (filter ? "filter:" : "nat:") + name;
            Long same = top && !topChanged ? previous.get(key) : null;
            // a top-level chain made of the same lines as last time: no need to hash ~100 bytes per service again
            long h = same != null ? same : hash(content);
            boolean fresh = hashes.put(key, h) == null;
            if (recording) {
                if (svcKeys.size() == svcHashes.length) svcHashes = java.util.Arrays.copyOf(svcHashes, svcHashes.length * 2);
                svcHashes[svcKeys.size()] = h;
                svcKeys.add(key);
            }
            Long before = previous.get(key);
            if (fresh && before != null) {
                keptKeys++;
            }
            if (!full && before != null && before == h) {
                return;
            }
            StringBuilder decls = filter ? filterTopDecls : (top ? natTopDecls : natDecls);
            decls.append(':').append(name).append(" - [0:0]\n");
            (filter ? filterRules : natRules).append(content);
            written.add(key);
        }

        void staleChains() {
            if (keptKeys == previous.size()) {
                return; // every chain of previous is in this rendering: nothing to delete, no need to scan
            }
            // previous is the cached rendering and every cached service is still here: only the chains of
            // the re-rendered ones can have gone (previous holds nothing else but top-level chains).
            Collection<String> candidates;
            if (previousIsCachedRendering && seenOld == oldEntries.size()) {
                List<String> c = new ArrayList<>();
                for (RenderCache.Entry e : replaced) {
                    c.addAll(List.of(e.chainKeys()));
                }
                candidates = c;
            } else {
                candidates = previous.keySet();
            }
            List<String> stale = new ArrayList<>();
            for (String key : candidates) {
                if (key.startsWith("nat:") && !hashes.containsKey(key) && ChainNames.isServiceChain(key.substring(4))) {
                    stale.add(key);
                }
            }
            stale.sort(null);
            for (String key : stale) {
                String name = key.substring(4);
                natDecls.append(':').append(name).append(" - [0:0]\n");
                natRules.append("-X ").append(name).append('\n');
                deleted.add(key);
            }
        }

        InetAddress firstOfFamily(List<InetAddress> ips) {
            for (InetAddress ip : ips) {
                if (isV6(ip) == o.ipv6()) return ip;
            }
            return null;
        }

        List<InetAddress> ofFamily(List<InetAddress> ips) {
            List<InetAddress> out = new ArrayList<>(ips.size());
            for (InetAddress ip : ips) {
                if (isV6(ip) == o.ipv6()) out.add(ip);
            }
            return out;
        }
    }

    /** kube-proxy's comment on a filter rule that blocks a service's traffic. */
    static String blockComment(String name, TrafficVerdicts.Block b) {
        return "\"" + name + (b == TrafficVerdicts.Block.REJECT ? " has no endpoints\"" : " has no local endpoints\"");
    }

    static boolean isV6(InetAddress a) {
        return a.getAddress().length == 16;
    }

    private static boolean containsHostPort(List<Endpoint> eps, Endpoint e) {
        for (Endpoint x : eps) {
            if (x.port() == e.port() && x.address().equals(e.address())) return true;
        }
        return false;
    }

    /** kube-proxy's "%0.10f" of 1/n, cached: the same few values recur across thousands of services. */
    static String probability(int n) {
        if (n < PROBABILITIES.length) {
            String s = PROBABILITIES[n];
            if (s == null) {
                s = String.format(Locale.ROOT, "%.10f", 1.0 / n);
                PROBABILITIES[n] = s; // benign race: every thread computes the same string
            }
            return s;
        }
        return String.format(Locale.ROOT, "%.10f", 1.0 / n);
    }

    /** 64-bit FNV-1a over the chain's text: equal text, equal hash; a change is missed with p ≈ 2^-64. */
    static long hash(CharSequence s) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0, n = s.length(); i < n; i++) {
            h ^= s.charAt(i);
            h *= 0x100000001b3L;
        }
        return h;
    }
}
