package dev.ferry.dns;

import dev.ferry.model.FrontendKind;
import dev.ferry.model.Protocol;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTableReader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which services and namespaces exist, which ports each service has, and which names an address
 * stands for — what the table's indexes cannot answer, since they are keyed by (namespace, name,
 * port name, protocol) and by frontend. Rebuilt by walking the table once per table generation, on
 * the first query after a change. It holds names (about 150 bytes per service port) and, for PTR,
 * one entry per ClusterIP and per published headless endpoint address (about 120 bytes each);
 * forward answers still read addresses and endpoints from the table per query.
 *
 * <p>Thread-safe: the current snapshot is immutable and published through a volatile field; one
 * rebuild runs at a time.
 */
final class ServiceIndex {
    /** A service's identity and its ports' (name, protocol) keys, in table order. */
    record Service(String namespace, String name, String[] portNames, Protocol[] protocols) {
        boolean hasProtocol(Protocol p) {
            for (Protocol q : protocols) {
                if (q == p) return true;
            }
            return false;
        }
    }

    /** An IPv4 or IPv6 address as the table stores it. */
    record AddressKey(int family, long hi, long lo) { }

    /**
     * One generation's names. {@code reverse} maps an address to the names a PTR answers, relative to
     * {@code svc.<zone>}: "name.namespace" for a ClusterIP, "label.name.namespace" for a headless
     * endpoint, in table order, without duplicates.
     */
    record Snapshot(long generation, Map<String, Service> services, Set<String> namespaces,
                    Map<AddressKey, String[]> reverse) {
        /** By "name.namespace", the order the names appear in DNS; lower case. */
        Service service(String nameDotNamespace) {
            return services.get(nameDotNamespace);
        }

        /** The PTR targets of an address (relative to svc.zone), or null when no service owns it. */
        String[] reverse(int family, long hi, long lo) {
            return reverse.get(new AddressKey(family, hi, lo));
        }
    }

    private final ServiceTableReader reader;
    private final ServicePortView view = new ServicePortView();
    private volatile Snapshot current;

    ServiceIndex(ServiceTableReader reader) {
        this.reader = reader;
    }

    Snapshot current() {
        long generation = reader.generation();
        Snapshot s = current;
        if (s != null && s.generation() == generation) {
            return s;
        }
        synchronized (this) {
            s = current;
            if (s == null || s.generation() != generation) {
                s = build(generation);
                current = s;
            }
            return s;
        }
    }

    private Snapshot build(long generation) {
        Map<String, List<Object[]>> ports = new HashMap<>();
        Map<String, String[]> ids = new HashMap<>();
        Map<AddressKey, Set<String>> reverse = new HashMap<>();
        reader.forEach(view, v -> {
            String ns = v.namespace();
            String name = v.name();
            String portName = v.portName();
            Protocol protocol = v.protocol();
            if (!v.isValid() || protocol == null) {
                return;
            }
            String key = (name + "." + ns).toLowerCase(java.util.Locale.ROOT);
            ids.putIfAbsent(key, new String[] {ns, name});
            ports.computeIfAbsent(key, k -> new ArrayList<>()).add(new Object[] {portName, protocol});
            addReverse(v, reverse);
        });
        Map<String, Service> services = new HashMap<>(ports.size() * 2);
        Set<String> namespaces = new HashSet<>();
        for (Map.Entry<String, List<Object[]>> e : ports.entrySet()) {
            List<Object[]> list = e.getValue();
            String[] names = new String[list.size()];
            Protocol[] protocols = new Protocol[list.size()];
            for (int i = 0; i < names.length; i++) {
                names[i] = (String) list.get(i)[0];
                protocols[i] = (Protocol) list.get(i)[1];
            }
            String[] id = ids.get(e.getKey());
            services.put(e.getKey(), new Service(id[0], id[1], names, protocols));
            namespaces.add(id[0].toLowerCase(java.util.Locale.ROOT));
        }
        Map<AddressKey, String[]> ptr = new HashMap<>(reverse.size() * 2);
        reverse.forEach((address, names) -> ptr.put(address, names.toArray(String[]::new)));
        return new Snapshot(generation, Map.copyOf(services), Set.copyOf(namespaces), Map.copyOf(ptr));
    }

    /** The reverse names of one service port: its ClusterIPs, or its published headless endpoints. */
    private static void addReverse(ServicePortView v, Map<AddressKey, Set<String>> reverse) {
        String service = v.name() + "." + v.namespace();
        if (v.headless()) {
            boolean publishNotReady = v.publishNotReadyAddresses();
            for (int e = 0, ne = v.endpointCount(); e < ne; e++) {
                if (publishNotReady || v.endpointReady(e)) {
                    AddressKey key = new AddressKey(v.endpointFamily(e), v.endpointHi(e), v.endpointLo(e));
                    reverse.computeIfAbsent(key, k -> new LinkedHashSet<>())
                            .add(ClusterZone.endpointLabel(v, e) + "." + service);
                }
            }
            return;
        }
        for (int f = 0, nf = v.frontendCount(); f < nf; f++) {
            if (v.frontendKind(f) == FrontendKind.CLUSTER_IP) {
                AddressKey key = new AddressKey(v.frontendFamily(f), v.frontendHi(f), v.frontendLo(f));
                reverse.computeIfAbsent(key, k -> new LinkedHashSet<>()).add(service);
            }
        }
    }
}
