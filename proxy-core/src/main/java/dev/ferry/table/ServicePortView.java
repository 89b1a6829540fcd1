package dev.ferry.table;

import static dev.ferry.table.RecordLayout.*;

import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.FrontendKind;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import java.lang.invoke.VarHandle;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.agrona.concurrent.AtomicBuffer;

/**
 * A flyweight over one service-port record in the table: primitive accessors read the mapped
 * memory directly and allocate nothing. Not thread-safe: each reader thread keeps its own view and
 * re-points it with every lookup.
 *
 * <p>How to read consistently: look up, read what you need (copy primitives out), then call
 * {@link #isValid()}. Records are immutable while live and freed blocks are reused only after a
 * grace period, so {@code isValid()} is practically always true; when it is false the record was
 * recycled while you read it and you must look it up again. Accessors on such a recycled record
 * may also throw {@link IndexOutOfBoundsException}; treat that the same way.
 *
 * <p>Methods returning {@code String} or model objects allocate and are for cold paths (dump, logs).
 */
public final class ServicePortView {
    private AtomicBuffer buffer;
    private int block = -1;
    private int base;
    private long stamp;
    private int matchedFrontend = -1;

    /** Points this view at the block; false when the block is not (yet) a published record. */
    boolean wrap(AtomicBuffer buffer, int block) {
        long s = buffer.getLongAcquire(block + TableLayout.B_STAMP);
        if (s == 0) {
            this.block = -1;
            return false;
        }
        this.buffer = buffer;
        this.block = block;
        this.base = block + TableLayout.BLOCK_HEADER;
        this.stamp = s;
        this.matchedFrontend = -1;
        return true;
    }

    /** True while the record this view was pointed at has not been recycled since the lookup. */
    public boolean isValid() {
        if (block < 0) {
            return false;
        }
        VarHandle.acquireFence(); // the reads of the record happen before the stamp re-check
        return buffer.getLongVolatile(block + TableLayout.B_STAMP) == stamp;
    }

    /** A number that changes whenever this service port's record is rewritten (for change detection). */
    public long stamp() {
        return stamp;
    }

    /**
     * The index of the frontend that a frontend or node-port lookup matched (so the caller knows
     * whether cluster or external endpoint selection applies); -1 after a lookup by name.
     */
    public int matchedFrontend() {
        return matchedFrontend;
    }

    void matchedFrontend(int i) {
        this.matchedFrontend = i;
    }

    int block() {
        return block;
    }

    int length() {
        return buffer.getInt(base + R_LENGTH);
    }

    public Protocol protocol() {
        return Protocol.ofOrdinal(protocolOrdinal());
    }

    public int protocolOrdinal() {
        return buffer.getByte(base + R_PROTOCOL);
    }

    public ServiceType type() {
        return ServiceType.ofOrdinal(buffer.getByte(base + R_TYPE));
    }

    public boolean headless() {
        return (buffer.getByte(base + R_FLAGS) & FLAG_HEADLESS) != 0;
    }

    public boolean publishNotReadyAddresses() {
        return (buffer.getByte(base + R_FLAGS) & FLAG_PUBLISH_NOT_READY) != 0;
    }

    public boolean proxyProtocol() {
        return (buffer.getByte(base + R_FLAGS) & FLAG_PROXY_PROTOCOL) != 0;
    }

    public SessionAffinity sessionAffinity() {
        return SessionAffinity.ofOrdinal(buffer.getByte(base + R_AFFINITY));
    }

    public boolean clientIpAffinity() {
        return buffer.getByte(base + R_AFFINITY) == SessionAffinity.CLIENT_IP.ordinal();
    }

    public int affinityTimeoutSeconds() {
        return buffer.getInt(base + R_AFFINITY_TIMEOUT);
    }

    public TrafficPolicy externalTrafficPolicy() {
        return TrafficPolicy.ofOrdinal(buffer.getByte(base + R_ETP));
    }

    public TrafficPolicy internalTrafficPolicy() {
        return TrafficPolicy.ofOrdinal(buffer.getByte(base + R_ITP));
    }

    public int port() {
        return buffer.getInt(base + R_PORT);
    }

    public int nodePort() {
        return buffer.getInt(base + R_NODE_PORT);
    }

    public int healthCheckNodePort() {
        return buffer.getInt(base + R_HEALTH_CHECK_NODE_PORT);
    }

    // Frontends.

    public int frontendCount() {
        return buffer.getShort(base + R_FRONTEND_COUNT);
    }

    private int frontendAt(int i) {
        return base + buffer.getInt(base + R_FRONTENDS) + i * FRONTEND_SIZE;
    }

    public FrontendKind frontendKind(int i) {
        return FrontendKind.ofOrdinal(buffer.getByte(frontendAt(i) + F_KIND));
    }

