package dev.ferry.convert;

import dev.ferry.model.Rejection;

import dev.ferry.model.ServicePort;
import java.util.List;

/**
 * The result of converting API objects: the service ports that were accepted and the reasons for
 * every object (or part) that was not. Immutable. A rejected Service contributes no ports at all; a
 * rejected EndpointSlice contributes no endpoints, while the service keeps those of its other slices.
 */
public record Conversion(List<ServicePort> ports, List<Rejection> rejections) {

    public Conversion {
        ports = List.copyOf(ports);
        rejections = List.copyOf(rejections);
    }

    public boolean hasRejections() {
        return !rejections.isEmpty();
    }
}
