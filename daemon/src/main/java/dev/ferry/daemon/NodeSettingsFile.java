package dev.ferry.daemon;

import dev.ferry.model.Cidr;
import dev.ferry.model.IpAddresses;
import dev.ferry.select.NodeNetwork;
import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/**
 * The running daemon's mode and node settings (pod CIDRs, nodePortAddresses, localhostNodePorts,
 * masqueradeAll, service CIDRs, node IPs), written to the state directory at start so that
 * {@code ferry explain} decides flows with the same inputs as the daemon's rules. Written 0600
 * through a temporary file and an atomic rename, never through a symlink. Stateless.
 */
public final class NodeSettingsFile {
    public static final String NAME = "node-settings.json";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** What explain needs: the mode ("iptables", "nftables", "userspace", ...) and the network. */
    public record Settings(String mode, NodeNetwork network) {}

    private NodeSettingsFile() {}

    public static void write(Path stateDir, String mode, NodeNetwork n) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mode", mode);
        m.put("podCidrs", n.podCidrs().stream().map(Cidr::toString).toList());
        m.put("nodeIps", n.nodeIps().stream().map(IpAddresses::format).toList());
        m.put("nodePortAddresses", n.nodePortAddresses().stream().map(Cidr::toString).toList());
        m.put("localhostNodePorts", n.localhostNodePorts());
        m.put("masqueradeAll", n.masqueradeAll());
        m.put("serviceCidrs", n.serviceCidrs().stream().map(Cidr::toString).toList());
        byte[] bytes = JSON.writeValueAsString(m).getBytes(StandardCharsets.UTF_8);
        Path tmp = stateDir.resolve(NAME + ".tmp");
        Files.deleteIfExists(tmp);
        // CREATE_NEW never follows a symlink planted at tmp: it fails instead
        try (SeekableByteChannel ch = Files.newByteChannel(tmp, java.util.Set.<java.nio.file.OpenOption>of(
                StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
            ch.write(java.nio.ByteBuffer.wrap(bytes));
        }
        Files.move(tmp, stateDir.resolve(NAME), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * The daemon's settings, or null when it wrote none (an older daemon, or the file is unreadable).
     * Without node IPs in the file, this host's interface addresses are used.
     */
    @SuppressWarnings("unchecked")
    public static Settings read(Path stateDir) {
        Path f = stateDir.resolve(NAME);
        if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        try {
            Map<String, Object> m = JSON.readValue(Files.readString(f), Map.class);
            List<InetAddress> ips = addresses((List<String>) m.getOrDefault("nodeIps", List.of()));
            if (ips.isEmpty()) {
                ips = localAddresses();
            }
            NodeNetwork n = new NodeNetwork(cidrs((List<String>) m.get("podCidrs")), ips,
                    cidrs((List<String>) m.get("nodePortAddresses")), Boolean.TRUE.equals(m.get("localhostNodePorts")),
                    Boolean.TRUE.equals(m.get("masqueradeAll")), cidrs((List<String>) m.get("serviceCidrs")));
            return new Settings(String.valueOf(m.get("mode")), n);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static List<Cidr> cidrs(List<String> s) {
        return s == null ? List.of() : s.stream().map(Cidr::parse).toList();
    }

    private static List<InetAddress> addresses(List<String> s) {
        List<InetAddress> out = new ArrayList<>();
        for (String a : s) {
            InetAddress ip = IpAddresses.parse(a);
            if (ip != null) out.add(ip);
        }
        return out;
    }

    /** This host's own addresses except loopback (what addrtype LOCAL / fib type local also see). */
    public static List<InetAddress> localAddresses() {
        List<InetAddress> out = new ArrayList<>();
        try {
            for (NetworkInterface i : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                for (InetAddress a : Collections.list(i.getInetAddresses())) {
                    if (!a.isLoopbackAddress() && !a.isLinkLocalAddress()) out.add(a);
                }
            }
        } catch (SocketException e) {
            return out;
        }
        return out;
    }
}
