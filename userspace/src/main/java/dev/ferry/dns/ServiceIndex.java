package dev.ferry.dns;

import dev.ferry.model.FrontendKind;
import dev.ferry.model.Protocol;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTableReader;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongArrayList;
import org.agrona.collections.LongHashSet;

/**
 * Which services and namespaces exist, which ports each service has, and which names an address
 * stands for — what the table's indexes cannot answer, since they are keyed by (namespace, name,
 * port name, protocol) and by frontend. Forward answers still read addresses and endpoints from
 * the table per query; this holds names (about 150 bytes per service port) and, for PTR, one entry
 * per ClusterIP and per published headless endpoint address (about 120 bytes each).
 *
 * <p>Brought up to date on the first query after the table's generation moves. Only records
 * rewritten since then are decoded (a record's stamp changes whenever it is rewritten), and only
 * the services and addresses they touch are republished: with endpoints churning in a large
 * cluster, a query after a change pays a walk of the table's index, not a decode of every service
 * (10 000 services: a full rebuild took 30–90 ms on the event loop).
 *
 * <p>Thread-safe: queries read the published maps without locking, each entry replaced atomically;
 * one update runs at a time.
 */
final class ServiceIndex {
    /** A service's identity and its ports' (name, protocol) keys. */
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
     * What one table record contributes. {@code reverseNames[i]} is what a PTR for {@code
     * addresses[i]} answers, relative to {@code svc.<zone>}: "name.namespace" for a ClusterIP,
     * "label.name.namespace" for a headless endpoint.
     */
    private record Contribution(String serviceKey, String namespace, String name, String portName,
                                Protocol protocol, AddressKey[] addresses, String[] reverseNames) { }

    private final ServiceTableReader reader;

    // Published: read by queries without a lock.
    private final ConcurrentHashMap<String, Service> services = new ConcurrentHashMap<>();
    private final Set<String> namespaces = ConcurrentHashMap.newKeySet();
    private final ConcurrentHashMap<AddressKey, String[]> reverse = new ConcurrentHashMap<>();
    private volatile long generation = Long.MIN_VALUE;

    // Update state, guarded by this.
    private final ServicePortView view = new ServicePortView();
    private final Long2ObjectHashMap<Contribution> byStamp = new Long2ObjectHashMap<>();
    private final Map<String, List<Contribution>> byService = new HashMap<>();
    private final Map<AddressKey, List<Contribution>> byAddress = new HashMap<>();
    private final Map<String, Integer> servicesPerNamespace = new HashMap<>();
    private final LongHashSet seen = new LongHashSet();
    private final LongArrayList gone = new LongArrayList();
    private final Set<String> touchedServices = new HashSet<>();
    private final Set<AddressKey> touchedAddresses = new HashSet<>();
    private long decodedRecords;

    ServiceIndex(ServiceTableReader reader) {
        this.reader = reader;
    }

    /** This index, brought up to the table's current generation. */
    ServiceIndex current() {
        long g = reader.generation();
        if (generation != g) {
            synchronized (this) {
                if (generation != g) {
                    // g was read before the walk: a change during the walk moves the generation past g,
                    // so the next query walks again.
                    update();
                    generation = g;
                }
            }
        }
        return this;
    }

    /** By "name.namespace", the order the names appear in DNS; lower case. Null when absent. */
    Service service(String nameDotNamespace) {
        return services.get(nameDotNamespace);
    }

    /** Whether any service lives in the namespace (lower case). */
    boolean hasNamespace(String namespace) {
        return namespaces.contains(namespace);
    }

    /** The PTR targets of an address (relative to svc.zone, in table order), or null when no service owns it. */
    String[] reverse(int family, long hi, long lo) {
        return reverse.get(new AddressKey(family, hi, lo));
    }

    /** How many table records were decoded so far: one per rewritten record, not per update. */
    synchronized long decodedRecords() {
        return decodedRecords;
    }

    /** The published services, by "name.namespace"; a read-only view. */
    Map<String, Service> services() {
        return Collections.unmodifiableMap(services);
    }

    /** The published namespaces (lower case); a read-only view. */
    Set<String> namespaces() {
        return Collections.unmodifiableSet(namespaces);
    }

    /** The published PTR targets by address; a read-only view. */
    Map<AddressKey, String[]> reverseNames() {
        return Collections.unmodifiableMap(reverse);
    }

