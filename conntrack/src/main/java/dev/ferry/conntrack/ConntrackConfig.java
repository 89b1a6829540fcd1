package dev.ferry.conntrack;

import java.time.Duration;

/**
 * Limits and timeouts of the flow tables. Immutable. Defaults follow the kernel and kube-proxy:
 * UDP idle 30 s (nf_conntrack_udp_timeout), TCP idle 5 days (nf_conntrack_tcp_timeout_established),
 * other protocols 600 s (nf_conntrack_generic_timeout), ClientIP affinity 10800 s.
 */
public record ConntrackConfig(
        long maxFlows,
        long maxAffinities,
        long maxBackends,
        Duration udpIdleTimeout,
        Duration tcpIdleTimeout,
        Duration otherIdleTimeout,
        Duration affinityTimeout) {

    public static final ConntrackConfig DEFAULTS = new ConntrackConfig(
            262_144, 262_144, 65_536,
            Duration.ofSeconds(30), Duration.ofDays(5), Duration.ofSeconds(600),
            Duration.ofMillis(AffinityTable.DEFAULT_TIMEOUT_MILLIS));

    public ConntrackConfig {
        if (maxFlows < 1 || maxAffinities < 1 || maxBackends < 1) {
            throw new IllegalArgumentException("conntrack limits must be positive: maxFlows=" + maxFlows
                    + " maxAffinities=" + maxAffinities + " maxBackends=" + maxBackends);
        }
        for (Duration d : new Duration[] {udpIdleTimeout, tcpIdleTimeout, otherIdleTimeout, affinityTimeout}) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("conntrack timeouts must be positive, got " + d);
            }
        }
    }

    public ConntrackConfig withMaxFlows(long n) {
        return new ConntrackConfig(n, maxAffinities, maxBackends, udpIdleTimeout, tcpIdleTimeout, otherIdleTimeout, affinityTimeout);
    }

    public ConntrackConfig withMaxAffinities(long n) {
        return new ConntrackConfig(maxFlows, n, maxBackends, udpIdleTimeout, tcpIdleTimeout, otherIdleTimeout, affinityTimeout);
    }

    public ConntrackConfig withUdpIdleTimeout(Duration d) {
        return new ConntrackConfig(maxFlows, maxAffinities, maxBackends, d, tcpIdleTimeout, otherIdleTimeout, affinityTimeout);
    }

    public ConntrackConfig withAffinityTimeout(Duration d) {
        return new ConntrackConfig(maxFlows, maxAffinities, maxBackends, udpIdleTimeout, tcpIdleTimeout, otherIdleTimeout, d);
    }
}
