package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Protocol;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The start-up warm-up: short connections through the proxy's own handlers on loopback, beside the
 * service listeners, leaving nothing behind and never counted as the services' connections.
 */
class ProxyWarmupTest {
    @TempDir
    Path dir;

    private LoopbackFixture fixture;

    @BeforeEach
    void setUp() throws IOException {
        fixture = new LoopbackFixture(dir, 16L << 20);
    }

    @AfterEach
    void tearDown() throws IOException {
        fixture.close();
    }

    private static Set<String> warmupDirs() throws IOException {
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ferry-warmup-"))
                    .collect(Collectors.toSet());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"auto", "epoll", "nio"})
    void warmUpRelaysItsConnectionsThenLeavesNoListenerDirectoryOrCount(String transport) throws Exception {
        EchoBackend b = fixture.backend("b");
        UserspaceProxy proxy = fixture.start(ProxyOptions.defaults().withTransport(transport),
                Services.clusterIp("web", "127.0.10.31", 8080, Protocol.TCP, Services.loopback(b)));
        Set<String> dirsBefore = warmupDirs();

        proxy.warmUp(300, Duration.ofSeconds(60));
        ProxyWarmup w = proxy.warmup();
        assertNotNull(w);
        // The service listener serves while the warm-up runs.
        assertEquals("b", LoopbackProxyTest.greeting("127.0.10.31", 8080, null));
        assertTrue(w.await(60_000), "warm-up still running after 60 s");

        assertEquals(300, w.completed(), "every warm-up connection went through the proxy and back");
        assertEquals(0, proxy.bounds().connections(), "warm-up connections are not the services' connections");
        assertEquals(List.of("TCP 127.0.10.31:8080"), List.copyOf(proxy.listenerNames()));
        assertEquals(dirsBefore, warmupDirs(), "the warm-up's table directory is deleted");
        assertEquals("b", LoopbackProxyTest.greeting("127.0.10.31", 8080, null));
        List<ServicePortStats> stats = proxy.metrics();
        assertEquals(List.of("default/web:8080/TCP"), stats.stream().map(ServicePortStats::servicePort).toList(),
                "the warm-up's service port is not among the services'");
        assertEquals(2, stats.get(0).accepted(), "only the two real connections are counted");
    }

    @ParameterizedTest
    @ValueSource(strings = {"auto"})
    void closeStopsARunningWarmUp(String transport) throws Exception {
        EchoBackend b = fixture.backend("b");
        UserspaceProxy proxy = fixture.start(ProxyOptions.defaults().withTransport(transport),
                Services.clusterIp("web", "127.0.10.32", 8080, Protocol.TCP, Services.loopback(b)));
        proxy.warmUp(10_000_000, Duration.ofMinutes(10));
        ProxyWarmup w = proxy.warmup();
        for (int i = 0; i < 3000 && w.completed() < 10; i++) {
            Thread.sleep(10);
        }
        assertTrue(w.completed() >= 10, "warm-up connections go through");

        proxy.close();

        assertTrue(w.finished(), "close() waits for the warm-up to end");
        assertTrue(w.completed() < 10_000_000);
    }
}
