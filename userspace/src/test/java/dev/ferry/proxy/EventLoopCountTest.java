package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.model.Protocol;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How many event loops the proxy relays on: one per core unless ioThreads asks for a number. */
@Tag("unit")
class EventLoopCountTest {
    @TempDir
    Path dir;

    @Test
    void oneEventLoopPerCoreUnlessAsked() throws Exception {
        int cores = Runtime.getRuntime().availableProcessors();
        assertEquals(cores, UserspaceProxy.eventLoops(ProxyOptions.defaults()));
        assertEquals(3, UserspaceProxy.eventLoops(ProxyOptions.defaults().withIoThreads(3)));
        try (LoopbackFixture fixture = new LoopbackFixture(dir, 16L << 20)) {
            EchoBackend b = fixture.backend("b");
            UserspaceProxy proxy = fixture.start(ProxyOptions.defaults(),
                    Services.clusterIp("web", "127.0.10.33", 8080, Protocol.TCP, Services.loopback(b)));
            assertEquals(cores, proxy.eventLoopCount(), "not Netty's default of two per core");
            assertEquals("b", LoopbackProxyTest.greeting("127.0.10.33", 8080, null));
        }
    }
}
