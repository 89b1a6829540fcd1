package dev.ferry.proxy;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The interface Ferry creates and owns to hold service addresses locally (like IPVS mode's
 * {@code kube-ipvs0}), so the proxy can accept on ClusterIPs, externalIPs and LoadBalancer IPs. A
 * {@code dummy} link when the kernel has the driver; otherwise a bridge with no ports, which holds
 * addresses just as well. Which one was made is logged and reported by {@link #kind()}.
 *
 * <p>Drives {@code ip} (iproute2) with a deadline per call. Not thread-safe: the table writer
 * thread owns it.
 */
public final class ServiceInterface {
    private static final Logger LOG = LoggerFactory.getLogger(ServiceInterface.class);
    private static final long DEADLINE_SECONDS = 10;

    private final String name;
    private final Set<InetAddress> held = new HashSet<>();
    private String kind;

    private ServiceInterface(String name) {
        this.name = name;
    }

    /**
     * Creates the link (or adopts an existing one of that name) and sets it up.
     *
     * @throws IOException naming the command and its output when neither dummy nor bridge works
     */
    public static ServiceInterface create(String name) throws IOException {
        ServiceInterface s = new ServiceInterface(name);
        if (run("ip", "link", "show", "dev", name).ok()) {
            s.kind = "existing";
            run("ip", "addr", "flush", "dev", name).check();
        } else {
            Result dummy = run("ip", "link", "add", name, "type", "dummy");
            if (dummy.ok()) {
                s.kind = "dummy";
            } else {
                Result bridge = run("ip", "link", "add", name, "type", "bridge");
                if (!bridge.ok()) {
                    throw new IOException("cannot create service interface " + name + ": dummy: " + dummy.output
                            + "; bridge: " + bridge.output);
                }
                s.kind = "bridge";
            }
        }
        run("ip", "link", "set", "dev", name, "up").check();
        LOG.info("service addresses are held on {} ({})", name, s.kind);
        return s;
    }

    public String name() {
        return name;
    }

    /** "dummy", "bridge" or "existing". */
    public String kind() {
        return kind;
    }

    /** Whether Ferry added this address to the link. */
    public boolean holds(InetAddress a) {
        return held.contains(a);
    }

    /** The addresses currently added by Ferry. */
    public Set<InetAddress> held() {
        return Set.copyOf(held);
    }

    /**
     * Makes the link hold exactly {@code wanted} (minus loopback addresses, which need no
     * interface), in one {@code ip -batch} call; failures are logged (a listener on such an address
     * then fails to bind and is retried on the next change).
     */
    public void sync(Set<InetAddress> wanted) throws IOException {
        List<String> lines = new ArrayList<>();
        Set<InetAddress> toAdd = new HashSet<>();
        for (InetAddress a : wanted) {
            if (!a.isLoopbackAddress() && !held.contains(a)) {
                toAdd.add(a);
                lines.add("addr replace " + cidr(a) + " dev " + name + (a instanceof Inet4Address ? "" : " nodad"));
            }
        }
        Set<InetAddress> toRemove = new HashSet<>();
        for (InetAddress a : held) {
            if (!wanted.contains(a)) {
                toRemove.add(a);
                lines.add("addr del " + cidr(a) + " dev " + name);
            }
        }
        if (lines.isEmpty()) {
            return;
        }
        Result r = runWithInput(String.join("\n", lines) + "\n", "ip", "-force", "-batch", "-");
        held.removeAll(toRemove);
        held.addAll(toAdd);
        if (!r.ok()) {
            LOG.warn("ip -batch on {} reported: {}", name, r.output.strip());
        }
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

    private static Result runWithInput(String stdin, String... argv) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
        Process p = pb.start();
        try {
            if (stdin != null) {
                try (OutputStream out = p.getOutputStream()) {
                    out.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            } else {
                p.getOutputStream().close();
            }
            if (!p.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", argv) + " did not finish in " + DEADLINE_SECONDS + " s");
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return new Result(String.join(" ", argv), p.exitValue(), out);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted running " + String.join(" ", argv), e);
        }
    }
}
