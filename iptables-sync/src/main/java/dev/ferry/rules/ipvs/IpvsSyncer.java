package dev.ferry.rules.ipvs;

import dev.ferry.rules.KernelConntrackCleaner;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.ApplyException;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.RuleSyncer;
import dev.ferry.rules.StaleUdpFlows;
import dev.ferry.rules.SyncReport;
import dev.ferry.rules.ToolResult;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * IPVS mode. {@link #start} refuses to run on a kernel without ip_vs ({@link IpvsSupport}), before any
 * rule is touched. Each sync applies, in order: the service addresses on kube-ipvs0 (ip -batch,
 * -force so an existing link is fine), the ipsets (swapped atomically per set), the iptables glue
 * (one iptables-restore --noflush transaction), then the virtual servers: {@code ipvsadm -S -n} is
 * read and only the difference is applied with {@code ipvsadm -R} (deletions of virtual and real
 * servers that are no longer wanted, additions and edits), so established connections of unchanged
 * services never notice. After that, stale UDP conntrack entries are removed ({@link StaleUdpFlows}),
 * as kube-proxy's IPVS mode does. Not thread-safe: one sync loop drives it.
 */
public final class IpvsSyncer implements RuleSyncer {
    private final KernelTool tool;
    private final IpvsOptions options;
    private final StaleUdpFlows staleUdp;

    private IpvsSyncer(KernelTool tool, IpvsOptions options, KernelConntrackCleaner conntrack) {
        this.tool = tool;
        this.options = options;
        // IPVS mode programs IPv4 only (iptables-restore, IPv4 ipsets)
        this.staleUdp = new StaleUdpFlows(conntrack, true, false, org.slf4j.LoggerFactory.getLogger(IpvsSyncer.class));
    }

    /** The syncer, or the start-up failure naming the missing ip_vs module; no conntrack cleanup. */
    public static IpvsSyncer start(KernelTool tool, IpvsOptions options) throws IpvsUnavailableException {
        return start(tool, options, null);
    }

    /** As {@link #start(KernelTool, IpvsOptions)}, removing stale UDP conntrack entries through conntrack (null: none). */
    public static IpvsSyncer start(KernelTool tool, IpvsOptions options, KernelConntrackCleaner conntrack)
            throws IpvsUnavailableException {
        IpvsSupport.require();
        return new IpvsSyncer(tool, options, conntrack);
    }

    @Override
    public SyncReport sync(List<ServicePort> ports, boolean full) throws ApplyException, IOException {
        long t0 = System.nanoTime();
        IpvsRendering r = IpvsRenderer.render(ports, options);
        long t1 = System.nanoTime();
        apply(List.of("ip", "-force", "-batch", "-"), r.addresses(), s -> "");
        apply(List.of("ipset", "restore"), r.ipset(), s -> "");
        List<String> restore = new ArrayList<>(List.of("iptables-restore"));
        restore.addAll(KernelTool.xtablesWaitArgs());
        restore.add("--noflush");
        apply(restore, r.iptables(), s -> "");
        ToolResult saved = tool.run(List.of("ipvsadm", "-S", "-n"));
        if (!saved.ok()) {
            throw new IOException(saved.commandLine() + " failed: " + saved.stderr().strip());
        }
        String diff = IpvsDiff.between(saved.stdout(), r.ipvsadm());
        if (!diff.isEmpty()) {
            apply(List.of("ipvsadm", "-R"), diff, s -> "");
        }
        staleUdp.applied(ports);
        int lines = (int) r.ipvsadm().chars().filter(c -> c == '\n').count();
        return new SyncReport(full, lines, t1 - t0, System.nanoTime() - t1, r.rejected());
    }

    private void apply(List<String> argv, String payload, java.util.function.Function<String, String> origin)
            throws IOException, ApplyException {
        ToolResult res = tool.run(argv, payload);
        if (!res.ok()) {
            throw ApplyException.fromToolFailure(res, payload, origin);
        }
    }
}
