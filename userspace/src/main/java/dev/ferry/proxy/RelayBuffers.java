package dev.ferry.proxy;

import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;

/**
 * How much one read of a relayed TCP connection may take (Netty adapts between the bounds, so a
 * short request still gets a small buffer). Netty's default ceiling of 64 KiB cost bulk streams a
 * recv, a pipeline pass and a send per 64 KiB: with 256 KiB one iperf3 stream went from 1.15× to
 * 1.38–1.52× HAProxy in an interleaved A/B (benchmarks/RESULTS.md, issue 5).
 */
final class RelayBuffers {
    /** Largest read; {@code -Dferry.proxy.readMax} overrides it for measurements. */
    static final int READ_MAX = Integer.getInteger("ferry.proxy.readMax", 256 * 1024);

    /** Shareable: it only makes per-channel handles. */
    private static final RecvByteBufAllocator READS = new AdaptiveRecvByteBufAllocator(64, 2048, READ_MAX);

    private RelayBuffers() {}

    static RecvByteBufAllocator reads() {
        return READS;
    }
}
