package dev.ferry.proxy;

import static dev.ferry.proxy.Services.ip;
import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.conntrack.ConntrackConfig;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.table.ServiceTable;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The userspace proxy started while its conntrack maps are still opening, as `ferry run` starts it
 * (opening them takes 1-2 s after a crash or a flood): TCP without affinity is served at once, and
 * what needs the maps (ClientIP affinity, UDP flows) waits for them and then follows what the previous
 * run recorded. The opener is held by the test (a latch), so the window is as long as the test needs.
 * Loopback only (127.0.0.0/8 needs no interface and no root); service addresses picked at random per
 * run so parallel runs of the suite do not collide.
 */
class ConntrackOpeningTest {
    @TempDir
    Path dir;

    private final String net = "127.0." + ThreadLocalRandom.current().nextInt(200, 250) + ".";
    private final List<AutoCloseable> open = new ArrayList<>();
    private ServiceTable table;
    private EchoBackend a;
    private EchoBackend b;
    private EchoBackend c;

    @BeforeEach
    void setUp() throws IOException {
        table = ServiceTable.create(dir.resolve("table"), 16L << 20, 100, System::currentTimeMillis);
        a = keep(EchoBackend.loopback("a"));
        b = keep(EchoBackend.loopback("b"));
        c = keep(EchoBackend.loopback("c"));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        table.close();
    }

    private <T extends AutoCloseable> T keep(T t) {
        open.add(t);
        return t;
    }

    private ServicePort plain() {
        return Services.clusterIp("plain", net + "1", 8080, Protocol.TCP, Services.loopback(a));
    }

    private ServicePort sticky() {
        return Services.build("sticky", ServiceType.CLUSTER_IP, List.of(net + "2"), 8080, 0, List.of(), List.of(),
                List.of(), SessionAffinity.CLIENT_IP, "", false, Protocol.TCP, Services.loopback(a, b, c));
    }

    private ServicePort dns() {
        return Services.clusterIp("dns", net + "3", 5353, Protocol.UDP, Services.loopback(a, b, c));
    }

    private UserspaceProxy start(ConntrackState ct) throws IOException {
        table.replaceAll(List.of(plain(), sticky(), dns()));
        UserspaceProxy p = new UserspaceProxy(table.reader(), ProxyOptions.defaults().withTransport("epoll")
                .withUdpIdleTimeout(Duration.ofSeconds(60)).withConntrack(ct));
        p.start();
        return p;
    }

    private Path conntrackDir() {
        return dir.resolve("conntrack");
    }

    private static ConntrackConfig config() {
        return ConntrackConfig.DEFAULTS.withMaxFlows(1024).withMaxAffinities(1024);
    }

