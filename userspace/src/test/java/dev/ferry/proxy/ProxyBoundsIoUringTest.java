package dev.ferry.proxy;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.uring.IoUring;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every bound again on the io_uring transport (it ran out of memory under the UDP flood, issue 13). */
class ProxyBoundsIoUringTest extends ProxyBoundsTest {

    @Override
    String transport() {
        return "io_uring";
    }

    @BeforeEach
    void needsIoUring() {
        assumeTrue(IoUring.isAvailable(), () -> "io_uring unavailable here: " + IoUring.unavailabilityCause());
    }

    @Test
    void udpFlowsRunOnEpollBesideIoUring() {
        // A socket per flow costs ~60 KB on Netty's io_uring datagram channel (RSS 4.5 GB under the flood).
        assertEquals("epoll", Transport.pick("io_uring").forUdp().name());
        assertEquals("epoll", Transport.pick("epoll").forUdp().name());
    }
}