    /** 4, 6, or 0 for a NodePort frontend (any node address). */
    public int frontendFamily(int i) {
        return buffer.getByte(frontendAt(i) + F_FAMILY);
    }

    public int frontendPort(int i) {
        return buffer.getInt(frontendAt(i) + F_PORT);
    }

    public long frontendHi(int i) {
        return buffer.getLong(frontendAt(i) + F_HI);
    }

    public long frontendLo(int i) {
        return buffer.getLong(frontendAt(i) + F_LO);
    }

    /** Null for a NodePort frontend. Allocates. */
    public InetAddress frontendAddress(int i) {
        return AddressBits.toInetAddress(frontendFamily(i), frontendHi(i), frontendLo(i));
    }

    boolean frontendMatches(int i, int family, long hi, long lo, int port) {
        int at = frontendAt(i);
        return buffer.getByte(at + F_FAMILY) == family && buffer.getInt(at + F_PORT) == port
                && buffer.getLong(at + F_HI) == hi && buffer.getLong(at + F_LO) == lo;
    }

    // Source ranges.

    public int sourceRangeCount() {
        return buffer.getInt(base + R_RANGE_COUNT);
    }

    private int rangeAt(int i) {
        return base + buffer.getInt(base + R_RANGES) + i * RANGE_SIZE;
    }

    /**
     * True when the service has no source ranges, or one of them contains the address given in
     * primitives. Allocation-free; for the proxy's accept path.
     */
    public boolean sourceAllowed(int family, long hi, long lo) {
        int n = sourceRangeCount();
        if (n == 0) {
            return true;
        }
        for (int i = 0; i < n; i++) {
            int at = rangeAt(i);
            if (buffer.getByte(at + G_FAMILY) != family) {
                continue;
            }
            int prefix = buffer.getByte(at + G_PREFIX) & 0xff;
            long rhi = buffer.getLong(at + G_HI);
            long rlo = buffer.getLong(at + G_LO);
            if (family == FAMILY_V4) {
                long mask = prefix == 0 ? 0 : (0xFFFFFFFFL << (32 - prefix)) & 0xFFFFFFFFL;
                if ((lo & mask) == rlo) return true;
            } else {
                long mhi = prefix == 0 ? 0 : prefix >= 64 ? -1L : -1L << (64 - prefix);
                long mlo = prefix <= 64 ? 0 : prefix == 128 ? -1L : -1L << (128 - prefix);
                if ((hi & mhi) == rhi && (lo & mlo) == rlo) return true;
            }
        }
        return false;
    }

    // Endpoints.

    public int endpointCount() {
        return buffer.getInt(base + R_ENDPOINT_COUNT);
    }

    private int endpointAt(int i) {
        return base + buffer.getInt(base + R_ENDPOINTS) + i * ENDPOINT_SIZE;
    }

    public int endpointFamily(int i) {
        return buffer.getByte(endpointAt(i) + E_FAMILY);
    }

    public int endpointPort(int i) {
        return buffer.getInt(endpointAt(i) + E_PORT);
    }

    public long endpointHi(int i) {
        return buffer.getLong(endpointAt(i) + E_HI);
    }

    public long endpointLo(int i) {
        return buffer.getLong(endpointAt(i) + E_LO);
    }

    /** IPv4 endpoint address as a big-endian int. */
    public int endpointIpv4(int i) {
        return (int) endpointLo(i);
    }

    public boolean endpointReady(int i) {
        return (buffer.getByte(endpointAt(i) + E_FLAGS) & EP_READY) != 0;
    }

    public boolean endpointServing(int i) {
        return (buffer.getByte(endpointAt(i) + E_FLAGS) & EP_SERVING) != 0;
    }

    public boolean endpointTerminating(int i) {
        return (buffer.getByte(endpointAt(i) + E_FLAGS) & EP_TERMINATING) != 0;
    }

    /** Selected by this node for traffic that arrived on a ClusterIP frontend. */
    public boolean endpointForClusterTraffic(int i) {
        return (buffer.getByte(endpointAt(i) + E_FLAGS) & EP_CLUSTER_TRAFFIC) != 0;
    }

    /** Selected by this node for traffic that arrived on an external frontend (NodePort, externalIP, LB IP). */
    public boolean endpointForExternalTraffic(int i) {
        return (buffer.getByte(endpointAt(i) + E_FLAGS) & EP_EXTERNAL_TRAFFIC) != 0;
    }

    /** Whether endpoint i may serve traffic that arrived on frontend f (by its kind). */
    public boolean endpointUsableFrom(int i, int frontend) {
        int flag = buffer.getByte(frontendAt(frontend) + F_KIND) == FrontendKind.CLUSTER_IP.ordinal()
                ? EP_CLUSTER_TRAFFIC : EP_EXTERNAL_TRAFFIC;
        return (buffer.getByte(endpointAt(i) + E_FLAGS) & flag) != 0;
    }

