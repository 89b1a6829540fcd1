package dev.ferry.proxy;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.ConcurrentHistogram;

/**
 * Live counters of one service port in the proxy, kept across endpoint changes (keyed by the
 * service port's name). Thread-safe: event loops update, any thread reads; updates allocate nothing.
 */
public final class ServicePortMetrics {
    private final String servicePort;
    final LongAdder accepted = new LongAdder();
    final LongAdder active = new LongAdder();
    final LongAdder bytesFromClients = new LongAdder();
    final LongAdder bytesFromBackends = new LongAdder();
    final LongAdder connectErrors = new LongAdder();
    final LongAdder retries = new LongAdder();
    final LongAdder refused = new LongAdder();
    final LongAdder deniedBySourceRange = new LongAdder();
    final LongAdder udpFlows = new LongAdder();
    final LongAdder udpDatagrams = new LongAdder();
    /** Connect latency in microseconds, 1 µs to 60 s at 3 significant digits. */
    private final ConcurrentHistogram connectMicros = new ConcurrentHistogram(1, TimeUnit.SECONDS.toMicros(60), 3);

    ServicePortMetrics(String servicePort) {
        this.servicePort = servicePort;
    }

    void recordConnectNanos(long nanos) {
        long micros = Math.max(1, Math.min(nanos / 1000, connectMicros.getHighestTrackableValue()));
        connectMicros.recordValue(micros);
    }

    /** A consistent-enough copy for export (cold path: allocates). */
    public ServicePortStats snapshot() {
        return new ServicePortStats(servicePort, accepted.sum(), active.sum(), bytesFromClients.sum(),
                bytesFromBackends.sum(), connectErrors.sum(), retries.sum(), refused.sum(), deniedBySourceRange.sum(),
                udpFlows.sum(), udpDatagrams.sum(), connectMicros.getTotalCount(),
                connectMicros.getValueAtPercentile(50), connectMicros.getValueAtPercentile(99),
                connectMicros.getMaxValue());
    }
}
