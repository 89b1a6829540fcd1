package dev.ferry.daemon.http;

import io.prometheus.metrics.model.registry.Collector;
import io.prometheus.metrics.model.registry.MetricType;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * A latency recorded through HdrHistogram (microsecond resolution, 3 significant digits, up to one
 * hour) and exported to Prometheus as a classic histogram in seconds with fixed bucket bounds, so
 * that kube-proxy's dashboards and alerts read Ferry's metric like kube-proxy's.
 *
 * <p>Thread-safe: {@link #record} is wait-free for any number of threads (HdrHistogram's Recorder);
 * {@link #collect} is serialised and folds what was recorded since the last scrape into the total.
 */
public final class LatencyHistogram implements Collector {
    private static final long HIGHEST_MICROS = TimeUnit.HOURS.toMicros(1);

    private final String name;
    private final String help;
    private final double[] bounds;
    private final Recorder recorder = new Recorder(HIGHEST_MICROS, 3);
    private final Histogram total = new Histogram(HIGHEST_MICROS, 3);
    private final LongAdder sumNanos = new LongAdder();
    private Histogram interval;

    /** {@code bounds}: the finite bucket upper bounds in seconds, ascending (+Inf is added). */
    public LatencyHistogram(String name, String help, double[] bounds) {
        this.name = name;
        this.help = help;
        this.bounds = bounds.clone();
        for (int i = 1; i < bounds.length; i++) {
            if (!(bounds[i] > bounds[i - 1])) throw new IllegalArgumentException(name + ": bucket bounds must ascend");
        }
    }

    /** Records one latency; values above an hour count as an hour, negative ones (clock skew) as zero. */
    public void record(long nanos) {
        long n = Math.max(0, nanos);
        sumNanos.add(n);
        recorder.recordValue(Math.min(HIGHEST_MICROS, TimeUnit.NANOSECONDS.toMicros(n)));
    }

    @Override
    public synchronized MetricSnapshot collect() {
        interval = recorder.getIntervalHistogram(interval);
        total.add(interval);
        long[] counts = new long[bounds.length + 1];
        double[] upper = new double[bounds.length + 1];
        long below = 0;
        for (int i = 0; i < bounds.length; i++) {
            long micros = (long) Math.floor(bounds[i] * 1_000_000d);
            long cumulative = Math.min(total.getTotalCount(), total.getCountBetweenValues(0, micros));
            counts[i] = Math.max(0, cumulative - below);
            below += counts[i];
            upper[i] = bounds[i];
        }
        upper[bounds.length] = Double.POSITIVE_INFINITY;
        counts[bounds.length] = Math.max(0, total.getTotalCount() - below);
        return HistogramSnapshot.builder().name(name).help(help)
                .dataPoint(HistogramSnapshot.HistogramDataPointSnapshot.builder()
                        .classicHistogramBuckets(ClassicHistogramBuckets.of(upper, counts))
                        .sum(sumNanos.sum() / 1e9)
                        .build())
                .build();
    }

    /** The count of recordings so far (for tests and logs). */
    public synchronized long count() {
        interval = recorder.getIntervalHistogram(interval);
        total.add(interval);
        return total.getTotalCount();
    }

    /** A percentile of everything recorded so far, in seconds (for logs and benchmarks). */
    public synchronized double percentileSeconds(double percentile) {
        interval = recorder.getIntervalHistogram(interval);
        total.add(interval);
        return total.getValueAtPercentile(percentile) / 1e6;
    }

    @Override
    public String getPrometheusName() {
        return name;
    }

    @Override
    public MetricType getMetricType() {
        return MetricType.HISTOGRAM;
    }

    /** kube-proxy's buckets for sync durations: 1 ms doubling 15 times (up to ~16 s). */
    public static double[] exponential(double start, double factor, int count) {
        double[] b = new double[count];
        for (int i = 0; i < count; i++) {
            b[i] = start * Math.pow(factor, i);
        }
        return b;
    }

    /** kube-proxy's network programming buckets: 0.25 s, 0.5 s, 1..59 s, 60..115 s by 5, 120..300 s by 30. */
    public static double[] networkProgrammingBuckets() {
        double[] b = new double[2 + 59 + 12 + 7];
        int i = 0;
        b[i++] = 0.25;
        b[i++] = 0.5;
        for (int s = 1; s <= 59; s++) b[i++] = s;
        for (int s = 60; s <= 115; s += 5) b[i++] = s;
        for (int s = 120; s <= 300; s += 30) b[i++] = s;
        return b;
    }
}
