package dev.ferry.source;

import dev.ferry.model.Rejection;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The Services and EndpointSlices read from one YAML file, in file order, and where each of them
 * (and each of their fields) was written, so that a {@link Rejection} can be shown as
 * {@code file:line:column}. Immutable.
 */
public final class Manifest {
    private static final Pattern KEY_SUBSCRIPT = Pattern.compile("\\[([^\\]]*[^0-9\\]][^\\]]*)\\]");

    /** Where one object lives: its path prefix in the document and the positions of its nodes (by full path). */
    record Origin(String prefix, PositionIndex positions) {}

    /** A 1-based line and column. */
    record Position(int line, int column) {}

    private final String file;
    private final List<Service> services;
    private final List<EndpointSlice> slices;
    private final Map<String, Origin> origins;
    private final long bytes;
    private final List<io.fabric8.kubernetes.api.model.Node> nodes;

    Manifest(String file, long bytes, List<Service> services, List<EndpointSlice> slices, Map<String, Origin> origins) {
        this(file, bytes, services, slices, origins, List.of());
    }

    Manifest(String file, long bytes, List<Service> services, List<EndpointSlice> slices, Map<String, Origin> origins,
             List<io.fabric8.kubernetes.api.model.Node> nodes) {
        this.file = file;
        this.bytes = bytes;
        this.services = List.copyOf(services);
        this.slices = List.copyOf(slices);
        this.origins = Map.copyOf(origins);
        this.nodes = List.copyOf(nodes);
    }

    /** The Node objects of the file ({@code kubectl get nodes,svc,endpointslices -A -o yaml}), for this node's zone and IPs. */
    public List<io.fabric8.kubernetes.api.model.Node> nodes() {
        return nodes;
    }

    public String file() {
        return file;
    }

    /** How many bytes were read (0 for an empty file). */
    public long bytes() {
        return bytes;
    }

    public List<Service> services() {
        return services;
    }

    public List<EndpointSlice> endpointSlices() {
        return slices;
    }

    /**
     * "file:line:column" of the field a rejection names (or of the nearest enclosing field that the
     * file spells out, or of the object), or just the file name when the object is not from this file.
     */
    public String locate(Rejection r) {
        Origin o = origins.get(key(r.kind(), r.namespace(), r.name()));
        if (o == null) {
            return file;
        }
        String path = KEY_SUBSCRIPT.matcher(r.field()).replaceAll(".$1");
        while (true) {
            String full = path.isEmpty() ? stripDot(o.prefix()) : o.prefix() + path;
            Position p = o.positions().get(full);
            if (p != null) {
                return file + ":" + p.line() + ":" + p.column();
            }
            if (path.isEmpty()) {
                return file;
            }
            path = parent(path);
        }
    }

    static String key(String kind, String namespace, String name) {
        return kind + " " + namespace + "/" + name;
    }

    private static String stripDot(String prefix) {
        return prefix.endsWith(".") ? prefix.substring(0, prefix.length() - 1) : prefix;
    }

    private static String parent(String path) {
        int dot = path.lastIndexOf('.');
        int bracket = path.lastIndexOf('[');
        int cut = Math.max(dot, bracket);
        return cut <= 0 ? "" : path.substring(0, cut);
    }
}