    /** Runs each task on a new thread once {@code release} is counted down: an opener as slow as the test wants. */
    private static Executor heldUntil(CountDownLatch release) {
        return task -> {
            Thread t = new Thread(() -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    return;
                }
                task.run();
            }, "held-conntrack-open");
            t.setDaemon(true);
            t.start();
        };
    }

    private static String greeting(Socket s) throws IOException {
        return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
    }

    private Socket connect(String ip, String source) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(10_000);
        if (source != null) {
            s.bind(new InetSocketAddress(ip(source), 0));
        }
        s.connect(new InetSocketAddress(ip(ip), 8080), 10_000);
        return s;
    }

    private static String ask(DatagramSocket s, InetSocketAddress to, String q) throws IOException {
        s.send(new DatagramPacket(q.getBytes(StandardCharsets.UTF_8), q.length(), to));
        return receive(s);
    }

    private static String receive(DatagramSocket s) throws IOException {
        DatagramPacket reply = new DatagramPacket(new byte[100], 100);
        s.receive(reply);
        return new String(reply.getData(), 0, reply.getLength(), StandardCharsets.UTF_8);
    }

    @Test
    void tcpWithoutAffinityIsServedWhileTheConntrackMapsAreStillOpening() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        ConntrackState ct = ConntrackState.openAsync(conntrackDir(), config(), heldUntil(release));
        try (UserspaceProxy p = start(ct)) {
            assertFalse(ct.isOpen(), "the opener is held");
            for (int i = 0; i < 3; i++) {
                try (Socket s = connect(net + "1", null)) {
                    assertEquals("a", greeting(s), "served with the maps still opening");
                }
            }
            assertFalse(ct.isOpen(), "still held: nothing above waited for the maps");
            release.countDown();
            ct.opened().join();
            try (Socket s = connect(net + "1", null)) {
                assertEquals("a", greeting(s));
            }
        } finally {
            release.countDown();
            ct.close();
        }
    }

    @Test
    void affinityAndUdpFlowsWaitForTheMapsThenFollowWhatThePreviousRunRecorded() throws Exception {
        InetSocketAddress service = new InetSocketAddress(ip(net + "3"), 5353);
        List<String> sources = List.of("127.0.0.41", "127.0.0.42", "127.0.0.43", "127.0.0.44", "127.0.0.45", "127.0.0.46");
        List<String> pinned = new ArrayList<>();
        List<DatagramSocket> udpClients = new ArrayList<>();
        List<String> udpPinned = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            DatagramSocket s = keep(new DatagramSocket(new InetSocketAddress(ip("127.0.0.1"), 0)));
            s.setSoTimeout(10_000);
            udpClients.add(s);
        }
        // The previous run: pins each client (round robin spreads them over a, b and c) and records it.
        try (ConntrackState first = ConntrackState.open(conntrackDir(), config()); UserspaceProxy p = start(first)) {
            for (String src : sources) {
                try (Socket s = connect(net + "2", src)) {
                    pinned.add(greeting(s));
                }
            }
            for (DatagramSocket s : udpClients) {
                udpPinned.add(ask(s, service, "q").split(":")[0]);
            }
        }
        assertTrue(pinned.stream().distinct().count() > 1, "the first run spread its clients: " + pinned);
        assertTrue(udpPinned.stream().distinct().count() > 1, "the first run spread its UDP flows: " + udpPinned);

        // This run: the maps are held closed while the clients come back, in the reverse order (a
        // fresh round robin would then send most of them elsewhere).
        CountDownLatch release = new CountDownLatch(1);
        ConntrackState ct = ConntrackState.openAsync(conntrackDir(), config(), heldUntil(release));
        try (UserspaceProxy p = start(ct)) {
            List<Socket> waiting = new ArrayList<>();
            for (int i = sources.size() - 1; i >= 0; i--) {
                waiting.add(0, keep(connect(net + "2", sources.get(i))));
            }
            for (int i = udpClients.size() - 1; i >= 0; i--) {
                byte[] q = "r".getBytes(StandardCharsets.UTF_8);
                udpClients.get(i).send(new DatagramPacket(q, q.length, service));
            }
            try (Socket s = connect(net + "1", null)) {
                assertEquals("a", greeting(s), "TCP without affinity is served meanwhile");
            }
            assertFalse(ct.isOpen(), "the opener is still held");
            ServicePortStats udp = p.metrics("default/dns:5353/UDP");
            assertTrue(udp == null || udp.udpFlows() == 0, "no UDP flow opened without the maps");
            release.countDown();
            List<String> after = new ArrayList<>();
            for (Socket s : waiting) {
                after.add(greeting(s));
            }
            assertEquals(pinned, after, "each returning client reached its recorded backend");
            List<String> udpAfter = new ArrayList<>();
            for (DatagramSocket s : udpClients) {
                udpAfter.add(receive(s));
            }
            List<String> expected = udpPinned.stream().map(n -> n + ":r").toList();
            assertEquals(expected, udpAfter, "each held datagram went to its client's recorded backend");
            assertEquals(3, ct.flows().entries(), "the flows are still recorded for the next restart");
        } finally {
            release.countDown();
            ct.close();
        }
    }
}
