package dev.ferry.proxy;

import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.ConcurrentHistogram;

/**
 * Live counters of one service port in the proxy, kept across endpoint changes (keyed by the
 * service port's name). A few hundred bytes each: the connect-latency distribution is one
 * proxy-wide histogram (a histogram per service port would make the heap grow by ~200 KB per
 * service), the service port keeps count, sum and max. Thread-safe: event loops update, any thread
 * reads; updates allocate nothing.
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
    final LongAdder connects = new LongAdder();
    final LongAdder connectMicrosSum = new LongAdder();
    final LongAccumulator connectMicrosMax = new LongAccumulator(Math::max, 0);
    private final ConcurrentHistogram proxyWide;

    ServicePortMetrics(String servicePort, ConcurrentHistogram proxyWide) {
        this.servicePort = servicePort;
        this.proxyWide = proxyWide;
    }

    void recordConnectNanos(long nanos) {
        long micros = Math.max(1, Math.min(nanos / 1000, proxyWide.getHighestTrackableValue()));
        connects.increment();
        connectMicrosSum.add(micros);
        connectMicrosMax.accumulate(micros);
        proxyWide.recordValue(micros);
    }

    /** A consistent-enough copy for export (cold path: allocates). */
    public ServicePortStats snapshot() {
        return new ServicePortStats(servicePort, accepted.sum(), active.sum(), bytesFromClients.sum(),
                bytesFromBackends.sum(), connectErrors.sum(), retries.sum(), refused.sum(), deniedBySourceRange.sum(),
                udpFlows.sum(), udpDatagrams.sum(), connects.sum(), connectMicrosSum.sum(), connectMicrosMax.get());
    }
}
