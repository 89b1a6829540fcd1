package dev.ferry.model;

/** spec.type of a Service. Headless is not a type in the API (clusterIP: None); see {@link ServicePort#headless()}. */
public enum ServiceType {
    CLUSTER_IP("ClusterIP"), NODE_PORT("NodePort"), LOAD_BALANCER("LoadBalancer"), EXTERNAL_NAME("ExternalName");

    private static final ServiceType[] VALUES = values();
    private final String apiName;

    ServiceType(String apiName) {
        this.apiName = apiName;
    }

    public String apiName() {
        return apiName;
    }

    public static ServiceType ofOrdinal(int ordinal) {
        return ordinal >= 0 && ordinal < VALUES.length ? VALUES[ordinal] : null;
    }

    /** Parses the API spelling; absent means ClusterIP; null when unknown. */
    public static ServiceType parse(String s) {
        if (s == null || s.isEmpty()) {
            return CLUSTER_IP;
        }
        for (ServiceType t : VALUES) {
            if (t.apiName.equals(s)) {
                return t;
            }
        }
        return null;
    }
}
