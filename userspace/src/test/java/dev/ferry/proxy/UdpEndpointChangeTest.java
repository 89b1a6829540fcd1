package dev.ferry.proxy;

import static dev.ferry.proxy.Services.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.conntrack.ConntrackState;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A UDP flow has no end, so a table change must move it: a client that keeps its socket is sent to
 * a current endpoint once its endpoint is removed (as kube-proxy's conntrack cleanup does), and
 * stays where it is while its endpoint remains. Loopback only.
 */
class UdpEndpointChangeTest {
    private static final String SERVICE_IP = "127.0.10.31";
    private static final int PORT = 5353;

    @TempDir
    Path dir;

    private LoopbackFixture fixture;
    private ConntrackState conntrack;
    private UserspaceProxy proxy;

    @BeforeEach
    void setUp() throws IOException {
        fixture = new LoopbackFixture(dir, 16L << 20);
        conntrack = fixture.conntrack;
    }

    @AfterEach
    void tearDown() throws IOException {
        fixture.close();
    }

    private EchoBackend backend(String name) throws IOException {
        return fixture.backend(name);
    }

    private static ServicePort dns(EchoBackend... eps) {
        return Services.clusterIp("dns", SERVICE_IP, PORT, Protocol.UDP, Services.loopback(eps));
    }

    private void start(ServicePort sp, Duration udpIdleTimeout) throws IOException {
        proxy = fixture.start(ProxyOptions.defaults().withUdpIdleTimeout(udpIdleTimeout), sp);
    }

    private void serve(ServicePort sp) {
        fixture.update(sp);
    }

    private static String ask(DatagramSocket s, String q) throws IOException {
        byte[] b = q.getBytes(StandardCharsets.UTF_8);
        s.send(new DatagramPacket(b, b.length, new InetSocketAddress(ip(SERVICE_IP), PORT)));
        DatagramPacket reply = new DatagramPacket(new byte[100], 100);
        s.receive(reply);
        return new String(reply.getData(), 0, reply.getLength(), StandardCharsets.UTF_8);
    }

    @Test
    void aFlowWhoseEndpointIsRemovedMovesToACurrentEndpointOnItsNextDatagram() throws Exception {
        EchoBackend a = backend("a");
        EchoBackend b = backend("b");
        start(dns(a), Duration.ofSeconds(60));
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip("127.0.0.1"), 0))) {
            s.setSoTimeout(3000);
            assertEquals("a:1", ask(s, "1"));
            serve(dns(b)); // a is removed from the service but still answers: only Ferry can move the flow
            assertEquals("b:2", ask(s, "2"), "the same client socket reaches the endpoint that replaced a");
            assertEquals("b:3", ask(s, "3"));
        }
        ServicePortStats stats = proxy.metrics("default/dns:5353/UDP");
        assertEquals(2, stats.udpFlows(), "the flow to a was dropped and one to b opened");
    }

    @Test
    void aFlowWhoseEndpointRemainsIsNotMovedByOtherChanges() throws Exception {
        EchoBackend a = backend("a");
        EchoBackend b = backend("b");
        EchoBackend c = backend("c");
        start(dns(a, b), Duration.ofSeconds(60));
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip("127.0.0.1"), 0))) {
            s.setSoTimeout(3000);
            String first = ask(s, "1").substring(0, 1);
            EchoBackend kept = first.equals("a") ? a : b;
            serve(dns(kept, c)); // the other endpoint goes, c comes: this flow's endpoint stays
            for (int i = 2; i < 6; i++) {
                assertEquals(first + ":" + i, ask(s, Integer.toString(i)), "datagram " + i);
            }
        }
        assertEquals(1, proxy.metrics("default/dns:5353/UDP").udpFlows(), "no new flow");
    }

    @Test
    void anIdleFlowToARemovedEndpointIsClosedWithoutWaitingForItsIdleTimeout() throws Exception {
        EchoBackend a = backend("a");
        EchoBackend b = backend("b");
        start(dns(a), Duration.ofSeconds(4));
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip("127.0.0.1"), 0))) {
            s.setSoTimeout(3000);
            assertEquals("a:1", ask(s, "1"));
            assertEquals(1, conntrack.flows().entries());
            serve(dns(b));
            long deadline = System.nanoTime() + 3_000_000_000L; // less than the 4 s idle timeout
            while (conntrack.flows().entries() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, conntrack.flows().entries(), "the sweep dropped the flow to the removed endpoint");
        }
    }
}
