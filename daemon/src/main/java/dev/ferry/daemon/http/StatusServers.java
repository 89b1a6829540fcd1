package dev.ferry.daemon.http;

import dev.ferry.daemon.config.BindAddress;
import java.io.IOException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's two HTTP servers: health (/healthz, /livez) and metrics (/metrics). As in kube-proxy
 * (without bindAddressHardFail), an address that cannot be bound is not fatal: the failure is logged
 * and the bind retried every {@value #RETRY_SECONDS} s until it succeeds or the daemon stops, so
 * that a daemon replacing kube-proxy on a node where kube-proxy still holds the ports starts once it
 * is gone. Thread-safe; close() stops both servers and the retries.
 */
public final class StatusServers implements AutoCloseable {
    static final int RETRY_SECONDS = 5;
    private static final Logger LOG = LoggerFactory.getLogger(StatusServers.class);

    private final ScheduledExecutorService retries = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ferry-http-bind");
        t.setDaemon(true);
        return t;
    });
    private HealthServer health;
    private MetricsServer metrics;
    private boolean closed;

    /** Starts both servers now, or keeps retrying in the background. */
    public StatusServers(BindAddress healthAddress, ProxierHealth proxierHealth, BindAddress metricsAddress,
                         ProxyMetrics proxyMetrics) {
        this(healthAddress, proxierHealth, metricsAddress, proxyMetrics, null);
    }

    /**
     * As {@link #StatusServers(BindAddress, ProxierHealth, BindAddress, ProxyMetrics)}, taking over
     * {@code early} (a health server bound before start-up, or null) when it is on {@code healthAddress};
     * else it is closed and the address bound as usual.
     */
    public StatusServers(BindAddress healthAddress, ProxierHealth proxierHealth, BindAddress metricsAddress,
                         ProxyMetrics proxyMetrics, HealthServer early) {
        if (early != null && early.address().equals(healthAddress)) {
            early.serve(proxierHealth, proxyMetrics);
            synchronized (this) {
                health = early;
            }
            LOG.info("serving /healthz and /livez on {} (bound before the configuration was read)", healthAddress);
        } else {
            if (early != null) {
                early.close(); // bound from a guess at the flags that the full configuration overrode
            }
            bindHealth(healthAddress, proxierHealth, proxyMetrics);
        }
        bindMetrics(metricsAddress, proxyMetrics);
    }

    private synchronized void bindHealth(BindAddress address, ProxierHealth h, ProxyMetrics m) {
        if (closed) return;
        try {
            health = HealthServer.start(address, h, m);
            LOG.info("serving /healthz and /livez on {}", address);
        } catch (IOException e) {
            LOG.error("cannot serve /healthz and /livez on {} ({}); retrying every {} s", address, e.toString(), RETRY_SECONDS);
            retries.schedule(() -> bindHealth(address, h, m), RETRY_SECONDS, TimeUnit.SECONDS);
        }
    }

    private synchronized void bindMetrics(BindAddress address, ProxyMetrics m) {
        if (closed) return;
        try {
            metrics = MetricsServer.start(address, m);
            LOG.info("serving /metrics on {}", address);
        } catch (IOException e) {
            LOG.error("cannot serve /metrics on {} ({}); retrying every {} s", address, e.toString(), RETRY_SECONDS);
            retries.schedule(() -> bindMetrics(address, m), RETRY_SECONDS, TimeUnit.SECONDS);
        }
    }

    /** True once both servers listen. */
    public synchronized boolean listening() {
        return health != null && metrics != null;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        retries.shutdownNow();
        if (health != null) health.close();
        if (metrics != null) metrics.close();
    }
}
