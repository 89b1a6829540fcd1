package dev.ferry.convert;

import dev.ferry.select.NodeInfo;
import io.fabric8.kubernetes.api.model.Node;
import java.util.List;
import java.util.Map;

/** Reads {@link NodeInfo} from Node objects; kept out of the model so that it needs no fabric8. */
public final class NodeInfos {
    private NodeInfos() {}

    /** This node as the Node object named name among nodes describes it (no such object: no zone). */
    public static NodeInfo of(String name, List<Node> nodes) {
        for (Node n : nodes) {
            if (n.getMetadata() != null && name.equals(n.getMetadata().getName())) {
                Map<String, String> labels = n.getMetadata().getLabels();
                return new NodeInfo(name, labels == null ? "" : labels.get(NodeInfo.ZONE_LABEL));
            }
        }
        return new NodeInfo(name, "");
    }
}
