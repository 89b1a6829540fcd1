package dev.ferry.daemon.config;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * kube-proxy's {@code mode} values, plus Ferry's {@code table-only}. {@link #DEFAULT} (an empty
 * {@code mode}) is iptables, as in kube-proxy on Linux (`ferry run --demo` defaults to userspace,
 * which needs no root). {@link #AVAILABLE} lists the modes `ferry run` can drive. Immutable;
 * thread-safe.
 */
public enum ProxyMode {
    DEFAULT(""),
    USERSPACE("userspace"),
    IPTABLES("iptables"),
    NFTABLES("nftables"),
    IPVS("ipvs"),
    /** Ferry's own: keep the service table (for dump, explain, DNS, health checks) and steer no traffic. */
    TABLE_ONLY("table-only");

    /** The modes `ferry run` can run in this build. */
    public static final Set<ProxyMode> AVAILABLE = EnumSet.allOf(ProxyMode.class);

    private final String configName;

    ProxyMode(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }

    /** The mode named {@code name} ("" or null is {@link #DEFAULT}); IllegalArgumentException listing the valid ones otherwise. */
    public static ProxyMode named(String name) {
        String n = name == null ? "" : name;
        for (ProxyMode m : values()) {
            if (m.configName.equals(n)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown mode \"" + n + "\": supported values are "
                + Arrays.stream(values()).filter(m -> m != DEFAULT).map(ProxyMode::configName).collect(Collectors.joining(", "))
                + " (or empty for the default)");
    }

    /** Throws IllegalArgumentException, saying why, when this build cannot run the mode. */
    public ProxyMode requireAvailable() {
        if (!AVAILABLE.contains(this)) {
            throw new IllegalArgumentException("mode \"" + configName + "\" is not available in this build of Ferry: its data plane"
                    + " is not wired into `ferry run` yet (the daemon maintains the service table only); leave mode empty");
        }
        return this;
    }
}
