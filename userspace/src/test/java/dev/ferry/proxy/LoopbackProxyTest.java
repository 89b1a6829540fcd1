package dev.ferry.proxy;

import static dev.ferry.proxy.Services.ip;
import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.conntrack.ConntrackState;
import dev.ferry.model.Endpoint;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy end to end on loopback addresses only (127.0.0.0/8 needs no interface and no root), so
 * every machine exercises accept → lookup → pick → connect → relay.
 */
class LoopbackProxyTest {
    @TempDir
    Path dir;

    private LoopbackFixture fixture;
    UserspaceProxy proxy;
    private ConntrackState conntrack;

    @BeforeEach
    void setUp() throws IOException {
        fixture = new LoopbackFixture(dir, 64L << 20);
        conntrack = fixture.conntrack;
    }

    @AfterEach
    void tearDown() throws IOException {
        fixture.close();
    }

    /**
     * The transport every case runs on unless it asks for another: epoll here (the fallback when
     * io_uring is unavailable), io_uring in LoopbackProxyIoUringTest, the default in the netns tests.
     */
    String transport() {
        return "epoll";
    }

    private ProxyOptions defaults() {
        return ProxyOptions.defaults().withTransport(transport());
    }

    EchoBackend backend(String name) throws IOException {
        return fixture.backend(name);
    }

    void start(ProxyOptions options, ServicePort... ports) throws IOException {
        proxy = fixture.start(options, ports);
    }

    private void update(ServicePort... ports) {
        fixture.update(ports);
    }

    /** Connects (from {@code source} when given) and returns the backend's greeting line. */
    static String greeting(String ip, int port, String source) throws IOException {
        try (Socket s = open(ip, port, source)) {
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }

    static Socket open(String ip, int port, String source) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(5000);
        if (source != null) {
            s.bind(new InetSocketAddress(ip(source), 0));
        }
        s.connect(new InetSocketAddress(ip(ip), port), 5000);
        return s;
    }

