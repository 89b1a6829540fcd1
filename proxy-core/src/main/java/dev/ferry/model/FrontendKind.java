package dev.ferry.model;

/** How traffic reaches a service port: the address kinds kube-proxy programs. */
public enum FrontendKind {
    CLUSTER_IP, NODE_PORT, EXTERNAL_IP, LOAD_BALANCER;

    private static final FrontendKind[] VALUES = values();

    public static FrontendKind ofOrdinal(int ordinal) {
        return ordinal >= 0 && ordinal < VALUES.length ? VALUES[ordinal] : null;
    }

    /** External frontends are the ones externalTrafficPolicy applies to. */
    public boolean isExternal() {
        return this != CLUSTER_IP;
    }
}
