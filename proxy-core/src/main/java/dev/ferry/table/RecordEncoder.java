package dev.ferry.table;

import static dev.ferry.table.RecordLayout.*;

import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.Frontend;
import dev.ferry.model.ServicePort;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.agrona.ExpandableArrayBuffer;

/**
 * Serialises a {@link ServicePort} into the record layout, into a scratch buffer the writer reuses.
 * Single-threaded (the writer's). The scratch is compared with the live record so that an
 * unchanged service port is not rewritten.
 */
final class RecordEncoder {
    /** A record's strings are length-prefixed with an unsigned short. */
    static final int MAX_STRING_BYTES = 0xFFFF;

    private final ExpandableArrayBuffer scratch = new ExpandableArrayBuffer(4096);
    private int stringsCursor;

    ExpandableArrayBuffer buffer() {
        return scratch;
    }

    /** Encodes sp; returns the record length in bytes. */
    int encode(ServicePort sp) {
        List<Frontend> frontends = sp.frontends();
        List<Cidr> ranges = sp.loadBalancerSourceRanges();
        List<Endpoint> endpoints = sp.endpoints();
        if (frontends.size() > Short.MAX_VALUE) {
            throw new IllegalArgumentException(sp.name() + ": too many frontends (" + frontends.size() + ")");
        }
        int frontendsAt = R_HEADER;
        int rangesAt = frontendsAt + frontends.size() * FRONTEND_SIZE;
        int endpointsAt = rangesAt + ranges.size() * RANGE_SIZE;
        stringsCursor = endpointsAt + endpoints.size() * ENDPOINT_SIZE;
        // Clear the fixed part so that padding is deterministic and equal records compare equal.
        scratch.setMemory(0, stringsCursor, (byte) 0);

        scratch.putByte(R_PROTOCOL, (byte) sp.name().protocol().ordinal());
        scratch.putByte(R_TYPE, (byte) sp.type().ordinal());
        int flags = (sp.headless() ? FLAG_HEADLESS : 0) | (sp.publishNotReadyAddresses() ? FLAG_PUBLISH_NOT_READY : 0)
                | (sp.proxyProtocol() ? FLAG_PROXY_PROTOCOL : 0);
        scratch.putByte(R_FLAGS, (byte) flags);
        scratch.putByte(R_AFFINITY, (byte) sp.sessionAffinity().ordinal());
        scratch.putByte(R_ETP, (byte) sp.externalTrafficPolicy().ordinal());
        scratch.putByte(R_ITP, (byte) sp.internalTrafficPolicy().ordinal());
        scratch.putShort(R_FRONTEND_COUNT, (short) frontends.size());
        scratch.putInt(R_PORT, sp.port());
        scratch.putInt(R_NODE_PORT, sp.nodePort());
        scratch.putInt(R_HEALTH_CHECK_NODE_PORT, sp.healthCheckNodePort());
        scratch.putInt(R_AFFINITY_TIMEOUT, sp.affinityTimeoutSeconds());
        scratch.putInt(R_ENDPOINT_COUNT, endpoints.size());
        scratch.putInt(R_RANGE_COUNT, ranges.size());
        scratch.putInt(R_FRONTENDS, frontendsAt);
        scratch.putInt(R_RANGES, rangesAt);
        scratch.putInt(R_ENDPOINTS, endpointsAt);

        putStringSlot(S_NAMESPACE, sp.name().namespace());
        putStringSlot(S_NAME, sp.name().name());
        putStringSlot(S_PORT_NAME, sp.name().portName());
        putStringSlot(S_EXTERNAL_NAME, sp.externalName());
        putStringSlot(S_TARGET_PORT, sp.targetPort());
        putStringSlot(S_TRAFFIC_DISTRIBUTION, sp.trafficDistribution());
        putStringSlot(S_LB_ALGORITHM, sp.lbAlgorithm());

        for (int i = 0; i < frontends.size(); i++) {
            Frontend f = frontends.get(i);
            int at = frontendsAt + i * FRONTEND_SIZE;
            scratch.putByte(at + F_KIND, (byte) f.kind().ordinal());
            putAddress(at + F_FAMILY, at + F_HI, at + F_LO, f.address());
            scratch.putInt(at + F_PORT, f.port());
        }
        for (int i = 0; i < ranges.size(); i++) {
            Cidr c = ranges.get(i);
            int at = rangesAt + i * RANGE_SIZE;
            putAddress(at + G_FAMILY, at + G_HI, at + G_LO, c.address());
            scratch.putByte(at + G_PREFIX, (byte) c.prefixLength());
        }
        for (int i = 0; i < endpoints.size(); i++) {
            Endpoint e = endpoints.get(i);
            int at = endpointsAt + i * ENDPOINT_SIZE;
            putAddress(at + E_FAMILY, at + E_HI, at + E_LO, e.address());
            int ef = (e.ready() ? EP_READY : 0) | (e.serving() ? EP_SERVING : 0) | (e.terminating() ? EP_TERMINATING : 0)
                    | (e.clusterTraffic() ? EP_CLUSTER_TRAFFIC : 0) | (e.externalTraffic() ? EP_EXTERNAL_TRAFFIC : 0);
            scratch.putByte(at + E_FLAGS, (byte) ef);
            scratch.putInt(at + E_PORT, e.port());
            scratch.putInt(at + E_NODE_NAME, putString(e.nodeName()));
            scratch.putInt(at + E_ZONE, putString(e.zone()));
            scratch.putInt(at + E_HOSTNAME, putString(e.hostname()));
            scratch.putInt(at + E_FOR_ZONES, putString(String.join(",", e.forZones())));
        }
        int length = stringsCursor;
        scratch.putInt(R_LENGTH, length);
        return length;
    }

    private void putAddress(int familyAt, int hiAt, int loAt, InetAddress a) {
        if (a == null) {
            scratch.putByte(familyAt, (byte) FAMILY_NONE);
            scratch.putLong(hiAt, 0L);
            scratch.putLong(loAt, 0L);
        } else {
            scratch.putByte(familyAt, (byte) AddressBits.family(a));
            scratch.putLong(hiAt, AddressBits.hi(a));
            scratch.putLong(loAt, AddressBits.lo(a));
        }
    }

    private void putStringSlot(int slot, String s) {
        scratch.putInt(R_STRINGS + slot * 4, putString(s));
    }

    /** Appends s; returns its offset, or 0 for the empty string (no bytes written). */
    private int putString(String s) {
        if (s == null || s.isEmpty()) {
            return 0;
        }
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        if (utf8.length > MAX_STRING_BYTES) {
            throw new IllegalArgumentException("string field longer than " + MAX_STRING_BYTES + " bytes");
        }
        int at = stringsCursor;
        scratch.putShort(at, (short) utf8.length);
        scratch.putBytes(at + 2, utf8);
        stringsCursor = at + 2 + utf8.length;
        return at;
    }
}
