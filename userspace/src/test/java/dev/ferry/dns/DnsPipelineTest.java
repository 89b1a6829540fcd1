package dev.ferry.dns;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.ferry.model.Protocol;
import dev.ferry.table.ServiceTable;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramPacket;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The responder's UDP pipeline as DnsServer builds it ({@link DatagramQueryDecoder} then
 * {@link QueryHandler}, no forwarder) on an {@link EmbeddedChannel}: datagrams in, datagrams out,
 * no socket and no dig. Malformed queries get FORMERR with their id; runts and anything that is
 * not a query get nothing, so Ferry never answers an answer.
 */
@Tag("unit")
class DnsPipelineTest {
    static final InetSocketAddress SERVER = new InetSocketAddress(TestZone.ip("127.0.0.1"), 53);
    static final InetSocketAddress CLIENT = new InetSocketAddress(TestZone.ip("10.0.0.7"), 40000);

    @TempDir
    Path dir;

    private ServiceTable table;
    private final QueryCounters counters = new QueryCounters();
    private EmbeddedChannel udp;

    @BeforeEach
    void pipeline() throws IOException {
        table = ServiceTable.create(dir, 16L << 20, 2_000, System::currentTimeMillis);
        table.put(TestZone.clusterIp("default", "web", "http", Protocol.TCP, 80, List.of("10.96.0.10"), List.of()));
        ClusterZone zone = new ClusterZone(table.reader(), "cluster.local", 30);
        udp = new EmbeddedChannel(new DatagramQueryDecoder(counters), new QueryHandler(zone, null, counters));
    }

    @AfterEach
    void close() throws IOException {
        udp.finishAndReleaseAll();
        table.close();
    }

    /** A query header (id, flags, counts) followed by the given bytes. */
    private static ByteBuf header(int id, int flags, int questions, int additional) {
        ByteBuf b = Unpooled.buffer();
        b.writeShort(id).writeShort(flags).writeShort(questions).writeShort(0).writeShort(0).writeShort(additional);
        return b;
    }

    private static ByteBuf name(ByteBuf b, String dotted) {
        for (String label : dotted.split("\\.")) {
            b.writeByte(label.length()).writeBytes(label.getBytes(StandardCharsets.US_ASCII));
        }
        return b.writeByte(0);
    }

    private static ByteBuf query(int id, String qname, int qtype, int qclass) {
        return name(header(id, 0x0100, 1, 0), qname).writeShort(qtype).writeShort(qclass);
    }

    /** The one datagram the pipeline wrote back, or null; checks it goes to the client. */
    private ByteBuf reply(ByteBuf packet) {
        udp.writeInbound(new DatagramPacket(packet, SERVER, CLIENT));
        DatagramPacket out = udp.readOutbound();
        if (out == null) {
            return null;
        }
        assertEquals(CLIENT, out.recipient(), "the reply goes to the query's sender");
        assertNull(udp.readOutbound(), "one reply per query");
        return out.content();
    }

    private static int rcode(ByteBuf r) {
        return r.getUnsignedShort(2) & 0xF;
    }

    @Test
    void aServiceNameIsAnsweredWithItsClusterIp() {
        ByteBuf r = reply(query(0x1234, "web.default.svc.cluster.local", ClusterZone.A, 1));
        assertNotNull(r);
        assertEquals(0x1234, r.getUnsignedShort(0), "id echoed");
        assertEquals(0x8000, r.getUnsignedShort(2) & 0x8000, "a response");
        assertEquals(ClusterZone.NOERROR, rcode(r));
        assertEquals(1, r.getUnsignedShort(6), "one answer");
        byte[] rdata = new byte[4];
        r.getBytes(r.writerIndex() - 4, rdata);
        assertArrayEquals(new byte[] {10, 96, 0, 10}, rdata, "the A record is the ClusterIP");
        r.release();
        assertEquals(1, counters.answeredFromTable.sum());
    }

