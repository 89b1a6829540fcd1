package dev.ferry.proxy;

import static dev.ferry.proxy.Services.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.conntrack.Flow;
import dev.ferry.conntrack.FlowKey;
import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import io.netty.channel.Channel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a client or a Service can make the proxy hold is bounded (issue 13, findings 2 and 5): a
 * UDP flood from endless source ports, a Service with hundreds of ports, a storm of failed
 * accepts. Bounds are hit, counted and logged once per interval; the other services keep serving.
 * Loopback only; epoll here, io_uring in ProxyBoundsIoUringTest.
 */
class ProxyBoundsTest {
    private static final int FLOWS = 300;
    private static final int FLOWS_PER_CLIENT = 100;
    private static final String FLOOD_IP = "127.0.10.40";
    private static final String QUIET_IP = "127.0.10.42";
    private static final String WEB_IP = "127.0.10.41";

    @TempDir
    Path dir;

    private LoopbackFixture fixture;
    private UserspaceProxy proxy;

    @BeforeEach
    void setUp() throws IOException {
        fixture = new LoopbackFixture(dir, 16L << 20);
    }

    @AfterEach
    void tearDown() throws IOException {
        fixture.close();
    }

    String transport() {
        return "epoll";
    }

    private ProxyOptions options(ProxyLimits limits) {
        return ProxyOptions.defaults().withTransport(transport()).withIoThreads(2).withLimits(limits);
    }

