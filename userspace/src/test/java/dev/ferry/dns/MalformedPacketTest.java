package dev.ferry.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Protocol;
import dev.ferry.table.ServiceTable;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Bad packets get FORMERR or nothing; a bounded fuzz loop of random and mutated packets, over UDP
 * and TCP, never stops the responder from answering.
 */
class MalformedPacketTest {
    static final long SEED = 0x5EED_F00DL;
    static Path dir;
    static ServiceTable table;
    static DnsServer server;
    static InetSocketAddress addr;

    @BeforeAll
    static void start() throws Exception {
        Dig.requireDig();
        dir = Files.createTempDirectory("ferry-dns-fuzz");
        table = ServiceTable.create(dir, 16L << 20, 2_000, System::currentTimeMillis);
        table.put(TestZone.clusterIp("default", "web", "http", Protocol.TCP, 80, List.of("10.96.0.10"), List.of()));
        table.put(TestZone.bigHeadless("default", "big", 300));
        server = new DnsServer(table.reader(), DnsOptions.of(new InetSocketAddress("127.0.0.1", 0)));
        server.start();
        addr = server.udpAddress();
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) server.close();
        if (table != null) table.close();
        if (dir != null) {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** A well-formed query for web.default.svc.cluster.local A. */
    static byte[] query(int id) {
        byte[] name = encodeName("web.default.svc.cluster.local");
        byte[] q = new byte[12 + name.length + 4];
        q[0] = (byte) (id >> 8);
        q[1] = (byte) id;
        q[2] = 0x01; // RD
        q[5] = 1;    // QDCOUNT
        System.arraycopy(name, 0, q, 12, name.length);
        q[q.length - 3] = 1; // type A
        q[q.length - 1] = 1; // class IN
        return q;
    }

    static byte[] encodeName(String name) {
        byte[] out = new byte[name.length() + 2];
        int at = 0;
        for (String label : name.split("\\.")) {
            out[at++] = (byte) label.length();
            for (char c : label.toCharArray()) out[at++] = (byte) c;
        }
        return Arrays.copyOf(out, at + 1);
    }

    /** Sends one datagram and returns the reply, or null when none comes within the wait. */
    static byte[] exchange(DatagramSocket s, byte[] packet, int waitMillis) throws IOException {
        s.send(new DatagramPacket(packet, packet.length, addr));
        s.setSoTimeout(waitMillis);
        byte[] buf = new byte[65535];
        DatagramPacket in = new DatagramPacket(buf, buf.length);
        try {
            s.receive(in);
            return Arrays.copyOf(buf, in.getLength());
        } catch (SocketTimeoutException none) {
            return null;
        }
    }

    static int rcode(byte[] reply) {
        return reply[3] & 0xF;
    }

    static int id(byte[] reply) {
        return ((reply[0] & 0xff) << 8) | (reply[1] & 0xff);
    }

    @Test
    void aWellFormedRawQueryIsAnswered() throws IOException {
        try (DatagramSocket s = new DatagramSocket()) {
            byte[] r = exchange(s, query(0x1234), 3_000);
            assertEquals(0x1234, id(r));
            assertEquals(0, rcode(r));
            assertEquals(1, r[7], "one answer");
        }
    }

    @Test
    void aCompressionLoopInTheQuestionIsFormerrWithTheQueryId() throws IOException {
        byte[] p = {0x0A, 0x0B, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, (byte) 0xC0, 12, 0, 1, 0, 1};
        try (DatagramSocket s = new DatagramSocket()) {
            byte[] r = exchange(s, p, 3_000);
            assertEquals(0x0A0B, id(r));
            assertEquals(1, rcode(r), "FORMERR");
            assertTrue((r[2] & 0x80) != 0, "a response");
        }
    }

    @Test
    void aTruncatedQuestionOrAbsurdCountsAreFormerr() throws IOException {
        byte[] q = query(7);
        byte[] cut = Arrays.copyOf(q, q.length - 3);
        byte[] absurd = q.clone();
        absurd[4] = (byte) 0xFF;
        absurd[5] = (byte) 0xFF;
        absurd[10] = (byte) 0xFF;
        try (DatagramSocket s = new DatagramSocket()) {
            assertEquals(1, rcode(exchange(s, cut, 3_000)));
            assertEquals(1, rcode(exchange(s, absurd, 3_000)));
        }
    }

    @Test
    void twoQuestionsAreFormerr() throws IOException {
        byte[] q = query(9);
        byte[] two = new byte[q.length + q.length - 12];
        System.arraycopy(q, 0, two, 0, q.length);
        System.arraycopy(q, 12, two, q.length, q.length - 12);
        two[5] = 2;
        try (DatagramSocket s = new DatagramSocket()) {
            assertEquals(1, rcode(exchange(s, two, 3_000)));
        }
    }

    @Test
    void responsesAndRuntsAreDroppedWithoutAnAnswer() throws IOException {
        byte[] response = query(11);
        response[2] |= (byte) 0x80;
        try (DatagramSocket s = new DatagramSocket()) {
            assertNull(exchange(s, response, 500), "never answer an answer");
            assertNull(exchange(s, new byte[] {1, 2, 3}, 500), "a runt has no id to answer");
        }
    }

    @Test
    void anOversizedDatagramGetsFormerrOrNothingAndTheServerStillAnswers() throws IOException {
        byte[] big = Arrays.copyOf(query(13), 60_000);
        try (DatagramSocket s = new DatagramSocket()) {
            byte[] r = exchange(s, big, 1_000);
            assertTrue(r == null || rcode(r) == 1 || rcode(r) == 0, "FORMERR, nothing, or an answer ignoring padding");
            assertEquals(0, rcode(exchange(s, query(14), 3_000)));
        }
    }

    @Test
    void aBoundedFuzzLoopOfRandomAndMutatedPacketsNeverStopsTheResponder() throws IOException {
        Random random = new Random(SEED);
        long deadline = System.nanoTime() + 20_000_000_000L;
        int sent = 0;
        try (DatagramSocket s = new DatagramSocket()) {
            s.setSoTimeout(1);
            byte[] sink = new byte[65535];
            for (int i = 0; i < 20_000 && System.nanoTime() < deadline; i++) {
                byte[] p;
                switch (i % 4) {
                    case 0 -> {
                        p = new byte[random.nextInt(600)];
                        random.nextBytes(p);
                    }
                    case 1 -> {
                        p = query(i);
                        for (int m = 0, n = 1 + random.nextInt(4); m < n; m++) {
                            p[random.nextInt(p.length)] = (byte) random.nextInt(256);
                        }
                    }
                    case 2 -> p = Arrays.copyOf(query(i), random.nextInt(query(i).length + 40));
                    default -> {
                        p = query(i);
                        p[2] &= 0x7F; // keep it a query so it is parsed further
                        p[4 + 2 * random.nextInt(4)] = (byte) random.nextInt(256);
                        p[5 + 2 * random.nextInt(4)] = (byte) random.nextInt(256);
                    }
                }
                s.send(new DatagramPacket(p, p.length, addr));
                sent++;
                if (i % 64 == 0) { // drain replies now and then so our own socket buffer does not fill
                    for (int d = 0; d < 64; d++) {
                        try {
                            s.receive(new DatagramPacket(sink, sink.length));
                        } catch (SocketTimeoutException empty) {
                            break;
                        }
                    }
                }
            }
        }
        assertTrue(sent > 1000, "sent " + sent);
        Dig.Result r = Dig.query(addr.getPort(), "web.default.svc.cluster.local", "A");
        assertEquals(List.of("10.96.0.10"), r.answers("A"), "still answers after " + sent + " fuzz packets: "
                + server.counters());
        assertEquals(300, Dig.query(addr.getPort(), "big.default.svc.cluster.local", "A", "+tcp").answerCount());
    }

    @Test
    void garbageOnTcpClosesThatConnectionOnlyAndTcpStillAnswers() throws IOException {
        Random random = new Random(SEED);
        for (int c = 0; c < 20; c++) {
            try (Socket s = new Socket()) {
                s.connect(server.tcpAddress(), 3_000);
                s.setSoTimeout(3_000);
                OutputStream out = s.getOutputStream();
                byte[] junk = new byte[2 + random.nextInt(300)];
                random.nextBytes(junk);
                junk[0] = 0;
                junk[1] = (byte) (junk.length - 2);
                out.write(junk);
                out.flush();
                InputStream in = s.getInputStream();
                // Either a FORMERR-ish reply or a close; never a hang past the deadline.
                try {
                    in.read();
                } catch (SocketTimeoutException | java.net.SocketException closed) {
                    // a reset or nothing within 3 s: both are acceptable, the deadline bounds the wait
                }
            }
        }
        try (Socket s = new Socket()) {
            s.connect(server.tcpAddress(), 3_000);
            s.setSoTimeout(3_000);
            byte[] q = query(0x4242);
            OutputStream out = s.getOutputStream();
            out.write(new byte[] {0, (byte) q.length});
            out.write(q);
            out.write(new byte[] {0, (byte) q.length});
            out.write(q);
            out.flush();
            DataInputStream in = new DataInputStream(s.getInputStream());
            for (int k = 0; k < 2; k++) {
                byte[] r = new byte[in.readUnsignedShort()];
                in.readFully(r);
                assertEquals(0x4242, id(r), "pipelined queries on one connection are both answered");
                assertEquals(0, rcode(r));
            }
        }
    }
}
