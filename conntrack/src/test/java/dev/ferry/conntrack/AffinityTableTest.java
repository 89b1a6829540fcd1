package dev.ferry.conntrack;

import static dev.ferry.conntrack.Tables.backend;
import static dev.ferry.conntrack.Tables.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("unit")
class AffinityTableTest {
    @TempDir
    Path dir;
    ConntrackState state;
    AffinityTable table;
    final AffinityKey client = new AffinityKey().clientIpv4(ip(192, 168, 7, 1)).servicePortId(1001);
    final Endpoint out = new Endpoint();
    final long t0 = 1_700_000_000_000L;

    @BeforeEach
    void open() {
        state = ConntrackState.open(dir, ConntrackConfig.DEFAULTS.withMaxAffinities(1000));
        table = state.affinity();
    }

    @AfterEach
    void close() {
        state.close();
    }

    @Test
    void clientSticksToItsBackendWithinTheTimeout() {
        table.record(client, backend(1, 8080), t0, 10_000);
        assertTrue(table.lookup(client, t0 + 9_999, out), "affinity must hold 1 ms before the timeout");
        assertEquals(backend(1, 8080), out);
    }

    @Test
    void affinityEndsAfterTheTimeoutSoTheClientCanMove() {
        table.record(client, backend(1, 8080), t0, 10_000);
        assertFalse(table.lookup(client, t0 + 10_000, out), "affinity must end once timeoutSeconds have passed");
        assertEquals(1, table.expirations());
        assertEquals(0, table.entries(), "an expired entry is removed, not kept");

        table.record(client, backend(2, 8080), t0 + 10_001, 10_000);
        assertTrue(table.lookup(client, t0 + 10_002, out));
        assertEquals(backend(2, 8080), out, "after expiry the client follows the new pick");
    }

    @Test
    void eachUseRestartsTheTimeoutAsKubeProxysRecentMatchDoes() {
        table.record(client, backend(1, 8080), t0, 10_000);
        assertTrue(table.lookup(client, t0 + 8_000, out));
        assertTrue(table.lookup(client, t0 + 16_000, out), "a use at +8 s must carry affinity to +18 s");
        assertFalse(table.lookup(client, t0 + 26_001, out));
    }

    @Test
    void defaultTimeoutIsKubeProxys10800Seconds() {
        table.record(client, backend(1, 8080), t0);
        assertTrue(table.lookup(client, t0 + Duration.ofSeconds(10_799).toMillis(), out));
        AffinityKey other = new AffinityKey().clientIpv4(ip(192, 168, 7, 2)).servicePortId(1001);
        table.record(other, backend(1, 8080), t0);
        assertFalse(table.lookup(other, t0 + Duration.ofSeconds(10_800).toMillis(), out));
    }

    @Test
    void affinityIsPerServicePort() {
        table.record(client, backend(1, 8080), t0);
        AffinityKey sameClientOtherPort = new AffinityKey().clientIpv4(ip(192, 168, 7, 1)).servicePortId(1002);
        assertFalse(table.lookup(sameClientOtherPort, t0 + 1, out), "another service port has no affinity yet");
    }

    @Test
    void ipv6ClientsAndFrontendIdsWork() throws Exception {
        var v6 = java.net.InetAddress.getByName("fd00::1");
        long id = AffinityKey.frontendId(java.net.InetAddress.getByName("fd00:96::a"), 53, FlowKey.PROTO_UDP);
        AffinityKey k = new AffinityKey().clientIp(v6).servicePortId(id);
        Endpoint b6 = new Endpoint().ip(java.net.InetAddress.getByName("fd00:1::5")).port(53);
        table.record(k, b6, t0);
        assertTrue(table.lookup(k, t0 + 1, out));
        assertEquals("[fd00:1:0:0:0:0:0:5]:53", out.toString());
        long v4a = AffinityKey.frontendId(java.net.InetAddress.getByName("10.96.0.10"), 53, 17);
        long v4b = AffinityKey.frontendId(java.net.InetAddress.getByName("10.96.0.10"), 53, 6);
        assertTrue(v4a != v4b && v4a >= 0 && id < 0, "v4 ids are exact and positive, v6 ids negative");
    }
}
