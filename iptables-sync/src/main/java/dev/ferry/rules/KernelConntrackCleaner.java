package dev.ferry.rules;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Deletes stale UDP entries from the kernel's conntrack table in the rule-based modes, the way
 * kube-proxy does. UDP has no connection to end, so an entry keeps sending a client's datagrams to
 * a dead endpoint (or keeps them dropped after "no endpoints") until it idles out; DNS clients
 * that reuse one source port never let it idle (kubernetes#19029, #125467).
 *
 * <p>The two cases, matching kube-proxy's {@code pkg/proxy/conntrack}:
 * <ul>
 *   <li>a UDP service port goes from no endpoints to some: delete entries whose original
 *       destination is the frontend ({@code --orig-dst IP --orig-port-dst PORT}, for the ClusterIP,
 *       each external and LoadBalancer IP), and for a NodePort every entry to that port
 *       ({@code --orig-port-dst NODEPORT});</li>
 *   <li>a UDP endpoint goes away: delete entries to the frontend whose reply comes from that
 *       endpoint ({@code --reply-src EP_IP --reply-port-src EP_PORT}, i.e. DNATed to it).</li>
 * </ul>
 * Runs the {@code conntrack} binary (conntrack-tools) through {@link KernelTool}. Thread-safe:
 * stateless apart from the command prefix; each call runs one process and waits for it.
 */
public final class KernelConntrackCleaner {
    private static final Pattern DELETED = Pattern.compile("(\\d+) flow entries have been deleted");
    private static final long TIMEOUT_SECONDS = 30;

    private final List<String> command;
    private final KernelTool tool;

    /** Uses {@code conntrack} from the PATH. */
    public KernelConntrackCleaner() {
        this(List.of("conntrack"));
    }

    /** {@code command} is how to run conntrack, e.g. {@code [ip, netns, exec, NS, conntrack]}. */
    public KernelConntrackCleaner(List<String> command) {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("empty conntrack command");
        }
        this.command = List.copyOf(command);
        this.tool = new KernelTool(List.of(), Duration.ofSeconds(TIMEOUT_SECONDS));
    }

    /** A UDP service frontend (ClusterIP, external or LoadBalancer IP, and port) got its first endpoints. */
    public int frontendGainedEndpoints(InetAddress frontendIp, int port) throws IOException {
        return run(frontendGainedEndpointsArgs(frontendIp, port));
    }

    /** A UDP NodePort got its first endpoints: entries to that port on any node address go. */
    public int nodePortGainedEndpoints(int nodePort, boolean ipv6) throws IOException {
        return run(nodePortGainedEndpointsArgs(nodePort, ipv6));
    }

    /** A UDP endpoint left a frontend (run once per ClusterIP / external / LoadBalancer IP). */
    public int endpointRemoved(InetAddress frontendIp, int port, InetAddress endpointIp, int endpointPort)
            throws IOException {
        return run(endpointRemovedArgs(frontendIp, port, endpointIp, endpointPort));
    }

    /** A UDP endpoint left a NodePort service. */
    public int nodePortEndpointRemoved(int nodePort, InetAddress endpointIp, int endpointPort) throws IOException {
        return run(nodePortEndpointRemovedArgs(nodePort, endpointIp, endpointPort));
    }

    static List<String> frontendGainedEndpointsArgs(InetAddress frontendIp, int port) {
        return List.of("-D", "-f", family(frontendIp), "-p", "udp",
                "--orig-dst", frontendIp.getHostAddress(), "--orig-port-dst", port(port));
    }

    static List<String> nodePortGainedEndpointsArgs(int nodePort, boolean ipv6) {
        return List.of("-D", "-f", ipv6 ? "ipv6" : "ipv4", "-p", "udp", "--orig-port-dst", port(nodePort));
    }

    static List<String> endpointRemovedArgs(InetAddress frontendIp, int port, InetAddress endpointIp, int endpointPort) {
        sameFamily(frontendIp, endpointIp);
        return List.of("-D", "-f", family(frontendIp), "-p", "udp",
                "--orig-dst", frontendIp.getHostAddress(), "--orig-port-dst", port(port),
                "--reply-src", endpointIp.getHostAddress(), "--reply-port-src", port(endpointPort));
    }

    static List<String> nodePortEndpointRemovedArgs(int nodePort, InetAddress endpointIp, int endpointPort) {
        return List.of("-D", "-f", family(endpointIp), "-p", "udp", "--orig-port-dst", port(nodePort),
                "--reply-src", endpointIp.getHostAddress(), "--reply-port-src", port(endpointPort));
    }

    /** The full command line a call runs (for logs and tests). */
    List<String> argv(List<String> args) {
        List<String> argv = new ArrayList<>(command);
        argv.addAll(args);
        return argv;
    }

    /** @return how many entries the kernel deleted (0 is success: nothing was stale) */
    int run(List<String> args) throws IOException {
        List<String> argv = argv(args);
        ToolResult r;
        try {
            r = tool.runDiscardingOutput(argv, null); // stdout lists every deleted entry: nobody reads it
        } catch (KernelTool.CannotStartException e) {
            throw new IOException(e.getMessage()
                    + "; kernel conntrack cleanup needs the conntrack tool (Debian/Ubuntu: apt-get install conntrack)", e);
        }
        String err = r.stderr().trim();
        Matcher m = DELETED.matcher(err);
        int deleted = m.find() ? Integer.parseInt(m.group(1)) : -1;
        // conntrack exits 1 when nothing matched ("0 flow entries have been deleted"): not an error.
        if (r.exitCode() == 0 || (r.exitCode() == 1 && deleted == 0)) {
            return Math.max(deleted, 0);
        }
        throw new IOException(r.commandLine() + " failed with exit code " + r.exitCode() + ": " + err);
    }

    private static String family(InetAddress a) {
        return a instanceof Inet6Address ? "ipv6" : "ipv4";
    }

    private static void sameFamily(InetAddress a, InetAddress b) {
        if ((a instanceof Inet6Address) != (b instanceof Inet6Address)) {
            throw new IllegalArgumentException("frontend " + a.getHostAddress() + " and endpoint "
                    + b.getHostAddress() + " are of different IP families");
        }
    }

    private static String port(int port) {
        if (port < 1 || port > 0xffff) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
        return Integer.toString(port);
    }
}
