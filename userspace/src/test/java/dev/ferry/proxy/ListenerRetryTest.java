package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.model.Protocol;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A frontend whose listener cannot be opened is reported (what /healthz shows) and retried by
 * {@link UserspaceProxy#reconcile()}, without a table change, until it opens. Loopback only.
 */
@Tag("unit")
class ListenerRetryTest {
    @TempDir
    Path dir;

    private LoopbackFixture fixture;

    @BeforeEach
    void setUp() throws IOException {
        fixture = new LoopbackFixture(dir, 64L << 20);
    }

    @AfterEach
    void tearDown() throws IOException {
        fixture.close();
    }

    @Test
    void aListenerThatCannotBindIsReportedAndOpensOnceThePortIsFree() throws Exception {
        EchoBackend b = fixture.backend("b");
        ServerSocket squatter = new ServerSocket();
        squatter.bind(new InetSocketAddress(Services.ip("127.0.33.1"), 0));
        int port = squatter.getLocalPort();
        UserspaceProxy proxy;
        try (squatter) {
            proxy = fixture.start(ProxyOptions.defaults().withTransport("epoll"),
                    Services.clusterIp("web", "127.0.33.1", port, Protocol.TCP, Services.loopback(b)),
                    Services.clusterIp("other", "127.0.33.2", port, Protocol.TCP, Services.loopback(b)));
            String why = proxy.listenFailure();
            assertNotNull(why, "a frontend without its listener must be reported");
            assertTrue(why.contains("127.0.33.1:" + port) && why.contains("1 frontends"), why);
            assertEquals(1, proxy.failedListeners());
            assertEquals("b", LoopbackProxyTest.greeting("127.0.33.2", port, null), "the other frontend is served");
            proxy.reconcile();
            assertNotNull(proxy.listenFailure(), "still taken: still failing");
        }
        proxy.reconcile();
        assertNull(proxy.listenFailure(), "retried without a table change once the port is free");
        assertEquals(0, proxy.failedListeners());
        assertEquals("b", LoopbackProxyTest.greeting("127.0.33.1", port, null));
    }
}
