package dev.ferry.proxy;

/**
 * A point-in-time copy of one service port's proxy counters, for export ({@code /metrics},
 * {@code ferry dump}). Immutable.
 *
 * @param servicePort "namespace/name:port/PROTOCOL"
 * @param accepted client connections accepted (TCP)
 * @param active TCP connections currently relayed
 * @param bytesFromClients bytes relayed client → backend
 * @param bytesFromBackends bytes relayed backend → client
 * @param connectErrors failed backend connection attempts (refused, timed out)
 * @param retries attempts made on another backend after a failed one
 * @param refused client connections reset because no backend was usable or all attempts failed
 * @param deniedBySourceRange client connections reset by loadBalancerSourceRanges
 * @param udpFlows UDP flows created
 * @param udpDatagrams UDP datagrams relayed client → backend
 * @param connects successful backend connects measured
 * @param connectMicrosSum their total latency (mean = sum / connects; the distribution is proxy-wide,
 *     see {@link UserspaceProxy#connectLatency()})
 * @param connectMaxMicros slowest backend connect
 */
public record ServicePortStats(String servicePort, long accepted, long active, long bytesFromClients,
                               long bytesFromBackends, long connectErrors, long retries, long refused,
                               long deniedBySourceRange, long udpFlows, long udpDatagrams, long connects,
                               long connectMicrosSum, long connectMaxMicros) {
}