    public InetAddress endpointAddress(int i) {
        return AddressBits.toInetAddress(endpointFamily(i), endpointHi(i), endpointLo(i));
    }

    public String endpointNodeName(int i) {
        return stringAt(buffer.getInt(endpointAt(i) + E_NODE_NAME));
    }

    public String endpointZone(int i) {
        return stringAt(buffer.getInt(endpointAt(i) + E_ZONE));
    }

    public String endpointHostname(int i) {
        return stringAt(buffer.getInt(endpointAt(i) + E_HOSTNAME));
    }

    public List<String> endpointForZones(int i) {
        String s = stringAt(buffer.getInt(endpointAt(i) + E_FOR_ZONES));
        return s.isEmpty() ? List.of() : Arrays.asList(s.split(","));
    }

    // Strings.

    public String namespace() {
        return stringSlot(S_NAMESPACE);
    }

    public String name() {
        return stringSlot(S_NAME);
    }

    public String portName() {
        return stringSlot(S_PORT_NAME);
    }

    public String externalName() {
        return stringSlot(S_EXTERNAL_NAME);
    }

    public String targetPort() {
        return stringSlot(S_TARGET_PORT);
    }

    public String trafficDistribution() {
        return stringSlot(S_TRAFFIC_DISTRIBUTION);
    }

    public String lbAlgorithm() {
        return stringSlot(S_LB_ALGORITHM);
    }

    public ServicePortName servicePortName() {
        return new ServicePortName(namespace(), name(), portName(), protocol());
    }

    /** Compares the identity without allocating (ASCII names, as Kubernetes requires, compare byte-wise). */
    boolean nameEquals(CharSequence namespace, CharSequence name, CharSequence portName, int protocol) {
        return protocolOrdinal() == protocol
                && stringEquals(S_NAMESPACE, namespace)
                && stringEquals(S_NAME, name)
                && stringEquals(S_PORT_NAME, portName);
    }

    private boolean stringEquals(int slot, CharSequence s) {
        int off = buffer.getInt(base + R_STRINGS + slot * 4);
        if (off == 0) {
            return s.length() == 0;
        }
        int len = buffer.getShort(base + off) & 0xFFFF;
        if (len != s.length()) {
            return false;
        }
        int at = base + off + 2;
        for (int i = 0; i < len; i++) {
            char c = s.charAt(i);
            if (c > 0x7f || buffer.getByte(at + i) != (byte) c) {
                return c > 0x7f && stringSlot(slot).contentEquals(s);
            }
        }
        return true;
    }

    private String stringSlot(int slot) {
        return stringAt(buffer.getInt(base + R_STRINGS + slot * 4));
    }

    private String stringAt(int off) {
        if (off == 0) {
            return "";
        }
        int len = buffer.getShort(base + off) & 0xFFFF;
        byte[] b = new byte[len];
        buffer.getBytes(base + off + 2, b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /** A heap copy of the whole service port (allocates; for dump and tests). */
    public ServicePort toServicePort() {
        List<InetAddress> clusterIPs = new ArrayList<>();
        List<InetAddress> externalIPs = new ArrayList<>();
        List<InetAddress> lbIPs = new ArrayList<>();
        for (int i = 0, n = frontendCount(); i < n; i++) {
            switch (frontendKind(i)) {
                case CLUSTER_IP -> clusterIPs.add(frontendAddress(i));
                case EXTERNAL_IP -> externalIPs.add(frontendAddress(i));
                case LOAD_BALANCER -> lbIPs.add(frontendAddress(i));
                default -> { }
            }
        }
        List<Cidr> ranges = new ArrayList<>();
        for (int i = 0, n = sourceRangeCount(); i < n; i++) {
            int at = rangeAt(i);
            ranges.add(new Cidr(AddressBits.toInetAddress(buffer.getByte(at + G_FAMILY), buffer.getLong(at + G_HI),
                    buffer.getLong(at + G_LO)), buffer.getByte(at + G_PREFIX) & 0xff));
        }
        List<Endpoint> eps = new ArrayList<>();
        for (int i = 0, n = endpointCount(); i < n; i++) {
            eps.add(new Endpoint(endpointAddress(i), endpointPort(i), endpointReady(i), endpointServing(i),
                    endpointTerminating(i), endpointNodeName(i), endpointZone(i), endpointForZones(i),
                    endpointHostname(i), endpointForClusterTraffic(i), endpointForExternalTraffic(i)));
        }
        return new ServicePort(servicePortName(), type(), headless(), externalName(), clusterIPs, port(), targetPort(),
                nodePort(), externalIPs, lbIPs, sessionAffinity(), affinityTimeoutSeconds(), externalTrafficPolicy(),
                internalTrafficPolicy(), ranges, healthCheckNodePort(), trafficDistribution(),
                publishNotReadyAddresses(), lbAlgorithm(), proxyProtocol(), eps);
    }
}
