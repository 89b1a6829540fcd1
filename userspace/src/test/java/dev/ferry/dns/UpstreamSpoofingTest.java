package dev.ferry.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.table.ServiceTable;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Off-path cache poisoning of the forwarder: the upstream is a socket the test drives by hand, so
 * it sees each forwarded question (its source port and id) and can answer it, or forge answers as
 * an attacker on the path to the upstream would.
 */
class UpstreamSpoofingTest {
    Path dir;
    ServiceTable table;
    DnsServer server;
    DatagramSocket upstream;

    /** A forwarded question as the upstream received it. */
    record Asked(byte[] query, InetSocketAddress from) {
        int id() {
            return WireScan.u16(query, 0);
        }
    }

    @BeforeEach
    void start() throws Exception {
        Dig.requireDig();
        upstream = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
        upstream.setSoTimeout(10_000);
        dir = Files.createTempDirectory("ferry-dns-spoof");
        table = ServiceTable.create(dir, 16L << 20, 2_000, System::currentTimeMillis);
        server = new DnsServer(table.reader(), DnsOptions.of(new InetSocketAddress("127.0.0.1", 0))
                .withUpstreams(List.of((InetSocketAddress) upstream.getLocalSocketAddress()))
                .withUpstreamTimeoutMillis(5_000));
        server.start();
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) server.close();
        if (table != null) table.close();
        if (upstream != null) upstream.close();
        if (dir != null) {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    CompletableFuture<Dig.Result> digLater(String name) {
        return CompletableFuture.supplyAsync(() -> Dig.query(server.udpAddress().getPort(), name, "A"));
    }

    Asked receive() throws IOException {
        DatagramPacket p = new DatagramPacket(new byte[4096], 4096);
        upstream.receive(p);
        return new Asked(Arrays.copyOf(p.getData(), p.getLength()), (InetSocketAddress) p.getSocketAddress());
    }

    /** An answer with one A record to the question of query, with the given id and question name. */
    static byte[] answer(byte[] query, int id, String questionName, int qtype, String address) {
        byte[] name = wireName(questionName);
        byte[] out = new byte[12 + name.length + 4 + 16];
        out[0] = (byte) (id >>> 8);
        out[1] = (byte) id;
        out[2] = (byte) 0x81; // QR, RD
        out[3] = (byte) 0x80; // RA
        out[5] = 1;           // one question
        out[7] = 1;           // one answer
        System.arraycopy(name, 0, out, 12, name.length);
        int at = 12 + name.length;
        out[at] = (byte) (qtype >>> 8);
        out[at + 1] = (byte) qtype;
        out[at + 3] = 1;      // class IN
        at += 4;
        byte[] record = {(byte) 0xC0, 12, 0, 1, 0, 1, 0, 0, 0x01, 0x2C, 0, 4};
        System.arraycopy(record, 0, out, at, record.length);
        byte[] ip = ip(address);
        System.arraycopy(ip, 0, out, at + record.length, 4);
        return out;
    }

    static byte[] wireName(String dotted) {
        byte[] out = new byte[dotted.length() + 2];
        int at = 0;
        for (String label : dotted.split("\\.")) {
            byte[] b = label.getBytes(StandardCharsets.US_ASCII);
            out[at++] = (byte) b.length;
            System.arraycopy(b, 0, out, at, b.length);
            at += b.length;
        }
        out[at++] = 0;
        return Arrays.copyOf(out, at);
    }

    static byte[] ip(String s) {
        try {
            return InetAddress.getByName(s).getAddress();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    void send(DatagramSocket from, byte[] message, InetSocketAddress to) throws IOException {
        from.send(new DatagramPacket(message, message.length, to));
    }

    static Dig.Result await(CompletableFuture<Dig.Result> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    @Test
    void twoForwardedQuestionsLeaveFromDifferentSourcePortsWithDifferentIds() throws Exception {
        CompletableFuture<Dig.Result> first = digLater("one.example");
        Asked a = receive();
        send(upstream, answer(a.query(), a.id(), "one.example", 1, "192.0.2.1"), a.from());
        assertEquals(List.of("192.0.2.1"), await(first).answers("A"));
        CompletableFuture<Dig.Result> second = digLater("two.example");
        Asked b = receive();
        send(upstream, answer(b.query(), b.id(), "two.example", 1, "192.0.2.2"), b.from());
        assertEquals(List.of("192.0.2.2"), await(second).answers("A"));
        assertNotEquals(a.from().getPort(), b.from().getPort(), "each question from its own socket");
        assertNotEquals(a.id(), b.id(), "each question with its own random id");
    }

    @Test
    void anAnswerWithTheRightIdSentToTheSourcePortOfAnEarlierQuestionIsNotAccepted() throws Exception {
        CompletableFuture<Dig.Result> first = digLater("one.example");
        Asked a = receive();
        send(upstream, answer(a.query(), a.id(), "one.example", 1, "192.0.2.1"), a.from());
        await(first);
        // The attacker learnt the forwarder's port from the first question and guesses the id right.
        CompletableFuture<Dig.Result> victim = digLater("bank.example");
        Asked b = receive();
        send(upstream, answer(b.query(), b.id(), "bank.example", 1, "203.0.113.66"), a.from());
        send(upstream, answer(b.query(), b.id(), "bank.example", 1, "192.0.2.7"), b.from());
        Dig.Result r = await(victim);
        assertEquals(List.of("192.0.2.7"), r.answers("A"), "the forged answer went to a closed port\n" + r.raw());
        Dig.Result cached = Dig.query(server.udpAddress().getPort(), "bank.example", "A");
        assertEquals(List.of("192.0.2.7"), cached.answers("A"), "the cache holds the real answer\n" + cached.raw());
    }

    @Test
    void answersFromAnotherPortWithAnotherIdOrToAnotherQuestionAreDroppedAndCountedWhileTheRealOneIsAwaited()
            throws Exception {
        CompletableFuture<Dig.Result> pending = digLater("www.example");
        Asked q = receive();
        try (DatagramSocket otherPort = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
            send(otherPort, answer(q.query(), q.id(), "www.example", 1, "203.0.113.1"), q.from());
        }
        send(upstream, answer(q.query(), q.id() ^ 1, "www.example", 1, "203.0.113.2"), q.from());
        send(upstream, answer(q.query(), q.id(), "evil.example", 1, "203.0.113.3"), q.from());
        send(upstream, answer(q.query(), q.id(), "www.example", 28, "203.0.113.4"), q.from());
        // The real upstream may change the case of the name it echoes (RFC 4343: names compare without case).
        send(upstream, answer(q.query(), q.id(), "WWW.Example", 1, "192.0.2.80"), q.from());
        Dig.Result r = await(pending);
        assertEquals(List.of("192.0.2.80"), r.answers("A"), r.raw());
        assertEquals(4, server.rejectedUpstreamAnswers(), "wrong port, id, name and type each dropped and counted");
        Dig.Result cached = Dig.query(server.udpAddress().getPort(), "www.example", "A");
        assertEquals(List.of("192.0.2.80"), cached.answers("A"), "no forged answer reached the cache\n" + cached.raw());
        assertEquals(1, server.cachedAnswers());
    }
}
