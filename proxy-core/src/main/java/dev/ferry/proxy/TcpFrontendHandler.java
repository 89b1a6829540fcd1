package dev.ferry.proxy;

import dev.ferry.conntrack.ConntrackState;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;

/**
 * The client side of one proxied TCP connection, in the shape of Netty's HexDumpProxy: the client
 * channel does not read (AUTO_READ off) until a backend is connected, and each chunk written to the
 * backend asks for the next read only when its write completes, so a slow side stops the other
 * from reading. Picks the backend through the {@link Router}, retries the next usable backend when
 * a connect is refused or times out, resets the client (SO_LINGER 0) when there is none or all
 * attempts fail, propagates half-close, and closes both sides on idle timeout.
 *
 * <p>One instance per client connection; all its methods run on that channel's event loop.
 */
final class TcpFrontendHandler extends ChannelInboundHandlerAdapter {
    private final Router router;
    private final FrontendKey key;
    private final ProxyOptions options;
    private final Transport transport;
    private final Router.Route route = new Router.Route();
    private Channel inbound;
    private Channel outbound;
    private int attempts;
    private int connectedPosition = -1;
    private boolean counted;
    private boolean inboundInputShut;
    private boolean outboundInputShut;

    TcpFrontendHandler(Router router, FrontendKey key, ProxyOptions options, Transport transport) {
        this.router = router;
        this.key = key;
        this.options = options;
        this.transport = transport;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        inbound = ctx.channel();
        InetSocketAddress remote = (InetSocketAddress) inbound.remoteAddress();
        route.client.set(remote.getAddress());
        int first = router.resolve(key, route, remote.getPort());
        if (route.backends != null) {
            route.backends.metrics.accepted.increment();
        }
        if (first < 0) {
            if (route.backends != null && first == Router.NO_ENDPOINTS) {
                route.backends.metrics.refused.increment();
            }
            reset(inbound);
            return;
        }
        connect(first);
    }

    private void connect(int position) {
        ServicePortBackends b = route.backends;
        int[] usable = route.choice.endpoints;
        InetSocketAddress target = b.addresses[usable[position]];
        long start = System.nanoTime();
        Bootstrap bootstrap = new Bootstrap()
                .group(inbound.eventLoop())
                .channel(transport.socketChannel())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) options.connectTimeout().toMillis())
                .handler(new TcpBackendHandler(inbound, this, b.metrics));
        attempts++;
        ChannelFuture f = bootstrap.connect(target);
        outbound = f.channel();
        f.addListener((ChannelFutureListener) future -> {
            if (future.isSuccess()) {
                connected(position, System.nanoTime() - start);
            } else {
                failed(position);
            }
        });
    }

    private void connected(int position, long nanos) {
        ServicePortBackends b = route.backends;
        b.metrics.recordConnectNanos(nanos);
        if (!inbound.isActive()) {
            outbound.close();
            return;
        }
        connectedPosition = position;
        counted = true;
        b.metrics.active.increment();
        route.choice.counts.opened(position);
        ConntrackState ct = router.conntrack();
        if (ct != null) {
            ct.connections().increment(router.endpointOf(b, route.choice.endpoints[position]));
        }
        router.recordAffinity(route, position);
        if (b.proxyProtocol) {
            InetSocketAddress client = (InetSocketAddress) inbound.remoteAddress();
            InetSocketAddress frontend = (InetSocketAddress) inbound.localAddress();
            ByteBuf header = outbound.alloc().buffer(ProxyProtocolV2.length(client.getAddress()));
            ProxyProtocolV2.write(header, client, frontend);
            outbound.writeAndFlush(header);
        }
        inbound.read();
        outbound.read();
    }

    private void failed(int position) {
        ServicePortBackends b = route.backends;
        b.metrics.connectErrors.increment();
        int n = route.choice.endpoints.length;
        if (inbound.isActive() && attempts < Math.min(options.maxConnectAttempts(), n)) {
            b.metrics.retries.increment();
            connect((position + 1) % n);
        } else {
            b.metrics.refused.increment();
            reset(inbound);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (outbound == null || !outbound.isActive()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof ByteBuf buf) {
            route.backends.metrics.bytesFromClients.add(buf.readableBytes());
        }
        outbound.writeAndFlush(msg).addListener(afterWriteToBackend);
    }

    /** One listener per connection, not one per chunk: the relay path allocates no lambdas. */
    private final ChannelFutureListener afterWriteToBackend = future -> {
        if (future.isSuccess()) {
            inbound.read();
        } else {
            future.channel().close();
            closeOnFlush(inbound);
        }
    };

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            inboundInputShut = true;
            if (outbound instanceof DuplexChannel d && outbound.isActive()) {
                d.shutdownOutput();
            }
            closeIfBothShut();
        } else if (evt instanceof IdleStateEvent) {
            closeBoth();
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    /** The backend finished sending: pass the FIN on to the client. */
    void backendInputShut() {
        outboundInputShut = true;
        if (inbound instanceof DuplexChannel d && inbound.isActive()) {
            d.shutdownOutput();
        }
        closeIfBothShut();
    }

    private void closeIfBothShut() {
        if (inboundInputShut && outboundInputShut) {
            closeBoth();
        }
    }

    void closeBoth() {
        closeOnFlush(inbound);
        if (outbound != null) {
            closeOnFlush(outbound);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (outbound != null) {
            closeOnFlush(outbound);
        }
        if (counted) {
            counted = false;
            ServicePortBackends b = route.backends;
            b.metrics.active.decrement();
            route.choice.counts.closed(connectedPosition);
            ConntrackState ct = router.conntrack();
            if (ct != null) {
                ct.connections().decrement(router.endpointOf(b, route.choice.endpoints[connectedPosition]));
            }
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        closeOnFlush(ctx.channel());
    }

    /** Closes with an RST instead of a FIN, as kube-proxy's REJECT makes the client see a refusal. */
    static void reset(Channel ch) {
        ch.config().setOption(ChannelOption.SO_LINGER, 0);
        ch.close();
    }

    static void closeOnFlush(Channel ch) {
        if (ch.isActive()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
