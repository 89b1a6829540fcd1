package dev.ferry.cli.config;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * kube-proxy's {@code mode} values, and which of them this build of {@code ferry run} can drive.
 * {@link #DEFAULT} (an empty {@code mode}) means the data plane Ferry runs by default; in this build
 * that is the service table alone (no traffic is steered yet), and every named mode is refused until
 * its data plane is wired into the daemon: {@link #AVAILABLE} is the one place to change that.
 * Immutable; thread-safe.
 */
public enum ProxyMode {
    DEFAULT(""),
    USERSPACE("userspace"),
    IPTABLES("iptables"),
    NFTABLES("nftables"),
    IPVS("ipvs");

    /** The modes `ferry run` can run in this build. */
    public static final Set<ProxyMode> AVAILABLE = EnumSet.of(DEFAULT);

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
