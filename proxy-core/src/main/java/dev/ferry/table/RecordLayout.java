package dev.ferry.table;

/**
 * Layout of one service-port record inside a block payload. Fixed-size entries (frontends, source
 * ranges, endpoints) sit at offsets stored in the record header so that a reader reaches endpoint i
 * in constant time; strings are length-prefixed UTF-8 referenced by offset (0 means empty).
 * Offsets are relative to the payload start.
 */
final class RecordLayout {
    private RecordLayout() {}

    static final int R_LENGTH = 0;
    static final int R_PROTOCOL = 4;
    static final int R_TYPE = 5;
    static final int R_FLAGS = 6;
    static final int R_AFFINITY = 7;
    static final int R_ETP = 8;
    static final int R_ITP = 9;
    static final int R_FRONTEND_COUNT = 10; // short
    static final int R_PORT = 12;
    static final int R_NODE_PORT = 16;
    static final int R_HEALTH_CHECK_NODE_PORT = 20;
    static final int R_AFFINITY_TIMEOUT = 24;
    static final int R_ENDPOINT_COUNT = 28;
    static final int R_RANGE_COUNT = 32;
    static final int R_FRONTENDS = 36;
    static final int R_RANGES = 40;
    static final int R_ENDPOINTS = 44;
    static final int R_STRINGS = 48; // STRING_SLOTS ints
    static final int S_NAMESPACE = 0;
    static final int S_NAME = 1;
    static final int S_PORT_NAME = 2;
    static final int S_EXTERNAL_NAME = 3;
    static final int S_TARGET_PORT = 4;
    static final int S_TRAFFIC_DISTRIBUTION = 5;
    static final int S_LB_ALGORITHM = 6;
    static final int STRING_SLOTS = 7;
    static final int R_HEADER = R_STRINGS + STRING_SLOTS * 4; // 76

    static final int FLAG_HEADLESS = 1;
    static final int FLAG_PUBLISH_NOT_READY = 2;
    static final int FLAG_PROXY_PROTOCOL = 4;

    // Frontend entry: kind:byte, family:byte, pad:short, port:int, hi:long, lo:long.
    static final int F_KIND = 0;
    static final int F_FAMILY = 1;
    static final int F_PORT = 4;
    static final int F_HI = 8;
    static final int F_LO = 16;
    static final int FRONTEND_SIZE = 24;

    // Source range entry: family:byte, prefix:byte, pad, hi:long, lo:long.
    static final int G_FAMILY = 0;
    static final int G_PREFIX = 1;
    static final int G_HI = 8;
    static final int G_LO = 16;
    static final int RANGE_SIZE = 24;

    // Endpoint entry.
    static final int E_FAMILY = 0;
    static final int E_FLAGS = 1;
    static final int E_PORT = 4;
    static final int E_HI = 8;
    static final int E_LO = 16;
    static final int E_NODE_NAME = 24;
    static final int E_ZONE = 28;
    static final int E_HOSTNAME = 32;
    static final int E_FOR_ZONES = 36;
    static final int ENDPOINT_SIZE = 40;

    static final int EP_READY = 1;
    static final int EP_SERVING = 2;
    static final int EP_TERMINATING = 4;
    static final int EP_CLUSTER_TRAFFIC = 8;
    static final int EP_EXTERNAL_TRAFFIC = 16;

    /** Address families as stored: 0 = none (a NodePort frontend), 4, 6. */
    static final int FAMILY_NONE = 0;
    static final int FAMILY_V4 = 4;
    static final int FAMILY_V6 = 6;
}
