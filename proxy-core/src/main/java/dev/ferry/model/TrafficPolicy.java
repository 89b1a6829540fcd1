package dev.ferry.model;

/** externalTrafficPolicy / internalTrafficPolicy. */
public enum TrafficPolicy {
    CLUSTER("Cluster"), LOCAL("Local");

    private static final TrafficPolicy[] VALUES = values();
    private final String apiName;

    TrafficPolicy(String apiName) {
        this.apiName = apiName;
    }

    public String apiName() {
        return apiName;
    }

    public static TrafficPolicy ofOrdinal(int ordinal) {
        return ordinal >= 0 && ordinal < VALUES.length ? VALUES[ordinal] : null;
    }

    /** Parses the API spelling; absent means Cluster (the API default); null when unknown. */
    public static TrafficPolicy parse(String s) {
        if (s == null || s.isEmpty()) {
            return CLUSTER;
        }
        for (TrafficPolicy p : VALUES) {
            if (p.apiName.equals(s)) {
                return p;
            }
        }
        return null;
    }
}
