package dev.ferry.model;

/** spec.sessionAffinity. */
public enum SessionAffinity {
    NONE("None"), CLIENT_IP("ClientIP");

    /** kube-proxy's default for sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */
    public static final int DEFAULT_TIMEOUT_SECONDS = 10800;

    private static final SessionAffinity[] VALUES = values();
    private final String apiName;

    SessionAffinity(String apiName) {
        this.apiName = apiName;
    }

    public String apiName() {
        return apiName;
    }

    public static SessionAffinity ofOrdinal(int ordinal) {
        return ordinal >= 0 && ordinal < VALUES.length ? VALUES[ordinal] : null;
    }

    /** Parses the API spelling; absent means None; null when unknown. */
    public static SessionAffinity parse(String s) {
        if (s == null || s.isEmpty()) {
            return NONE;
        }
        for (SessionAffinity a : VALUES) {
            if (a.apiName.equals(s)) {
                return a;
            }
        }
        return null;
    }
}
