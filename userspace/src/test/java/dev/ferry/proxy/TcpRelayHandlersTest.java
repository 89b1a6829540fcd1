package dev.ferry.proxy;

import static dev.ferry.proxy.Services.ip;
import static dev.ferry.proxy.Services.ready;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.table.ServiceTable;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.io.IOException;
import java.net.ConnectException;
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
 * The TCP relay's handlers ({@link TcpFrontendHandler}, {@link TcpBackendHandler}) driven through
 * {@link EmbeddedSocket}s instead of sockets: the client is not read before a backend is connected,
 * refused backends are retried then the client is reset, the PROXY v2 header goes first, half-close
 * passes each FIN on after the data before it, and back-pressure stops and resumes reads on the
 * side feeding a stalled one.
 */
@Tag("unit")
class TcpRelayHandlersTest {
    static final InetSocketAddress FRONTEND = new InetSocketAddress(ip("10.96.0.10"), 80);
    static final InetSocketAddress CLIENT = new InetSocketAddress(ip("10.0.0.7"), 40000);
    /** More than Netty's default high-water mark (64 KiB) in one write. */
    static final int BIG = 128 * 1024;

    @TempDir
    Path dir;

    private ServiceTable table;
    private Router router;
    private EmbeddedSocket client;
    /** Backend channels the frontend asked for, in order. */
    private final List<EmbeddedSocket> backends = new ArrayList<>();
    /** This many connect attempts, the first ones, are refused. */
    private int refusals;
    /** When true, connects stay pending until the test completes them. */
    private boolean holdConnects;
    private final List<ChannelPromise> heldConnects = new ArrayList<>();

    @AfterEach
    void close() throws IOException {
        if (client != null) {
            client.finishAndReleaseAll();
        }
        for (EmbeddedSocket b : backends) {
            b.finishAndReleaseAll();
        }
        if (table != null) {
            table.close();
        }
    }

    /** The client connected to web (10.96.0.10:80 → 10.244.1.2:8080, 10.244.1.3:8080), round robin. */
    private void connect(boolean proxyProtocol) throws Exception {
        table = ServiceTable.create(dir.resolve("table"), 16L << 20, 100, System::currentTimeMillis);
        ServicePort web = Services.build("web", ServiceType.CLUSTER_IP, List.of("10.96.0.10"), 80, 0, List.of(), List.of(),
                List.of(), SessionAffinity.NONE, "rr", proxyProtocol, Protocol.TCP,
                List.of(ready("10.244.1.2", 8080), ready("10.244.1.3", 8080)));
        table.replaceAll(List.of(web));
        router = new Router(table.reader(), "rr", null);
        router.refresh();
        BackendChannels channels = ipv4 -> {
            EmbeddedSocket b = new EmbeddedSocket(new InetSocketAddress(ip("10.0.0.1"), 50000 + backends.size()), null,
                    new ChannelOutboundHandlerAdapter() {
                        @Override
                        public void connect(ChannelHandlerContext ctx, SocketAddress to, SocketAddress from, ChannelPromise p) {
                            if (backends.size() <= refusals) {
                                p.setFailure(new ConnectException("Connection refused: " + to));
                            } else if (holdConnects) {
                                heldConnects.add(p);
                            } else {
                                p.addListener(f -> ((EmbeddedSocket) ctx.channel()).connected());
                                ctx.connect(to, from, p);
                            }
                        }
                    });
            backends.add(b);
            return b;
        };
        TcpFrontendHandler frontend = new TcpFrontendHandler(router, new FrontendKey(Protocol.TCP, FRONTEND.getAddress(), 80, false),
                ProxyOptions.defaults(), channels, new LoopBalance(), new ProxyBounds(ProxyOptions.defaults().limits()));
        client = new EmbeddedSocket(FRONTEND, CLIENT);
        // As the proxy's listener sets its accepted channels up (UserspaceProxy.tcpServer).
        client.config().setAutoRead(false);
        client.pipeline().addLast(frontend);
        client.register();
        client.runPendingTasks();
    }

