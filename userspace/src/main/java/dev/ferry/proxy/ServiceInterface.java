package dev.ferry.proxy;

import dev.ferry.rules.KernelTool;
import dev.ferry.rules.ToolResult;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The interface Ferry creates and owns to hold service addresses locally (like IPVS mode's
 * {@code kube-ipvs0}), so the proxy can accept on ClusterIPs, externalIPs and LoadBalancer IPs. A
 * {@code dummy} link when the kernel has the driver; otherwise a bridge with no ports, which holds
 * addresses just as well. Which one was made is logged and reported by {@link #kind()}.
 *
 * <p>Drives {@code ip} (iproute2) through {@link KernelTool}, with a deadline per call. Not thread-safe: the table writer
 * thread owns it.
 */
public final class ServiceInterface {
    private static final Logger LOG = LoggerFactory.getLogger(ServiceInterface.class);
    private static final KernelTool IP = new KernelTool(List.of(), java.time.Duration.ofSeconds(10));

    private final String name;
    private final Set<InetAddress> held = new HashSet<>();
    private String kind;

    private ServiceInterface(String name) {
        this.name = name;
    }

    /**
     * Creates the link, or adopts an existing one of that name with the addresses on it: a previous
     * run left them serving, and flushing them here would refuse every ClusterIP until the table is
     * synced again. {@link #sync} removes those no longer wanted.
     *
     * @throws IOException naming the command and its output when neither dummy nor bridge works
     */
    public static ServiceInterface create(String name) throws IOException {
        ServiceInterface s = new ServiceInterface(name);
        s.kind = addLink(name);
        run("ip", "link", "set", "dev", name, "up").check();
        if (s.kind.equals("existing")) {
            s.held.addAll(observe(name).own());
            LOG.info("service addresses are held on {} (existing link, {} addresses adopted)", name, s.held.size());
        } else {
            LOG.info("service addresses are held on {} ({})", name, s.kind);
        }
        return s;
    }

    /** Adds the link unless it exists; returns "existing", "dummy" or "bridge". */
    private static String addLink(String name) throws IOException {
        if (run("ip", "link", "show", "dev", name).ok()) {
            return "existing";
        }
        Result dummy = run("ip", "link", "add", name, "type", "dummy");
        if (dummy.ok()) {
            return "dummy";
        }
        Result bridge = run("ip", "link", "add", name, "type", "bridge");
        if (!bridge.ok()) {
            throw new IOException("cannot create service interface " + name + ": dummy: " + dummy.output
                    + "; bridge: " + bridge.output);
        }
        return "bridge";
    }

    public String name() {
        return name;
    }

    /** "dummy", "bridge" or "existing". */
    public String kind() {
        return kind;
    }

    /** Whether the link held this wanted address at the last {@link #sync} (or adoption). */
    public boolean holds(InetAddress a) {
        return held.contains(a);
    }

    /** The wanted addresses the link held at the last {@link #sync} (or adoption). */
    public Set<InetAddress> held() {
        return Set.copyOf(held);
    }

    /**
     * What the kernel has now: whether the link exists and is up, the addresses on it, and the
     * addresses on every other interface (the node's own). Two {@code ip -o} calls: the JDK's
     * interface enumeration is quadratic in the number of addresses (seconds at 10 000 ClusterIPs),
     * {@code ip -o addr show} lists 10 000 in well under 100 ms.
     */
    public record Observed(boolean present, boolean up, Set<InetAddress> own, Set<InetAddress> elsewhere) {}

    /** Reads the kernel's interfaces (see {@link Observed}); link-local IPv6 addresses are left out. */
    public Observed observe() throws IOException {
        return observe(name);
    }

    static Observed observe(String link) throws IOException {
        Result l = run("ip", "-o", "link", "show", "dev", link);
        boolean present = l.ok();
        boolean up = false;
        if (present) {
            int open = l.output.indexOf('<');
            int close = l.output.indexOf('>', open + 1);
            up = open >= 0 && close > open && List.of(l.output.substring(open + 1, close).split(",")).contains("UP");
        }
        Set<InetAddress> own = new HashSet<>();
        Set<InetAddress> elsewhere = new HashSet<>();
        for (Assigned a : addresses(false)) {
            (a.link().equals(link) ? own : elsewhere).add(a.address());
        }
        return new Observed(present, up, own, elsewhere);
    }

    /** One address of one interface, as the kernel lists it. */
    public record Assigned(String link, InetAddress address) {}

    /**
     * Every address of every interface (only of those up when {@code upOnly}), in the kernel's order,
     * link-local IPv6 addresses left out; one {@code ip -o addr show} call.
     *
     * @throws IOException when {@code ip} cannot run or fails
     */
    public static List<Assigned> addresses(boolean upOnly) throws IOException {
        Result r = upOnly ? run("ip", "-o", "addr", "show", "up") : run("ip", "-o", "addr", "show");
        r.check();
        List<Assigned> out = new ArrayList<>();
        for (String line : r.output.split("\n")) {
            // "2: ferry0    inet 10.96.0.10/32 scope global ferry0\  valid_lft ..."
            String[] f = line.trim().split("\\s+", 5);
            if (f.length < 4 || !(f[2].equals("inet") || f[2].equals("inet6"))) {
                continue;
            }
            int slash = f[3].indexOf('/');
            InetAddress addr = dev.ferry.model.IpAddresses.parse(slash < 0 ? f[3] : f[3].substring(0, slash));
            if (addr == null || (addr instanceof Inet6Address v6 && v6.isLinkLocalAddress())) {
                continue;
            }
            int at = f[1].indexOf('@');
            out.add(new Assigned(at < 0 ? f[1] : f[1].substring(0, at), addr));
        }
        return out;
    }

    /** What one {@link #sync} found and did. */
    public record Synced(Set<InetAddress> restored, Set<InetAddress> removed, Set<InetAddress> missing, String error,
                         boolean relinked) {
        /** Nothing was wrong: no address had gone and none is missing now. */
        public boolean clean() {
            return restored.isEmpty() && missing.isEmpty() && !relinked;
        }
    }

    /**
     * Makes the link hold exactly {@code wanted}, less the addresses that need no copy here
     * (loopback, and those another interface of the node holds), compared against the kernel, not
     * against what this object last did: an address someone flushed is put back, one a previous run
     * left and no longer wanted is removed, a link deleted under us is recreated. Costs an
     * {@link #observe}, plus one {@code ip -batch} call when anything differs.
     *
     * @return what was restored (wanted, known to be held before, gone from the kernel), removed,
     *     and what is still missing after the attempt, with the error of a failed attempt
     */
    public Synced sync(Set<InetAddress> wanted) throws IOException {
        Observed now = observe();
        boolean relinked = false;
        if (!now.present()) {
            LOG.warn("service interface {} is gone; creating it again", name);
            kind = addLink(name);
            relinked = true;
        }
        if (!now.present() || !now.up()) {
            run("ip", "link", "set", "dev", name, "up").check();
        }
        Set<InetAddress> actual = now.own();
        List<String> lines = new ArrayList<>();
        Set<InetAddress> target = new HashSet<>();
        for (InetAddress a : wanted) {
            if (!a.isLoopbackAddress() && !now.elsewhere().contains(a)) {
                target.add(a);
                if (!actual.contains(a)) {
                    lines.add("addr replace " + cidr(a) + " dev " + name + (a instanceof Inet4Address ? "" : " nodad"));
                }
            }
        }
        Set<InetAddress> removed = new HashSet<>();
        for (InetAddress a : actual) {
            if (!target.contains(a)) {
                removed.add(a);
                lines.add("addr del " + cidr(a) + " dev " + name);
            }
        }
        Set<InetAddress> gone = new HashSet<>();
        for (InetAddress a : held) {
            if (target.contains(a) && !actual.contains(a)) {
                gone.add(a);
            }
        }
        if (lines.isEmpty()) {
            held.clear();
            held.addAll(target);
            return new Synced(Set.of(), Set.of(), Set.of(), null, relinked);
        }
        Result r = runWithInput(String.join("\n", lines) + "\n", "ip", "-force", "-batch", "-");
        String error = r.ok() ? null : "ip -batch on " + name + ": " + r.output.strip();
        Set<InetAddress> after = r.ok() ? null : observe().own();
        Set<InetAddress> missing = new HashSet<>();
        held.clear();
        for (InetAddress a : target) {
            if (after == null || after.contains(a)) {
                held.add(a);
            } else {
                missing.add(a);
            }
        }
        gone.removeAll(missing);
        if (after != null) {
            removed.removeIf(after::contains);
        }
        return new Synced(gone, removed, missing, error, relinked);
    }

    /** Removes the link (and with it every address on it); true when it existed. */
    public static boolean cleanup(String name) throws IOException {
        if (!run("ip", "link", "show", "dev", name).ok()) {
            return false;
        }
        run("ip", "link", "del", "dev", name).check();
        LOG.info("removed service interface {}", name);
        return true;
    }

    private static String cidr(InetAddress a) {
        return a.getHostAddress() + (a instanceof Inet4Address ? "/32" : "/128");
    }

    private record Result(String command, int exit, String output) {
        boolean ok() {
            return exit == 0;
        }

        void check() throws IOException {
            if (exit != 0) {
                throw new IOException(command + " failed (exit " + exit + "): " + output.strip());
            }
        }
    }

    private static Result run(String... argv) throws IOException {
        return runWithInput(null, argv);
    }

    /** Runs ip through Ferry's one kernel-tool runner (bounded output, deadline, clear errors). */
    private static Result runWithInput(String stdin, String... argv) throws IOException {
        ToolResult r = IP.run(List.of(argv), stdin);
        // Callers parse stdout (an `ip -o` listing) or show a failure's stderr: one text serves both.
        String output = r.stderr().isEmpty() ? r.stdout() : r.stdout() + r.stderr();
        return new Result(r.commandLine(), r.exitCode(), output);
    }
}