    private void update() {
        seen.clear();
        reader.forEach(view, v -> {
            long stamp = v.stamp();
            seen.add(stamp);
            if (byStamp.containsKey(stamp)) {
                return;
            }
            Contribution c = decode(v);
            decodedRecords++;
            if (c != null && v.isValid()) {
                byStamp.put(stamp, c);
                add(c);
            }
        });
        gone.clear();
        for (var it = byStamp.keySet().iterator(); it.hasNext(); ) {
            long stamp = it.nextLong();
            if (!seen.contains(stamp)) {
                gone.addLong(stamp);
            }
        }
        for (int i = 0; i < gone.size(); i++) {
            remove(byStamp.remove(gone.getLong(i)));
        }
        publish();
    }

    private static Contribution decode(ServicePortView v) {
        Protocol protocol = v.protocol();
        if (protocol == null) {
            return null;
        }
        String namespace = v.namespace();
        String name = v.name();
        String service = name + "." + namespace;
        List<AddressKey> addresses = new ArrayList<>();
        List<String> names = new ArrayList<>();
        if (v.headless()) {
            boolean publishNotReady = v.publishNotReadyAddresses();
            for (int e = 0, ne = v.endpointCount(); e < ne; e++) {
                if (publishNotReady || v.endpointReady(e)) {
                    addresses.add(new AddressKey(v.endpointFamily(e), v.endpointHi(e), v.endpointLo(e)));
                    names.add(ClusterZone.endpointLabel(v, e) + "." + service);
                }
            }
        } else {
            for (int f = 0, nf = v.frontendCount(); f < nf; f++) {
                if (v.frontendKind(f) == FrontendKind.CLUSTER_IP) {
                    addresses.add(new AddressKey(v.frontendFamily(f), v.frontendHi(f), v.frontendLo(f)));
                    names.add(service);
                }
            }
        }
        return new Contribution(service.toLowerCase(Locale.ROOT), namespace, name, v.portName(), protocol,
                addresses.toArray(AddressKey[]::new), names.toArray(String[]::new));
    }

    private void add(Contribution c) {
        byService.computeIfAbsent(c.serviceKey(), k -> new ArrayList<>(2)).add(c);
        touchedServices.add(c.serviceKey());
        for (AddressKey a : c.addresses()) {
            byAddress.computeIfAbsent(a, k -> new ArrayList<>(1)).add(c);
            touchedAddresses.add(a);
        }
    }

    private void remove(Contribution c) {
        removeSame(byService.get(c.serviceKey()), c);
        touchedServices.add(c.serviceKey());
        for (AddressKey a : c.addresses()) {
            removeSame(byAddress.get(a), c);
            touchedAddresses.add(a);
        }
    }

    /** Two records can contribute equal values (a port re-put unchanged); remove exactly this one. */
    private static void removeSame(List<Contribution> list, Contribution c) {
        for (int i = 0; i < list.size(); i++) {
            if (list.get(i) == c) {
                list.remove(i);
                return;
            }
        }
    }

    /** Republishes what the last walk touched; a new namespace appears before its first service, and goes after its last. */
    private void publish() {
        for (String key : touchedServices) {
            List<Contribution> ports = byService.get(key);
            if (ports == null || ports.isEmpty()) {
                byService.remove(key);
                Service old = services.remove(key);
                if (old != null) {
                    countNamespace(old.namespace(), -1);
                }
                continue;
            }
            Contribution first = ports.get(0);
            String[] portNames = new String[ports.size()];
            Protocol[] protocols = new Protocol[ports.size()];
            for (int i = 0; i < portNames.length; i++) {
                portNames[i] = ports.get(i).portName();
                protocols[i] = ports.get(i).protocol();
            }
            Service fresh = new Service(first.namespace(), first.name(), portNames, protocols);
            countNamespace(fresh.namespace(), +1);
            Service old = services.put(key, fresh);
            if (old != null) {
                countNamespace(old.namespace(), -1);
            }
        }
        touchedServices.clear();
        for (AddressKey a : touchedAddresses) {
            List<Contribution> owners = byAddress.get(a);
            if (owners == null || owners.isEmpty()) {
                byAddress.remove(a);
                reverse.remove(a);
                continue;
            }
            Set<String> names = new LinkedHashSet<>();
            for (Contribution c : owners) {
                AddressKey[] addresses = c.addresses();
                for (int i = 0; i < addresses.length; i++) {
                    if (addresses[i].equals(a)) names.add(c.reverseNames()[i]);
                }
            }
            reverse.put(a, names.toArray(String[]::new));
        }
        touchedAddresses.clear();
    }

    private void countNamespace(String namespace, int delta) {
        String key = namespace.toLowerCase(Locale.ROOT);
        int n = servicesPerNamespace.getOrDefault(key, 0) + delta;
        if (n > 0) {
            servicesPerNamespace.put(key, n);
            namespaces.add(key);
        } else {
            servicesPerNamespace.remove(key);
            namespaces.remove(key);
        }
    }
}
