package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.model.Protocol;
import io.netty.channel.uring.IoUring;
import java.io.IOException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every loopback case again with the io_uring transport asked for explicitly (accept, connect,
 * relay, half-close, back-pressure; UDP runs on epoll beside it, see Transport.forUdp), plus how a
 * request for it resolves.
 */
class LoopbackProxyIoUringTest extends LoopbackProxyTest {

    @Override
    String transport() {
        return "io_uring";
    }

    @BeforeEach
    void needsIoUring() {
        // A kernel with io_uring disabled (kernel.io_uring_disabled=2, or a seccomp filter in a
        // container) cannot run these; TransportTest pins the fallback.
        assumeTrue(IoUring.isAvailable(), () -> "io_uring unavailable here: " + IoUring.unavailabilityCause());
    }

    @Test
    void theProxyRunsOnIoUringWhenAskedFor() throws IOException {
        EchoBackend a = backend("a");
        start(ProxyOptions.defaults().withTransport("io_uring"), Services.clusterIp("ring", "127.0.10.30", 8080,
                Protocol.TCP, Services.loopback(a)));
        assertEquals("io_uring", proxy.transport());
        for (int i = 0; i < 3; i++) {
            assertEquals("a", greeting("127.0.10.30", 8080, null));
        }
    }
}
