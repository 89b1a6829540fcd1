package dev.ferry.proxy;

import static dev.ferry.proxy.Services.ip;
import static dev.ferry.proxy.Services.ready;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Endpoint;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.table.ServiceTable;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramPacket;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link UdpFrontendHandler} on an {@link EmbeddedChannel} with embedded backend sockets: one flow
 * (one connected backend socket) per client address and port, replies back to that client through
 * the frontend, datagrams sent before the backend socket is connected delivered once it is, a
 * client's flows bounded by recycling its least recently used one, and a backend socket closed
 * under its flow (ICMP unreachable) freeing the flow for the next datagram. No sockets.
 */
@Tag("unit")
class UdpFrontendHandlerTest {
    static final InetSocketAddress FRONTEND = new InetSocketAddress(ip("10.96.0.53"), 53);

    @TempDir
    Path dir;

    private ServiceTable table;
    private Router router;
    private UdpFrontendHandler handler;
    private EmbeddedChannel frontend;
    private final List<EmbeddedSocket> backends = new ArrayList<>();

    @AfterEach
    void close() throws IOException {
        if (frontend != null) {
            frontend.finishAndReleaseAll();
        }
        for (EmbeddedSocket b : backends) {
            b.finishAndReleaseAll();
        }
        if (table != null) {
            table.close();
        }
    }

    /** The frontend of dns (10.96.0.53:53/UDP → 10.244.2.2:5353), each client address holding at most perClient flows. */
    private void start(int perClient) throws Exception {
        table = ServiceTable.create(dir.resolve("table"), 16L << 20, 100, System::currentTimeMillis);
        ServicePort dns = Services.clusterIp("dns", "10.96.0.53", 53, Protocol.UDP, List.<Endpoint>of(ready("10.244.2.2", 5353)));
        table.replaceAll(List.of(dns));
        router = new Router(table.reader(), "rr", null);
        router.refresh();
        ProxyOptions options = ProxyOptions.defaults().withLimits(new ProxyLimits(100, perClient, 100, 100));
        handler = new UdpFrontendHandler(router, new FrontendKey(Protocol.UDP, FRONTEND.getAddress(), 53, false), options,
                () -> {
                    EmbeddedSocket b = new EmbeddedSocket(new InetSocketAddress(ip("10.0.0.1"), 40000 + backends.size()), null,
                            new ChannelOutboundHandlerAdapter() {
                                @Override
                                public void connect(ChannelHandlerContext ctx, SocketAddress to, SocketAddress from,
                                                    ChannelPromise p) {
                                    p.addListener(f -> ((EmbeddedSocket) ctx.channel()).connected());
                                    ctx.connect(to, from, p);
                                }
                            });
                    backends.add(b);
                    return b;
                },
                new LoopBalance(), new ProxyBounds(options.limits()));
        frontend = new EmbeddedChannel(handler);
    }

    private void send(InetSocketAddress client, String text) {
        frontend.writeInbound(new DatagramPacket(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII), FRONTEND, client));
        frontend.runPendingTasks();
    }

    private static String read(EmbeddedChannel ch) {
        ByteBuf b = ch.readOutbound();
        if (b == null) {
            return null;
        }
        String s = b.toString(StandardCharsets.US_ASCII);
        b.release();
        return s;
    }

    private static InetSocketAddress client(String ip, int port) {
        return new InetSocketAddress(ip(ip), port);
    }

    @Test
    void aClientsDatagramsShareOneFlowAndItsRepliesReturnToIt() throws Exception {
        start(8);
        InetSocketAddress a = client("10.0.0.7", 4000);
        send(a, "q1");
        send(a, "q2");
        assertEquals(1, backends.size(), "one backend socket per client address and port");
        EmbeddedSocket backend = backends.get(0);
        assertEquals("q1", read(backend), "a datagram sent before the backend socket connected is delivered");
        assertEquals("q2", read(backend));

        backend.writeInbound(new DatagramPacket(Unpooled.copiedBuffer("r1", StandardCharsets.US_ASCII),
                backend.localAddress(), client("10.244.2.2", 5353)));
        DatagramPacket reply = frontend.readOutbound();
        assertNotNull(reply, "the backend's reply is relayed");
        assertEquals(a, reply.recipient(), "to the client of the flow");
        assertEquals("r1", reply.content().toString(StandardCharsets.US_ASCII));
        reply.release();
        ServicePortMetrics m = router.metrics().get("default/dns:53/UDP");
        assertEquals(1, m.udpFlows.sum());
        assertEquals(2, m.udpDatagrams.sum());
        assertEquals(2, m.bytesFromBackends.sum());
    }

    @Test
    void eachClientPortIsAFlowOfItsOwn() throws Exception {
        start(8);
        send(client("10.0.0.7", 4000), "a");
        send(client("10.0.0.7", 4001), "b");
        send(client("10.0.0.8", 4000), "c");
        assertEquals(3, backends.size());
        assertEquals(3, handler.flowCount());
    }

    @Test
    void aClientAtItsFlowBoundRecyclesItsLeastRecentlyUsedFlow() throws Exception {
        start(2);
        send(client("10.0.0.7", 4000), "a");
        send(client("10.0.0.7", 4001), "b");
        send(client("10.0.0.7", 4000), "a again"); // 4001 is now the least recently used
        send(client("10.0.0.7", 4002), "c");
        assertEquals(3, backends.size());
        assertEquals(2, handler.flowCount());
        assertTrue(backends.get(0).isOpen(), "the recently used flow is kept");
        assertFalse(backends.get(1).isOpen(), "the least recently used flow's socket is closed");
        send(client("10.0.0.8", 4000), "another client is not limited by the first one's bound");
        assertEquals(3, handler.flowCount());
    }

    @Test
    void aBackendSocketClosedUnderItsFlowFreesItAndTheNextDatagramOpensANewOne() throws Exception {
        start(8);
        InetSocketAddress a = client("10.0.0.7", 4000);
        send(a, "q1");
        backends.get(0).close();
        frontend.runPendingTasks();
        assertEquals(0, handler.flowCount(), "the flow is freed when its socket closes");
        send(a, "q2");
        assertEquals(2, backends.size(), "a new backend socket for the next datagram");
        read(backends.get(0));
        assertEquals("q2", read(backends.get(1)));
        assertNull(read(backends.get(1)));
    }
}
