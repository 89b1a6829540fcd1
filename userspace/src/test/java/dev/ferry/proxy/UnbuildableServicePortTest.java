package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.lb.Maglev;
import dev.ferry.model.Endpoint;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A service port whose backends cannot be built (Maglev with more endpoints than its lookup table
 * has slots) is skipped with its reason and counted; it never stops the other service ports, nor
 * ones added after it, from getting their listeners (issue 13, finding 4). Loopback only.
 */
@Tag("unit")
class UnbuildableServicePortTest {
    @TempDir
    Path dir;

    private LoopbackFixture fixture;

    @BeforeEach
    void setUp() throws IOException {
        fixture = new LoopbackFixture(dir, 256L << 20);
    }

    @AfterEach
    void tearDown() throws IOException {
        fixture.close();
    }

    /** A Maglev service port on 127.0.31.9:80 with one endpoint more than Maglev's default table has slots. */
    static ServicePort tooBigForMaglev() {
        List<Endpoint> eps = new ArrayList<>(Maglev.DEFAULT_TABLE_SIZE + 1);
        for (int i = 0; i <= Maglev.DEFAULT_TABLE_SIZE; i++) {
            eps.add(Services.ready("10.200." + (i >> 8 & 0xff) + "." + (i & 0xff), 8000 + (i >> 16)));
        }
        return Services.build("maglev-too-big", ServiceType.CLUSTER_IP, List.of("127.0.31.9"), 80, 0, List.of(),
                List.of(), List.of(), SessionAffinity.NONE, "mh", false, Protocol.TCP, eps);
    }

    @Test
    void anUnbuildableServicePortIsSkippedAndTheOthersStillListenAndAnswer() throws Exception {
        EchoBackend good = fixture.backend("good");
        EchoBackend later = fixture.backend("later");
        List<String> reported = new ArrayList<>();
        ServicePort bad = tooBigForMaglev();
        ServicePort first = Services.clusterIp("good", "127.0.31.1", 80, Protocol.TCP, Services.loopback(good));
        fixture.table.replaceAll(List.of(bad, first));
        UserspaceProxy proxy = new UserspaceProxy(fixture.table.reader(),
                ProxyOptions.defaults().withTransport("epoll").withConntrack(fixture.conntrack));
        fixture.proxy = proxy;
        proxy.onSkipped((servicePort, why) -> reported.add(servicePort + " | " + why));
        proxy.start();

        assertEquals("good", LoopbackProxyTest.greeting("127.0.31.1", 80, null), "the good service answers");
        assertThrows(ConnectException.class, () -> LoopbackProxyTest.greeting("127.0.31.9", 80, null),
                "the skipped service has no listener: refused");
        Map<String, String> skipped = proxy.skippedServicePorts();
        assertEquals(List.of("default/maglev-too-big:80/TCP"), List.copyOf(skipped.keySet()), skipped.toString());
        assertTrue(skipped.get("default/maglev-too-big:80/TCP").contains("Maglev table size"), skipped.toString());
        assertEquals(1, proxy.skipCount());
        assertEquals(1, reported.size(), reported.toString());

        // A service added afterwards converges too; the bad one (same record) is not retried nor re-reported.
        ServicePort second = Services.clusterIp("later", "127.0.31.2", 80, Protocol.TCP, Services.loopback(later));
        fixture.table.replaceAll(List.of(bad, first, second));
        assertTrue(proxy.onTableChanged(), "the new generation was taken in");
        assertEquals("later", LoopbackProxyTest.greeting("127.0.31.2", 80, null));
        assertEquals("good", LoopbackProxyTest.greeting("127.0.31.1", 80, null));
        assertEquals(1, proxy.skipCount(), "the unchanged bad record counts once");
        assertEquals(1, reported.size(), reported.toString());
        assertNull(proxy.listenFailure(), "skipping is not a listener failure");

        // Fixed (fewer endpoints): served, and no longer listed as skipped.
        ServicePort fixedBad = Services.build("maglev-too-big", ServiceType.CLUSTER_IP, List.of("127.0.31.9"), 80, 0,
                List.of(), List.of(), List.of(), SessionAffinity.NONE, "mh", false, Protocol.TCP, Services.loopback(good));
        fixture.table.replaceAll(List.of(fixedBad, first, second));
        proxy.onTableChanged();
        assertEquals("good", LoopbackProxyTest.greeting("127.0.31.9", 80, null));
        assertTrue(proxy.skippedServicePorts().isEmpty(), proxy.skippedServicePorts().toString());
    }
}
