package dev.ferry.dns;

import dev.ferry.model.Protocol;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTableReader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which services and namespaces exist and which ports each service has — the one thing the table's
 * name index cannot answer, since it is keyed by (namespace, name, port name, protocol). Rebuilt by
 * walking the table once per table generation, on the first query after a change; it holds names
 * only (about 150 bytes per service port), never addresses or endpoints: those are read from the
 * table per query.
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

    /** One generation's names. */
    record Snapshot(long generation, Map<String, Service> services, Set<String> namespaces) {
        /** By "name.namespace", the order the names appear in DNS; lower case. */
        Service service(String nameDotNamespace) {
            return services.get(nameDotNamespace);
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
        return new Snapshot(generation, Map.copyOf(services), Set.copyOf(namespaces));
    }
}
