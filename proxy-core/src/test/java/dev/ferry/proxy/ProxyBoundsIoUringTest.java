package dev.ferry.proxy;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.uring.IoUring;
import org.junit.jupiter.api.BeforeEach;

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
}