    @Test
    void clusterIpConnectionsAreSpreadRoundRobinAcrossBackends() throws IOException {
        EchoBackend a = backend("a");
        EchoBackend b = backend("b");
        EchoBackend c = backend("c");
        start(defaults(), Services.clusterIp("web", "127.0.10.1", 8080, Protocol.TCP,
                Services.loopback(a, b, c)));
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < 30; i++) {
            seen.merge(greeting("127.0.10.1", 8080, null), 1, Integer::sum);
        }
        assertEquals(Map.of("a", 10, "b", 10, "c", 10), seen, "rr over three backends");
        ServicePortStats stats = proxy.metrics("default/web:8080/TCP");
        assertEquals(30, stats.accepted());
        assertEquals(30, stats.connects());
    }

    @Test
    void theNioTransportServesToo() throws IOException {
        EchoBackend a = backend("a");
        EchoBackend b = backend("b");
        start(ProxyOptions.defaults().withPreferNative(false), Services.clusterIp("nio", "127.0.10.20", 8080,
                Protocol.TCP, Services.loopback(a, b)));
        assertEquals("nio", proxy.transport());
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            seen.add(greeting("127.0.10.20", 8080, null));
        }
        assertEquals(Set.of("a", "b"), seen);
    }

    @Test
    void bytesAreRelayedBothWaysAndHalfCloseReachesTheBackend() throws IOException {
        EchoBackend a = backend("a");
        start(defaults(), Services.clusterIp("echo", "127.0.10.2", 7000, Protocol.TCP,
                Services.loopback(a)));
        byte[] payload = new byte[1 << 20];
        new java.util.Random(7).nextBytes(payload);
        try (Socket s = open("127.0.10.2", 7000, null)) {
            var in = s.getInputStream();
            byte[] hello = new byte[2];
            assertEquals(2, in.readNBytes(hello, 0, 2));
            assertEquals("a\n", new String(hello, StandardCharsets.UTF_8));
            Thread writer = new Thread(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    out.write(payload);
                    out.flush();
                    s.shutdownOutput();
                } catch (IOException ignored) {
                    // the reader's assertion reports it
                }
            });
            writer.start();
            byte[] back = in.readAllBytes(); // ends only if our FIN reached the backend and its FIN came back
            assertArrayEquals(payload, back, "1 MiB echoed intact, then EOF");
        }
    }

    @Test
    void serviceWithoutEndpointsRefusesConnections() throws IOException {
        start(defaults(), Services.clusterIp("empty", "127.0.10.3", 8080, Protocol.TCP, List.of()));
        assertThrows(ConnectException.class, () -> greeting("127.0.10.3", 8080, null),
                "no listener for a frontend without endpoints: the kernel refuses");
        assertEquals(0, proxy.listenerCount());
    }

    @Test
    void aRefusingBackendIsRetriedOnTheNextOne() throws IOException {
        EchoBackend a = backend("a");
        int dead;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            dead = s.getLocalPort(); // closed again at once: connecting there is refused
        }
        List<Endpoint> eps = List.of(Services.ready("127.0.0.1", dead), Services.ready("127.0.0.1", a.port()));
        start(defaults(), Services.clusterIp("retry", "127.0.10.4", 8080, Protocol.TCP, eps));
        for (int i = 0; i < 10; i++) {
            assertEquals("a", greeting("127.0.10.4", 8080, null), "connection " + i);
        }
        ServicePortStats stats = proxy.metrics("default/retry:8080/TCP");
        assertEquals(5, stats.retries(), "rr sends every second connection to the dead one first");
        assertEquals(5, stats.connectErrors());
        assertEquals(0, stats.refused());
    }

    @Test
    void allBackendsRefusingResetsTheClient() throws IOException {
        int dead;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            dead = s.getLocalPort();
        }
        start(defaults(), Services.clusterIp("dead", "127.0.10.5", 8080, Protocol.TCP,
                List.of(Services.ready("127.0.0.1", dead))));
        assertThrows(SocketException.class, () -> {
            try (Socket s = open("127.0.10.5", 8080, null)) {
                s.getInputStream().read(); // the reset may already hit the connect on loopback
            }
        }, "reset, not a clean EOF");
        assertEquals(1, proxy.metrics("default/dead:8080/TCP").refused());
    }

    @Test
    void removedEndpointKeepsItsConnectionButGetsNoNewOnes() throws IOException {
        EchoBackend a = backend("a");
        EchoBackend b = backend("b");
        ServicePort both = Services.clusterIp("roll", "127.0.10.6", 8080, Protocol.TCP, Services.loopback(a, b));
        start(defaults(), both);
        Socket longLived = open("127.0.10.6", 8080, null);
        BufferedReader r = new BufferedReader(new InputStreamReader(longLived.getInputStream(), StandardCharsets.UTF_8));
        String first = r.readLine();
        EchoBackend removed = first.equals("a") ? a : b;
        EchoBackend kept = removed == a ? b : a;
        update(both.withEndpoints(Services.loopback(kept)));
        for (int i = 0; i < 10; i++) {
            assertEquals(kept.name, greeting("127.0.10.6", 8080, null), "new connection " + i);
        }
        longLived.getOutputStream().write("still here\n".getBytes(StandardCharsets.UTF_8));
        assertEquals("still here", r.readLine(), "the connection to the removed endpoint survives");
        longLived.close();
    }

    @Test
    void proxyProtocolHeaderTellsTheBackendTheClientAddress() throws IOException {
        EchoBackend pp = fixture.keep(new EchoBackend("pp", ip("127.0.0.1"), 0, true));
        start(defaults(), Services.build("pp", ServiceType.CLUSTER_IP, List.of("127.0.10.7"), 8080, 0,
                List.of(), List.of(), List.of(), SessionAffinity.NONE, "", true, Protocol.TCP, Services.loopback(pp)));
        try (Socket s = open("127.0.10.7", 8080, "127.0.0.77")) {
            String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
            assertEquals("pp from 127.0.0.77:" + s.getLocalPort(), line);
        }
    }

    @Test
    void loadBalancerSourceRangesAdmitOnlyListedClients() throws IOException {
        EchoBackend a = backend("a");
        start(defaults(), Services.build("lb", ServiceType.LOAD_BALANCER, List.of("127.0.10.8"), 8080, 0,
                List.of(), List.of("127.0.11.8"), List.of("127.0.0.8/32"), SessionAffinity.NONE, "", false,
                Protocol.TCP, Services.loopback(a)));
        assertEquals("a", greeting("127.0.11.8", 8080, "127.0.0.8"), "listed client");
        assertThrows(SocketException.class, () -> {
            try (Socket s = open("127.0.11.8", 8080, "127.0.0.9")) {
                s.getInputStream().read();
            }
        }, "unlisted client is reset");
        assertEquals("a", greeting("127.0.10.8", 8080, "127.0.0.9"), "source ranges apply to the LB IP only");
        assertEquals(1, proxy.metrics("default/lb:8080/TCP").deniedBySourceRange());
    }

    @Test
    void aSourceRangeCoveringTheNodeAlsoAdmitsTheLoadBalancerIpItself() throws IOException {
        EchoBackend a = backend("a");
        // the node is 127.0.0.1, inside the range: a connection from the VIP itself (a node holding its
        // LB's VIP) is admitted, as kube-proxy's allowFromNode; other sources outside the range are not
        start(defaults().withNodePortAddresses(List.of(dev.ferry.model.IpAddresses.parse("127.0.0.1"))),
                Services.build("vip", ServiceType.LOAD_BALANCER, List.of("127.0.10.12"), 8080, 0, List.of(),
                        List.of("127.0.11.12"), List.of("127.0.0.0/24"), SessionAffinity.NONE, "", false, Protocol.TCP,
                        Services.loopback(a)));
        assertEquals("a", greeting("127.0.11.12", 8080, "127.0.11.12"), "the LB IP as source");
        assertEquals("a", greeting("127.0.11.12", 8080, "127.0.0.5"), "inside the range");
        assertThrows(SocketException.class, () -> {
            try (Socket s = open("127.0.11.12", 8080, "127.0.11.13")) {
                s.getInputStream().read();
            }
        }, "outside the range and not the VIP");
    }

    @Test
    void theLoadBalancerIpIsNoSourceWhenNoRangeCoversTheNode() throws IOException {
        EchoBackend a = backend("a");
        start(defaults().withNodePortAddresses(List.of(dev.ferry.model.IpAddresses.parse("127.0.0.1"))),
                Services.build("vip2", ServiceType.LOAD_BALANCER, List.of("127.0.10.13"), 8080, 0, List.of(),
                        List.of("127.0.11.14"), List.of("127.0.5.0/24"), SessionAffinity.NONE, "", false, Protocol.TCP,
                        Services.loopback(a)));
        assertThrows(SocketException.class, () -> {
            try (Socket s = open("127.0.11.14", 8080, "127.0.11.14")) {
                s.getInputStream().read();
            }
        }, "the VIP as source, no range covering the node");
    }

    @Test
    void clientIpAffinityKeepsEachClientOnOneBackend() throws IOException {
        EchoBackend a = backend("a");
        EchoBackend b = backend("b");
        EchoBackend c = backend("c");
        start(defaults(), Services.build("sticky", ServiceType.CLUSTER_IP, List.of("127.0.10.9"), 8080, 0,
                List.of(), List.of(), List.of(), SessionAffinity.CLIENT_IP, "", false, Protocol.TCP,
                Services.loopback(a, b, c)));
        Set<String> clientOne = new HashSet<>();
        Set<String> all = new HashSet<>();
        for (int i = 0; i < 6; i++) {
            clientOne.add(greeting("127.0.10.9", 8080, "127.0.0.31"));
            for (int k = 32; k < 38; k++) {
                all.add(greeting("127.0.10.9", 8080, "127.0.0." + k));
            }
        }
        assertEquals(1, clientOne.size(), "one client, one backend: " + clientOne);
        assertTrue(all.size() > 1, "different clients still spread: " + all);
    }

    @Test
    void nodePortIsServedOnTheNodeAddresses() throws IOException {
        EchoBackend a = backend("a");
        start(defaults().withNodePortAddresses(List.of(ip("127.0.0.1"), ip("127.0.12.1"))),
                Services.build("np", ServiceType.NODE_PORT, List.of("127.0.10.10"), 8080, 30080, List.of(),
                        List.of(), List.of(), SessionAffinity.NONE, "", false, Protocol.TCP, Services.loopback(a)));
        assertEquals("a", greeting("127.0.0.1", 30080, null));
        assertEquals("a", greeting("127.0.12.1", 30080, null));
        assertEquals("a", greeting("127.0.10.10", 8080, null));
    }

    @Test
    void udpDatagramsReachABackendAndRepliesComeFromTheServiceAddress() throws IOException {
        EchoBackend a = backend("a");
        start(defaults().withUdpIdleTimeout(Duration.ofSeconds(30)),
                Services.clusterIp("dns", "127.0.10.11", 5353, Protocol.UDP, Services.loopback(a)));
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip("127.0.0.1"), 0))) {
            s.setSoTimeout(3000);
            for (int i = 0; i < 3; i++) {
                byte[] q = ("q" + i).getBytes(StandardCharsets.UTF_8);
                s.send(new DatagramPacket(q, q.length, new InetSocketAddress(ip("127.0.10.11"), 5353)));
                DatagramPacket reply = new DatagramPacket(new byte[100], 100);
                s.receive(reply);
                assertEquals("a:q" + i, new String(reply.getData(), 0, reply.getLength(), StandardCharsets.UTF_8));
                assertEquals(new InetSocketAddress(ip("127.0.10.11"), 5353), reply.getSocketAddress());
            }
        }
        ServicePortStats stats = proxy.metrics("default/dns:5353/UDP");
        assertEquals(1, stats.udpFlows(), "one client, one flow");
        assertEquals(3, stats.udpDatagrams());
        assertEquals(1, conntrack.flows().entries(), "the flow is in conntrack");
    }

    @Test
    void idleUdpFlowsAgeOut() throws Exception {
        EchoBackend a = backend("a");
        start(defaults().withUdpIdleTimeout(Duration.ofMillis(200)),
                Services.clusterIp("dns", "127.0.10.12", 5353, Protocol.UDP, Services.loopback(a)));
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip("127.0.0.1"), 0))) {
            s.setSoTimeout(3000);
            byte[] q = "q".getBytes(StandardCharsets.UTF_8);
            s.send(new DatagramPacket(q, q.length, new InetSocketAddress(ip("127.0.10.12"), 5353)));
            s.receive(new DatagramPacket(new byte[100], 100));
        }
        assertEquals(1, conntrack.flows().entries());
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (conntrack.flows().entries() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(0, conntrack.flows().entries(), "flow removed after the idle timeout");
    }

    @Test
    void listenersFollowTheTableWithoutTouchingOtherServices() throws IOException {
        EchoBackend a = backend("a");
        ServicePort one = Services.clusterIp("one", "127.0.10.13", 8080, Protocol.TCP, Services.loopback(a));
        ServicePort two = Services.clusterIp("two", "127.0.10.14", 8080, Protocol.TCP, Services.loopback(a));
        start(defaults(), one, two);
        assertEquals(2, proxy.listenerCount());
        Socket toOne = open("127.0.10.13", 8080, null);
        BufferedReader r = new BufferedReader(new InputStreamReader(toOne.getInputStream(), StandardCharsets.UTF_8));
        assertEquals("a", r.readLine());
        update(one);
        assertEquals(1, proxy.listenerCount());
        assertThrows(ConnectException.class, () -> greeting("127.0.10.14", 8080, null), "removed service refuses");
        toOne.getOutputStream().write("ping\n".getBytes(StandardCharsets.UTF_8));
        assertEquals("ping", r.readLine(), "the other service's connection is untouched");
        toOne.close();
        update(one, two);
        assertEquals("a", greeting("127.0.10.14", 8080, null), "re-added service listens again");
    }

    @Test
    void aThousandServicesListenAtOnce() throws IOException {
        EchoBackend a = backend("a");
        List<ServicePort> ports = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            ports.add(Services.clusterIp("svc" + i, "127.0.13." + (i % 250 + 1), 9000 + i / 250, Protocol.TCP,
                    Services.loopback(a)));
        }
        start(defaults(), ports.toArray(ServicePort[]::new));
        assertEquals(1000, proxy.listenerCount());
        for (int i = 0; i < 1000; i += 97) {
            assertEquals("a", greeting("127.0.13." + (i % 250 + 1), 9000 + i / 250, null), "service " + i);
        }
    }
    /** Bytes the proxy may hold at most when one side stops reading: far below what is sent. */
    private static final long BULK = 256L << 20;

    /** Waits until {@code counter} has not moved for a second (at most 20 s) and returns it. */
    private static long whenStalled(java.util.concurrent.atomic.AtomicLong counter) throws InterruptedException {
        long last = -1;
        int still = 0;
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (still < 4 && System.nanoTime() < deadline) {
            Thread.sleep(250);
            long now = counter.get();
            still = now == last ? still + 1 : 0;
            last = now;
        }
        return last;
    }

    /** A one-connection TCP server on loopback whose behaviour the test drives. */
    private static java.net.ServerSocket quietServer() throws IOException {
        java.net.ServerSocket srv = new java.net.ServerSocket();
        srv.bind(new InetSocketAddress(ip("127.0.0.1"), 0));
        srv.setSoTimeout(5000);
        return srv;
    }

    /** What a bulk writer does to its socket once all BULK bytes are written. */
    interface SocketEnd {
        void end(Socket s) throws IOException;
    }

    /** A started thread writing BULK bytes to s, counting them in written as they are accepted, then end(s). */
    private static Thread bulkWriter(String name, Socket s, java.util.concurrent.atomic.AtomicLong written, SocketEnd end) {
        Thread t = new Thread(() -> {
            byte[] chunk = new byte[1 << 16];
            try {
                OutputStream out = s.getOutputStream();
                while (written.get() < BULK) {
                    out.write(chunk);
                    written.addAndGet(chunk.length);
                }
                end.end(s);
            } catch (IOException ignored) {
                // the byte count the test reads reports it
            }
        }, name);
        t.start();
        return t;
    }

    @Test
    void aBackendThatDoesNotReadStopsTheProxyReadingFromTheClient() throws Exception {
        try (java.net.ServerSocket srv = quietServer()) {
            start(defaults(), Services.clusterIp("bp-up", "127.0.10.30", 8080, Protocol.TCP,
                    List.of(Services.ready("127.0.0.1", srv.getLocalPort()))));
            java.util.concurrent.atomic.AtomicLong written = new java.util.concurrent.atomic.AtomicLong();
            try (Socket client = open("127.0.10.30", 8080, null); Socket backendSide = srv.accept()) {
                Thread writer = bulkWriter("bp-writer", client, written, Socket::shutdownOutput);
                long stalled = whenStalled(written);
                assertTrue(stalled < BULK / 2, "the client could write " + stalled + " of " + BULK
                        + " bytes to a backend that reads nothing: the proxy did not stop reading");
                long received = backendSide.getInputStream().transferTo(OutputStream.nullOutputStream());
                writer.join(10_000);
                assertEquals(BULK, received, "once the backend reads, everything arrives, then the client's FIN");
            }
        }
    }

    @Test
    void aClientThatDoesNotReadStopsTheProxyReadingFromTheBackend() throws Exception {
        try (java.net.ServerSocket srv = quietServer()) {
            start(defaults(), Services.clusterIp("bp-down", "127.0.10.31", 8080, Protocol.TCP,
                    List.of(Services.ready("127.0.0.1", srv.getLocalPort()))));
            java.util.concurrent.atomic.AtomicLong written = new java.util.concurrent.atomic.AtomicLong();
            try (Socket client = open("127.0.10.31", 8080, null); Socket backendSide = srv.accept()) {
                Thread writer = bulkWriter("bp-backend", backendSide, written, Socket::close);
                long stalled = whenStalled(written);
                assertTrue(stalled < BULK / 2, "the backend could write " + stalled + " of " + BULK
                        + " bytes to a client that reads nothing: the proxy did not stop reading");
                // The backend closes right after its last write, while the proxy still holds data for
                // the client: the FIN must follow that data, not cut it off.
                long received = client.getInputStream().transferTo(OutputStream.nullOutputStream());
                writer.join(10_000);
                assertEquals(BULK, received, "everything the backend sent arrives before the EOF");
            }
        }
    }

    @Test
    void aConnectionQuietForTheIdleTimeoutIsClosedWhileTrafficKeepsItOpen() throws Exception {
        EchoBackend a = backend("a");
        start(defaults().withIdleTimeout(Duration.ofMillis(600)), Services.clusterIp("idle",
                "127.0.10.32", 8080, Protocol.TCP, Services.loopback(a)));
        try (Socket s = open("127.0.10.32", 8080, null)) {
            BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("a", r.readLine());
            OutputStream out = s.getOutputStream();
            for (int i = 0; i < 8; i++) { // 2 s of traffic every 250 ms, over three idle timeouts
                Thread.sleep(250);
                out.write(("ping" + i + "\n").getBytes(StandardCharsets.UTF_8));
                assertEquals("ping" + i, r.readLine(), "traffic every 250 ms keeps the connection open");
            }
            assertNull(r.readLine(), "after 600 ms without traffic the proxy closes the connection (EOF, "
                    + "not the 5 s read timeout)");
        }
    }
    @Test
    void aBackendThatClosesRightAfterItsLastWriteReachesASlowClientWholeThenEof() throws Exception {
        int size = 4 << 20;
        try (java.net.ServerSocket srv = quietServer()) {
            start(defaults(), Services.clusterIp("fin", "127.0.10.33", 8080, Protocol.TCP,
                    List.of(Services.ready("127.0.0.1", srv.getLocalPort()))));
            try (Socket client = open("127.0.10.33", 8080, null); Socket backendSide = srv.accept()) {
                Thread backend = new Thread(() -> {
                    try (backendSide) {
                        backendSide.getOutputStream().write(new byte[size]);
                    } catch (IOException ignored) {
                        // the byte count below reports it
                    }
                }, "fin-backend");
                backend.start();
                // A slow reader keeps the proxy's queue towards the client full, so the backend's FIN
                // reaches the proxy while data is still queued: passing the FIN on at once would cut it.
                var in = client.getInputStream();
                byte[] buf = new byte[8192];
                long received = 0;
                for (int n; (n = in.read(buf)) > 0; ) {
                    received += n;
                    Thread.sleep(0, 500_000);
                }
                backend.join(10_000);
                assertEquals(size, received, "all the backend sent, then EOF");
            }
        }
    }
}
