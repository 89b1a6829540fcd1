package dev.ferry.select;

/**
 * The node Ferry runs on, as endpoint selection needs it: its name (for Local traffic policies) and
 * its {@code topology.kubernetes.io/zone} label (for topology-aware routing; empty when unlabelled).
 */
public record NodeInfo(String name, String zone) {
    /** The label kube-proxy reads the node's zone from. */
    public static final String ZONE_LABEL = "topology.kubernetes.io/zone";

    public NodeInfo {
        name = name == null ? "" : name;
        zone = zone == null ? "" : zone;
    }
}