    private ServicePortMetrics metrics() {
        return router.metrics().get("default/web:80/TCP");
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    /** What {@code ch} wrote, concatenated, without the empty buffers a FIN is flushed behind. */
    private static String written(Channel ch) {
        EmbeddedSocket s = (EmbeddedSocket) ch;
        StringBuilder out = new StringBuilder();
        for (ByteBuf b; (b = s.readOutbound()) != null; ) {
            out.append(b.toString(StandardCharsets.US_ASCII));
            b.release();
        }
        return out.toString();
    }

    @Test
    void theClientIsNotReadUntilItsBackendHasConnected() throws Exception {
        holdConnects = true;
        connect(false);
        assertEquals(1, backends.size());
        assertFalse(client.config().isAutoRead(), "client read before its backend connected");
        backends.get(0).connected();
        heldConnects.get(0).setSuccess();
        client.runPendingTasks();
        assertTrue(client.config().isAutoRead(), "client not read once its backend connected");
        assertEquals(1, metrics().active.sum());
    }

    @Test
    void bytesFlowBothWaysThroughTheChosenBackend() throws Exception {
        connect(false);
        EmbeddedSocket backend = backends.get(0);
        client.writeInbound(text("GET / HTTP/1.0\r\n\r\n"));
        assertEquals("GET / HTTP/1.0\r\n\r\n", written(backend));
        backend.writeInbound(text("HTTP/1.0 200 OK\r\n\r\n"));
        assertEquals("HTTP/1.0 200 OK\r\n\r\n", written(client));
        assertEquals(18, metrics().bytesFromClients.sum());
        assertEquals(19, metrics().bytesFromBackends.sum());
    }

    @Test
    void aRefusedBackendIsRetriedOnTheNextOne() throws Exception {
        refusals = 1;
        connect(false);
        assertEquals(2, backends.size(), "one attempt per backend");
        assertFalse(backends.get(0).isOpen(), "the refused attempt's channel is closed");
        assertTrue(client.isActive());
        client.writeInbound(text("hi"));
        assertEquals("hi", written(backends.get(1)));
        assertEquals(1, metrics().connectErrors.sum());
        assertEquals(1, metrics().retries.sum());
        assertEquals(0, metrics().refused.sum());
    }

    @Test
    void whenEveryBackendRefusesTheClientIsResetAndCounted() throws Exception {
        refusals = 2;
        connect(false);
        client.runPendingTasks();
        assertEquals(2, backends.size());
        assertFalse(client.isOpen(), "the client is reset when no backend accepts");
        assertEquals(2, metrics().connectErrors.sum());
        assertEquals(1, metrics().refused.sum());
        assertEquals(0, metrics().active.sum());
    }

    @Test
    void theProxyProtocolV2HeaderNamesTheClientAndFrontendBeforeAnyClientByte() throws Exception {
        connect(true);
        client.writeInbound(text("hello"));
        EmbeddedSocket backend = backends.get(0);
        ByteBuf header = backend.readOutbound();
        ByteBuf expected = Unpooled.buffer();
        ProxyProtocolV2.write(expected, CLIENT, FRONTEND);
        assertEquals(ByteBufUtil.hexDump(expected), ByteBufUtil.hexDump(header));
        header.release();
        expected.release();
        assertEquals("hello", written(backend));
    }

    @Test
    void aClientsFinReachesTheBackendAfterItsDataAndTheBackendMayStillAnswer() throws Exception {
        connect(false);
        EmbeddedSocket backend = backends.get(0);
        client.writeInbound(text("request"));
        client.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        client.runPendingTasks();
        assertEquals("request", written(backend), "the data before the FIN arrives whole");
        assertTrue(backend.isOutputShutdown(), "the client's FIN is passed on");
        assertTrue(client.isActive() && backend.isActive(), "half-closed, not closed");

        backend.writeInbound(text("answer"));
        assertEquals("answer", written(client), "the backend still answers a half-closed client");
        backend.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        client.runPendingTasks();
        assertTrue(client.isOutputShutdown(), "the backend's FIN is passed on");
        assertFalse(client.isOpen(), "both sides finished: the client is closed");
        assertFalse(backend.isOpen(), "both sides finished: the backend is closed");
    }

    @Test
    void aStalledClientStopsReadingTheBackendUntilItDrains() throws Exception {
        connect(false);
        EmbeddedSocket backend = backends.get(0);
        assertTrue(backend.config().isAutoRead());
        client.stall(true);
        backend.writeInbound(Unpooled.wrappedBuffer(new byte[BIG]));
        assertFalse(client.isWritable());
        assertFalse(backend.config().isAutoRead(), "the backend is still read while the client cannot take more");

        client.stall(false);
        client.flush();
        client.runPendingTasks();
        assertTrue(client.isWritable());
        assertTrue(backend.config().isAutoRead(), "the backend is not read again after the client drained");
        assertEquals(BIG, written(client).length());
    }

    @Test
    void aStalledBackendStopsReadingTheClientUntilItDrains() throws Exception {
        connect(false);
        EmbeddedSocket backend = backends.get(0);
        backend.stall(true);
        client.writeInbound(Unpooled.wrappedBuffer(new byte[BIG]));
        assertFalse(backend.isWritable());
        assertFalse(client.config().isAutoRead(), "the client is still read while the backend cannot take more");

        backend.stall(false);
        backend.flush();
        client.runPendingTasks();
        assertTrue(client.config().isAutoRead(), "the client is not read again after the backend drained");
        assertEquals(BIG, written(backend).length());
        assertNull(backend.readOutbound());
    }
}
