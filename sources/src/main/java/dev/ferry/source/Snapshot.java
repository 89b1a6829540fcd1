package dev.ferry.source;

import dev.ferry.model.Rejection;
import dev.ferry.model.ServicePort;
import java.util.List;

/**
 * The whole content of a source at one moment: every accepted service port (sorted by name) and
 * the objects that were rejected, and the file's Node objects. Immutable. {@code generation} counts
 * successful loads from 1.
 */
public record Snapshot(long generation, List<ServicePort> ports, List<Rejection> rejections,
                       List<io.fabric8.kubernetes.api.model.Node> nodes) {

    public Snapshot {
        ports = List.copyOf(ports);
        rejections = List.copyOf(rejections);
        nodes = List.copyOf(nodes == null ? List.of() : nodes);
    }

    public Snapshot(long generation, List<ServicePort> ports, List<Rejection> rejections) {
        this(generation, ports, rejections, List.of());
    }
}