    /** Descriptors this JVM has open now (sockets included). */
    private static int openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        }
    }

    private static void waitFor(String what, BooleanSupplier condition, long seconds) throws InterruptedException {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(condition.getAsBoolean(), what + " (waited " + seconds + " s)");
    }

    private static String ask(DatagramSocket s, String ip, String q) throws IOException {
        byte[] b = q.getBytes(StandardCharsets.UTF_8);
        s.send(new DatagramPacket(b, b.length, new InetSocketAddress(ip(ip), 5353)));
        DatagramPacket reply = new DatagramPacket(new byte[100], 100);
        s.receive(reply);
        return new String(reply.getData(), 0, reply.getLength(), StandardCharsets.UTF_8);
    }

    private boolean flowKnown(String client, int clientPort) {
        FlowKey k = new FlowKey().clientIp(ip(client)).clientPort(clientPort).frontendIp(ip(FLOOD_IP))
                .frontendPort(5353).protocol(FlowKey.PROTO_UDP);
        return fixture.conntrack.flows().lookup(k, System.currentTimeMillis(), new Flow());
    }

    /**
     * Sends one datagram from each of {@code ports} fresh source ports of {@code client} and waits
     * (at most half a second) for its answer before the next: as fast as the proxy takes them, since
     * datagrams sent faster only overflow the frontend socket's receive buffer in the kernel.
     */
    private static Thread flooder(String client, int ports, AtomicLong sent) {
        Thread t = new Thread(() -> {
            byte[] q = "flood".getBytes(StandardCharsets.UTF_8);
            DatagramPacket p = new DatagramPacket(q, q.length, new InetSocketAddress(ip(FLOOD_IP), 5353));
            DatagramPacket reply = new DatagramPacket(new byte[100], 100);
            for (int i = 0; i < ports; i++) {
                try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip(client), 0))) {
                    s.setSoTimeout(500);
                    s.send(p);
                    sent.incrementAndGet();
                    s.receive(reply);
                } catch (java.net.SocketTimeoutException e) {
                    // an answer lost to an eviction racing it: the next port goes on
                } catch (IOException e) {
                    return; // the sent count reports it
                }
            }
        }, "flood-" + client);
        t.start();
        return t;
    }

    @Test
    void aUdpFloodFromEndlessSourcePortsStaysWithinTheFlowBoundsWhileTcpKeepsServing() throws Exception {
        EchoBackend dns = fixture.backend("dns");
        EchoBackend web = fixture.backend("web");
        proxy = fixture.start(options(new ProxyLimits(FLOWS, FLOWS_PER_CLIENT, 1000, 1000))
                        .withUdpIdleTimeout(Duration.ofSeconds(8)), // longer than any phase, even on a loaded machine
                Services.clusterIp("flood", FLOOD_IP, 5353, Protocol.UDP, Services.loopback(dns)),
                Services.clusterIp("quiet", QUIET_IP, 5353, Protocol.UDP, Services.loopback(dns)),
                Services.clusterIp("web", WEB_IP, 8080, Protocol.TCP, Services.loopback(web)));
        assertEquals("web", LoopbackProxyTest.greeting(WEB_IP, 8080, null));
        int baseline = openFds();

        // One client past its own bound: its least recently used flow (the first) goes, the newest stay.
        List<Integer> ports = new ArrayList<>();
        List<DatagramSocket> clients = new ArrayList<>(); // all open at once: distinct ports
        try {
            for (int i = 0; i < FLOWS_PER_CLIENT + 50; i++) {
                DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip("127.0.0.50"), 0));
                clients.add(s);
                s.setSoTimeout(3000);
                assertEquals("dns:q" + i, ask(s, FLOOD_IP, "q" + i));
                ports.add(s.getLocalPort());
            }
        } finally {
            clients.forEach(DatagramSocket::close);
        }
        ProxyBounds bounds = proxy.bounds();
        assertEquals(50, bounds.evictions(ProxyBounds.Eviction.UDP_PER_CLIENT), "one eviction per flow past the bound");
        assertFalse(flowKnown("127.0.0.50", ports.get(0)), "the client's oldest flow was evicted");
        assertFalse(flowKnown("127.0.0.50", ports.get(49)), "and the next oldest ones");
        assertTrue(flowKnown("127.0.0.50", ports.get(ports.size() - 1)), "its newest flow lives");
        assertTrue(flowKnown("127.0.0.50", ports.get(50)), "the oldest flow within the bound lives");
        assertEquals(FLOWS_PER_CLIENT, bounds.udpFlows());

        // Four clients flood from fresh ports; TCP to another service is used all along.
        AtomicLong sent = new AtomicLong();
        AtomicBoolean flooding = new AtomicBoolean(true);
        AtomicInteger tcpOk = new AtomicInteger();
        List<String> tcpErrors = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread tcp = new Thread(() -> {
            while (flooding.get()) {
                try {
                    String g = LoopbackProxyTest.greeting(WEB_IP, 8080, null);
                    if ("web".equals(g)) {
                        tcpOk.incrementAndGet();
                    } else {
                        tcpErrors.add("greeting " + g);
                    }
                } catch (IOException e) {
                    tcpErrors.add(e.toString());
                }
            }
        }, "tcp-during-flood");
        tcp.start();
        List<Thread> floods = new ArrayList<>();
        for (int c = 60; c < 64; c++) {
            floods.add(flooder("127.0.0." + c, 2000, sent));
        }
        int peakFds = 0;
        for (Thread t : floods) {
            while (t.isAlive()) {
                peakFds = Math.max(peakFds, openFds());
                t.join(5);
            }
        }
        flooding.set(false);
        tcp.join(10_000);
        assertEquals(8000, sent.get(), "every flood datagram was sent");
        assertEquals(List.of(), tcpErrors, "TCP to another service failed during the flood");
        assertTrue(tcpOk.get() > 0, "TCP was used during the flood");
        assertTrue(bounds.udpFlowsPeak() <= FLOWS, "flows peaked at " + bounds.udpFlowsPeak() + " > " + FLOWS);
        // Backend sockets are the flows: the flood's thousands of ports never became thousands of sockets.
        assertTrue(peakFds <= baseline + FLOWS + 50, "descriptors peaked at " + peakFds + ", baseline " + baseline);
        String counts = "flows " + bounds.udpFlows() + ", evictions per client "
                + bounds.evictions(ProxyBounds.Eviction.UDP_PER_CLIENT) + ", global "
                + bounds.evictions(ProxyBounds.Eviction.UDP_GLOBAL) + ", datagrams "
                + proxy.metrics("default/flood:5353/UDP").udpDatagrams();
        assertTrue(bounds.evictions(ProxyBounds.Eviction.UDP_GLOBAL) > 0, "the global bound evicted flows: " + counts);

        // Every flow is taken by the flood's frontend now: a flow to another frontend is refused, and counted.
        assertEquals(FLOWS, bounds.udpFlows(), "the flood holds every flow: " + counts);
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip("127.0.0.70"), 0))) {
            byte[] b = "late".getBytes(StandardCharsets.UTF_8);
            s.send(new DatagramPacket(b, b.length, new InetSocketAddress(ip(QUIET_IP), 5353)));
        }
        waitFor("the refused flow is counted", () -> bounds.refusals(ProxyBounds.Refusal.UDP_FLOWS) >= 1, 5);

        assertEquals("web", LoopbackProxyTest.greeting(WEB_IP, 8080, null), "TCP after the flood");
        // The idle sweep still runs: every flow and its backend socket goes after the 8 s timeout.
        waitFor("all flows idle out", () -> bounds.udpFlows() == 0, 25);
        waitFor("backend sockets closed", () -> {
            try {
                return openFds() <= baseline + 5;
            } catch (IOException e) {
                return false;
            }
        }, 10);
        assertEquals(0, fixture.conntrack.flows().entries(), "conntrack forgot them too");
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip("127.0.0.71"), 0))) {
            s.setSoTimeout(3000);
            assertEquals("dns:again", ask(s, QUIET_IP, "again"), "new flows are admitted again");
        }
    }

    /** A service port with its own port name, so that one Service can have many. */
    private static ServicePort port(String service, String ip, int port, List<Endpoint> eps) {
        return new ServicePort(new ServicePortName("default", service, "p" + port, Protocol.TCP), ServiceType.CLUSTER_IP,
                false, "", List.of(IpAddresses.parse(ip)), port, String.valueOf(port), 0, List.of(), List.of(),
                SessionAffinity.NONE, 0, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, List.<Cidr>of(), 0, "", false,
                "", false, eps);
    }

    @Test
    void aServiceWithManyPortsGetsHalfTheListenerBudgetAndTheRestIsRefusedAndCounted() throws Exception {
        EchoBackend a = fixture.backend("a");
        List<ServicePort> ports = new ArrayList<>();
        for (int p = 9000; p < 9040; p++) {
            ports.add(port("big", "127.0.10.50", p, Services.loopback(a)));
        }
        ports.add(port("small", "127.0.10.51", 8080, Services.loopback(a)));
        // Two event loops: a TCP frontend takes two sockets; 24 sockets hold 12 frontends, 6 of one Service.
        ProxyOptions o = options(new ProxyLimits(100, 100, 100, 24));
        PrintStream err = System.err;
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        System.setErr(new PrintStream(log, true, StandardCharsets.UTF_8));
        try {
            proxy = fixture.start(o, ports.toArray(ServicePort[]::new));
        } finally {
            System.setErr(err);
        }
        assertEquals("a", LoopbackProxyTest.greeting("127.0.10.51", 8080, null), "the small Service is served");
        for (int p = 9000; p < 9006; p++) {
            assertEquals("a", LoopbackProxyTest.greeting("127.0.10.50", p, null), "port " + p + " is served");
        }
        for (int p : new int[] {9006, 9020, 9039}) {
            assertThrows(ConnectException.class, () -> LoopbackProxyTest.greeting("127.0.10.50", p, null),
                    "port " + p + " is past the Service's half of the budget: not listened on");
        }
        ProxyBounds bounds = proxy.bounds();
        assertEquals(34, bounds.refusals(ProxyBounds.Refusal.LISTENERS));
        assertEquals(14, bounds.listenerSockets());
        List<String> refused = proxy.refusedListeners();
        assertEquals(34, refused.size());
        assertEquals("default/big: TCP 127.0.10.50:9006", refused.get(0));
        String logged = log.toString(StandardCharsets.UTF_8);
        assertEquals(1, logged.lines().filter(l -> l.contains("[listeners]")).count(), "one line for 34 refusals:\n" + logged);

        // Another Service still finds room; the same table again counts nothing twice.
        ports.add(port("later", "127.0.10.52", 8080, Services.loopback(a)));
        fixture.update(ports.toArray(ServicePort[]::new));
        assertEquals("a", LoopbackProxyTest.greeting("127.0.10.52", 8080, null), "a later Service is served");
        assertEquals(34, bounds.refusals(ProxyBounds.Refusal.LISTENERS), "still refused, not counted again");
    }

    @Test
    void failedAcceptsAreCountedLoggedOncePerIntervalAndTheListenerRecovers() throws Exception {
        EchoBackend a = fixture.backend("a");
        proxy = fixture.start(options(new ProxyLimits(100, 100, 100, 100)),
                Services.clusterIp("web", WEB_IP, 8080, Protocol.TCP, Services.loopback(a)));
        List<Channel> listeners = proxy.listenerChannels();
        assertEquals(2, listeners.size(), "one listener per event loop");
        int perListener = 5000;
        PrintStream err = System.err;
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        System.setErr(new PrintStream(log, true, StandardCharsets.UTF_8));
        try {
            for (Channel l : listeners) {
                // What the transport fires when accept(2) fails, e.g. for want of descriptors (finding 5).
                l.eventLoop().submit(() -> {
                    for (int i = 0; i < perListener; i++) {
                        l.pipeline().fireExceptionCaught(new IOException("accept(..) failed: Too many open files"));
                    }
                }).sync();
            }
        } finally {
            System.setErr(err);
        }
        assertEquals(2L * perListener, proxy.bounds().refusals(ProxyBounds.Refusal.ACCEPT_ERROR));
        String logged = log.toString(StandardCharsets.UTF_8);
        assertTrue(logged.lines().count() <= 1, "10 000 failed accepts, at most one log line:\n"
                + logged.substring(0, Math.min(logged.length(), 4000)));
        // The listeners pause a second, then accept again.
        assertEquals("a", LoopbackProxyTest.greeting(WEB_IP, 8080, null));
    }

    @Test
    void connectionsPastTheBoundAreResetAndCountedWhileTheOthersGoOn() throws Exception {
        EchoBackend a = fixture.backend("a");
        proxy = fixture.start(options(new ProxyLimits(100, 100, 3, 100)),
                Services.clusterIp("web", WEB_IP, 8080, Protocol.TCP, Services.loopback(a)));
        List<java.net.Socket> held = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                java.net.Socket s = LoopbackProxyTest.open(WEB_IP, 8080, null);
                held.add(s);
                assertEquals('a', s.getInputStream().read());
            }
            assertThrows(IOException.class, () -> {
                try (java.net.Socket s = LoopbackProxyTest.open(WEB_IP, 8080, null)) {
                    if (s.getInputStream().read() < 0) {
                        throw new IOException("EOF");
                    }
                }
            }, "a fourth connection is reset");
            assertEquals(1, proxy.bounds().refusals(ProxyBounds.Refusal.CONNECTIONS));
            held.get(0).getOutputStream().write("x".getBytes(StandardCharsets.UTF_8));
            assertTrue(held.get(0).getInputStream().read() >= 0, "a held connection still relays");
        } finally {
            for (java.net.Socket s : held) {
                s.close();
            }
        }
        waitFor("slots given back", () -> proxy.bounds().connections() == 0, 5);
        assertEquals("a", LoopbackProxyTest.greeting(WEB_IP, 8080, null), "connections are admitted again");
    }
}
