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

    /** This node as the Node object named name among nodes describes it (no such object: no zone). */
    public static NodeInfo of(String name, java.util.List<io.fabric8.kubernetes.api.model.Node> nodes) {
        for (io.fabric8.kubernetes.api.model.Node n : nodes) {
            if (n.getMetadata() != null && name.equals(n.getMetadata().getName())) {
                java.util.Map<String, String> labels = n.getMetadata().getLabels();
                return new NodeInfo(name, labels == null ? "" : labels.get(ZONE_LABEL));
            }
        }
        return new NodeInfo(name, "");
    }
}
