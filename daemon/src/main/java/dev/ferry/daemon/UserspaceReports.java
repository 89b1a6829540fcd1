package dev.ferry.daemon;

import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
import dev.ferry.proxy.UserspaceProxy;

/**
 * What `ferry run` reports about the userspace proxy: its bounds as metrics and its listener budget
 * in /healthz. A class of its own so that RunCommand's methods (picocli reads them all by
 * reflection at start) name no userspace proxy type: a kernel-mode daemon then never loads the
 * proxy's classes (nor Netty's, which their signatures name).
 */
public final class UserspaceReports {
    private UserspaceReports() {}

    public static void register(UserspaceProxy proxy, ProxyMetrics metrics, ProxierHealth health) {
        metrics.userspaceBounds(proxy.bounds());
        health.report("listener budget", () -> dev.ferry.daemon.NodeAgent.refusedListenersReason(proxy.refusedListeners()));
    }
}