    @Test
    void aQueryCutShortInsideItsNameGetsFormerrWithItsId() {
        ByteBuf q = query(0x0BAD, "web.default.svc.cluster.local", ClusterZone.A, 1);
        ByteBuf r = reply(q.writerIndex(20));
        assertNotNull(r, "a truncated query is answered");
        assertEquals(0x0BAD, r.getUnsignedShort(0));
        assertEquals(DatagramQueryDecoder.FORMERR, rcode(r));
        assertEquals(12, r.readableBytes(), "FORMERR is a bare header");
        r.release();
        assertEquals(1, counters.formErrors.sum());
    }

    @Test
    void aCompressionPointerLoopGetsFormerr() {
        ByteBuf q = header(7, 0x0100, 1, 0);
        q.writeShort(0xC00C).writeShort(ClusterZone.A).writeShort(1); // the name points at itself
        ByteBuf r = reply(q);
        assertNotNull(r);
        assertEquals(DatagramQueryDecoder.FORMERR, rcode(r));
        r.release();
    }

    @Test
    void aRuntIsDroppedWithoutAReply() {
        assertNull(reply(Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4, 5})));
        assertEquals(1, counters.dropped.sum());
        assertEquals(0, counters.formErrors.sum());
    }

    @Test
    void anAnswerIsNeverAnsweredWellFormedOrNot() {
        ByteBuf response = name(header(9, 0x8180, 1, 0), "web.default.svc.cluster.local").writeShort(ClusterZone.A).writeShort(1);
        assertNull(reply(response), "a response got a reply: a reflection loop between two responders");
        ByteBuf broken = header(10, 0x8180, 1, 0).writeByte(63);
        assertNull(reply(broken));
        assertEquals(2, counters.dropped.sum());
    }

    @Test
    void twoQuestionsGetFormerr() {
        ByteBuf q = name(header(11, 0x0100, 2, 0), "web.default.svc.cluster.local").writeShort(ClusterZone.A).writeShort(1);
        name(q, "web.default.svc.cluster.local").writeShort(ClusterZone.A).writeShort(1);
        ByteBuf r = reply(q);
        assertNotNull(r);
        assertEquals(QueryHandler.FORMERR, rcode(r));
        r.release();
    }

    @Test
    void anotherOpcodeGetsNotimpAndAnotherClassFormerr() {
        ByteBuf status = name(header(12, 0x1100, 1, 0), "web.default.svc.cluster.local").writeShort(ClusterZone.A).writeShort(1);
        ByteBuf r = reply(status);
        assertEquals(QueryHandler.NOTIMP, rcode(r));
        r.release();
        r = reply(query(13, "web.default.svc.cluster.local", ClusterZone.A, 3)); // CHAOS
        assertEquals(QueryHandler.FORMERR, rcode(r));
        r.release();
    }

    @Test
    void ednsVersionOneGetsBadversInTheOptRecord() {
        ByteBuf q = name(header(14, 0x0100, 1, 1), "web.default.svc.cluster.local").writeShort(ClusterZone.A).writeShort(1);
        // OPT: root name, type 41, payload 1232, extended rcode 0, version 1, flags 0, no data.
        q.writeByte(0).writeShort(41).writeShort(1232).writeByte(0).writeByte(1).writeShort(0).writeShort(0);
        ByteBuf r = reply(q);
        assertNotNull(r);
        assertEquals(QueryHandler.BADVERS & 0xF, rcode(r));
        assertEquals(1, r.getUnsignedShort(10), "the OPT record is echoed");
        int opt = r.writerIndex() - 11;
        assertEquals(41, r.getUnsignedShort(opt + 1));
        assertEquals(QueryHandler.BADVERS >>> 4, r.getUnsignedByte(opt + 5), "the upper rcode bits are in the OPT record");
        r.release();
    }

    @Test
    void aNameOutsideTheZoneIsRefusedWithoutAForwarder() {
        ByteBuf r = reply(query(15, "example.com", ClusterZone.A, 1));
        assertNotNull(r);
        assertEquals(QueryHandler.REFUSED, rcode(r));
        r.release();
        assertEquals(1, counters.refused.sum());
    }
}
