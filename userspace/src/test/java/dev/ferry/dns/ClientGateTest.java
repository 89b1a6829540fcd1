package dev.ferry.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Cidr;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The UDP gate before decoding: allow-list and per-source rate, without sockets. */
@Tag("unit")
class ClientGateTest {
    static final InetSocketAddress SERVER = new InetSocketAddress("10.0.0.53", 53);
    final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    final QueryCounters counters = new QueryCounters();

    EmbeddedChannel gate(List<Cidr> allowed, int perSecond) {
        return new EmbeddedChannel(new ClientGate(allowed, new ClientRateLimit(perSecond, nanos::get), counters));
    }

    static DatagramPacket query(String source, int id, boolean response) {
        ByteBuf b = Unpooled.buffer();
        b.writeShort(id);
        b.writeShort((response ? 0x8000 : 0) | 0x0100); // RD
        b.writeShort(1).writeZero(6);
        b.writeBytes(new byte[] {3, 'w', 'w', 'w', 0, 0, 1, 0, 1});
        return new DatagramPacket(b, SERVER, new InetSocketAddress(source, 40000));
    }

    @Test
    void aQueryFromAnAllowedSourcePassesOnUntouched() {
        EmbeddedChannel ch = gate(List.of(Cidr.parse("10.244.0.0/16")), 100);
        DatagramPacket q = query("10.244.3.7", 7, false);
        ch.writeInbound(q);
        assertSame(q, ch.readInbound());
        assertNull(ch.readOutbound());
        q.release();
    }

    @Test
    void aQueryFromOutsideTheAllowedCidrsGetsABareRefusedWithItsIdAndIsCounted() {
        EmbeddedChannel ch = gate(List.of(Cidr.parse("10.244.0.0/16")), 100);
        ch.writeInbound(query("192.0.2.9", 0x1234, false));
        assertNull(ch.readInbound(), "not passed to the decoder");
        DatagramPacket r = ch.readOutbound();
        ByteBuf b = r.content();
        assertEquals(new InetSocketAddress("192.0.2.9", 40000), r.recipient());
        assertEquals(12, b.readableBytes(), "header only: never larger than the query");
        assertEquals(0x1234, b.getUnsignedShort(0));
        assertEquals(0x8105, b.getUnsignedShort(2), "QR, RD echoed, REFUSED");
        assertEquals(1, counters.refusedClients());
        r.release();
    }

    @Test
    void aResponseFromOutsideIsDroppedWithoutAnAnswer() {
        EmbeddedChannel ch = gate(List.of(), 100);
        ch.writeInbound(query("192.0.2.9", 1, true));
        assertNull(ch.readOutbound(), "never answer an answer");
        assertEquals(1, counters.refusedClients());
    }

    @Test
    void aSourceOverItsRateIsDroppedUntilItsBudgetRefillsWhileOtherSourcesAreAnswered() {
        EmbeddedChannel ch = gate(List.of(Cidr.parse("0.0.0.0/0")), 10);
        int passed = 0;
        for (int i = 0; i < 50; i++) {
            ch.writeInbound(query("10.1.1.1", i, false));
            DatagramPacket p = ch.readInbound();
            if (p != null) {
                passed++;
                p.release();
            }
        }
        assertEquals(10, passed, "a burst of one second's worth (10) at a standing clock");
        assertEquals(40, counters.rateLimited());
        ch.writeInbound(query("10.1.1.2", 99, false));
        DatagramPacket other = ch.readInbound();
        assertTrue(other != null, "another source has its own budget");
        other.release();
        nanos.addAndGet(100_000_000L); // 0.1 s: one more query's worth
        ch.writeInbound(query("10.1.1.1", 100, false));
        DatagramPacket refilled = ch.readInbound();
        assertTrue(refilled != null, "budget refills with time");
        refilled.release();
        ch.writeInbound(query("10.1.1.1", 101, false));
        assertNull(ch.readInbound());
    }

    @Test
    void loopbackIsNeverRateLimited() throws Exception {
        ClientRateLimit rate = new ClientRateLimit(1, nanos::get);
        for (int i = 0; i < 100; i++) {
            assertTrue(rate.tryAcquire(InetAddress.getByName("127.0.0.1")));
        }
        assertTrue(rate.tryAcquire(InetAddress.getByName("10.0.0.1")));
        assertFalse(rate.tryAcquire(InetAddress.getByName("10.0.0.1")));
    }
}
