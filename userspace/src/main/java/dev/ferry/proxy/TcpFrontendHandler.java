package dev.ferry.proxy;

import dev.ferry.conntrack.ConntrackState;
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
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The client side of one proxied TCP connection. The client channel does not read (AUTO_READ off)
 * until a backend is connected; from then on both channels read on their own and each side writes
 * what it reads to the other, flushing once per read batch. Back-pressure follows the write
 * buffers: when the side being written to turns unwritable (its buffer passed the high-water
 * mark), the side being read stops reading until it drains, so a slow side holds at most one
 * buffer's worth of the other's data. Compared with asking for each next read when a write
 * completes, this keeps the epoll interest set untouched on the relay path.
 *
 * <p>Picks the backend through the {@link Router}, retries the next usable backend when a connect
 * is refused or times out, resets the client (SO_LINGER 0) when there is none or all attempts
 * fail, propagates half-close (a FIN is passed on only after what came before it is flushed), and
 * closes both sides when neither has sent anything for the idle timeout.
 *
 * <p>Connections are bounded ({@link ProxyLimits#connections()}): one accepted while the bound is
 * reached is reset at once and counted, and the connections already relayed go on.
 *
 * <p>One instance per client connection; all its methods run on that channel's event loop (the
 * backend channel is registered on the same loop).
 */
final class TcpFrontendHandler extends ChannelInboundHandlerAdapter {
    private final Router router;
    private final FrontendKey key;
    private final ProxyOptions options;
    /** The proxy's {@link Transport}. */
    private final BackendChannels channels;
    /** Counts this connection on its loop. */
    private final LoopBalance balance;
    private final ProxyBounds bounds;
    /** Holds one of the proxy's connection slots, given back when the client channel closes. */
    private boolean holdsSlot;
    private final Router.Route route = new Router.Route();
    private final long idleNanos;
    private Channel inbound;
    private Channel outbound;
    private int attempts;
    private int connectedPosition = -1;
    private boolean counted;
    /** Counted in conntrack's connection counts (decremented there when the connection closes). */
    private boolean countedInConntrack;
    private boolean inboundInputShut;
    private boolean outboundInputShut;
    /** System.nanoTime() of the last read batch on either side. */
    long lastActivity;
    private ScheduledFuture<?> idleCheck;
    private final Runnable idleCheckTask = this::checkIdle;

    TcpFrontendHandler(Router router, FrontendKey key, ProxyOptions options, BackendChannels channels, LoopBalance balance,
                       ProxyBounds bounds) {
        this.router = router;
        this.bounds = bounds;
        this.key = key;
        this.options = options;
        this.channels = channels;
        this.balance = balance;
        this.idleNanos = options.idleTimeout().toNanos();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        inbound = ctx.channel();
        InetSocketAddress remote = (InetSocketAddress) inbound.remoteAddress();
        if (!bounds.tryOpenConnection()) {
            bounds.refused(ProxyBounds.Refusal.CONNECTIONS, 1,
                    "{} TCP connections are relayed already: a new one from {} to {} is reset",
                    options.limits().connections(), remote, key);
            reset(inbound);
            return;
        }
        holdsSlot = true;
        route(remote);
    }

    /** Picks the backend and connects to it, or resets the client when there is none. */
    private void route(InetSocketAddress remote) {
        route.client.set(remote.getAddress());
        int first = router.resolve(key, route, remote.getPort());
        if (first == Router.AWAIT_CONNTRACK) {
            // ClientIP affinity just after a start: the client's pin is in the conntrack maps, still
            // opening. The client waits, unread (AUTO_READ is off), rather than go to a backend its pin
            // may contradict; the connections of other services are served meanwhile.
            router.whenConntrackOpen(inbound.eventLoop(), () -> {
                if (inbound.isActive()) {
                    route(remote);
                }
            });
            return;
        }
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
        lastActivity = System.nanoTime();
        idleCheck = inbound.eventLoop().schedule(idleCheckTask, idleNanos, TimeUnit.NANOSECONDS);
        connect(first);
    }

    private void connect(int position) {
        ServicePortBackends b = route.backends;
        int index = route.choice.endpoints[position];
        InetSocketAddress target = b.addresses[index];
        long start = System.nanoTime();
        // A channel of the backend's own address family (an IPv4 socket for an IPv4 backend, not a
        // dual-stack one), registered on the client channel's loop: no Bootstrap, resolver or
        // option map per connection. Netty turns TCP_NODELAY on for its socket channels already.
        Channel ch = channels.newSocketChannel(b.isIpv4[index]);
        ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        ch.config().setRecvByteBufAllocator(RelayBuffers.reads());
        ch.config().setConnectTimeoutMillis((int) options.connectTimeout().toMillis());
        ch.pipeline().addLast(new TcpBackendHandler(inbound, this, b.metrics));
        attempts++;
        outbound = ch;
        inbound.eventLoop().register(ch).addListener((ChannelFutureListener) registered -> {
            if (!registered.isSuccess()) {
                ch.unsafe().closeForcibly();
                failed(position);
                return;
            }
            ch.connect(target).addListener((ChannelFutureListener) future -> {
                if (future.isSuccess()) {
                    connected(position, System.nanoTime() - start);
                } else {
                    // A refused or timed-out connect leaves the socket open and registered (Bootstrap
                    // closes it; we must too, or it lingers and can disturb the retry's channel).
                    ch.close();
                    failed(position);
                }
            });
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
        countInConntrack();
        router.recordAffinity(route, position);
        if (b.proxyProtocol) {
            InetSocketAddress client = (InetSocketAddress) inbound.remoteAddress();
            InetSocketAddress frontend = (InetSocketAddress) inbound.localAddress();
            ByteBuf header = outbound.alloc().buffer(ProxyProtocolV2.length(client.getAddress()));
            ProxyProtocolV2.write(header, client, frontend);
            outbound.writeAndFlush(header, outbound.voidPromise());
        }
        // The backend channel reads by itself once active (it fires after this listener); the
        // client's data may now flow too.
        inbound.config().setAutoRead(true);
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
        Channel out = outbound;
        if (out == null || !out.isActive()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof ByteBuf buf) {
            route.backends.metrics.bytesFromClients.add(buf.readableBytes());
        }
        // A failed write fires exceptionCaught on the backend channel, which closes both sides.
        out.write(msg, out.voidPromise());
        if (!out.isWritable() && !relieved(out)) {
            inbound.config().setAutoRead(false);
        }
    }

    /**
     * Flushes a channel whose write buffer just passed its high-water mark and tells whether that
     * drained it. In bulk transfers the socket usually takes the data at once: flushing here
     * keeps the read loop going instead of stopping and restarting reads (two epoll_ctl calls)
     * for every buffer's worth.
     */
    static boolean relieved(Channel ch) {
        ch.flush();
        return ch.isWritable();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        lastActivity = System.nanoTime();
        if (outbound != null) {
            outbound.flush();
        }
    }

    /** The client drained what the backend sent: read the backend again. */
    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (inbound.isWritable() && outbound != null && !outboundInputShut) {
            outbound.config().setAutoRead(true);
        }
        ctx.fireChannelWritabilityChanged();
    }

    /** The backend drained what the client sent: read the client again. */
    void backendWritabilityChanged() {
        if (outbound.isWritable() && !inboundInputShut && counted) {
            inbound.config().setAutoRead(true);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            inboundInputShut = true;
            if (outbound != null && outbound.isActive()) {
                shutdownOutputAfterFlush(outbound);
            }
            closeIfBothShut();
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    /** The backend finished sending: pass the FIN on to the client. */
    void backendInputShut() {
        outboundInputShut = true;
        if (inbound.isActive()) {
            shutdownOutputAfterFlush(inbound);
        }
        closeIfBothShut();
    }

    /**
     * Sends a FIN on {@code ch} once everything written to it before has left (a shutdown fails
     * writes still queued). From then on the channel's own FIN closes it outright: with output and
     * input both done there is nothing to half-close, and Netty would otherwise shut its input
     * first, which fails with ENOTCONN (and an exception) on a socket the peer already closed.
     */
    private static void shutdownOutputAfterFlush(Channel ch) {
        ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(SHUTDOWN_OUTPUT);
    }

    private static final ChannelFutureListener SHUTDOWN_OUTPUT = future -> {
        Channel ch = future.channel();
        if (future.isSuccess() && ch.isActive()) {
            ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
            ((DuplexChannel) ch).shutdownOutput();
        }
    };

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

    private void checkIdle() {
        if (!inbound.isActive()) {
            return;
        }
        long quiet = System.nanoTime() - lastActivity;
        if (quiet >= idleNanos) {
            closeBoth();
        } else {
            idleCheck = inbound.eventLoop().schedule(idleCheckTask, idleNanos - quiet, TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        balance.closed(ctx.channel().eventLoop());
        if (holdsSlot) {
            holdsSlot = false;
            bounds.connectionClosed();
        }
        if (idleCheck != null) {
            idleCheck.cancel(false);
        }
        if (outbound != null) {
            closeOnFlush(outbound);
        }
        if (counted) {
            counted = false;
            ServicePortBackends b = route.backends;
            b.metrics.active.decrement();
            route.choice.counts.closed(connectedPosition);
            if (countedInConntrack) {
                countedInConntrack = false;
                router.conntrack().connections().decrement(router.endpointOf(b, route.choice.endpoints[connectedPosition]));
            }
        }
    }

    /**
     * Counts this connection in conntrack's per-backend counts (what {@code ferry dump conntrack}
     * shows); a connection made while the maps are still opening is counted once they are, if it is
     * still open then.
     */
    private void countInConntrack() {
        if (!counted || countedInConntrack) {
            return;
        }
        ConntrackState ct = router.conntrack();
        if (ct != null) {
            ct.connections().increment(router.endpointOf(route.backends, route.choice.endpoints[connectedPosition]));
            countedInConntrack = true;
        } else if (router.awaitingConntrack()) {
            router.whenConntrackOpen(inbound.eventLoop(), this::countInConntrack);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        closeBoth();
    }

    /** Closes with an RST instead of a FIN, as kube-proxy's REJECT makes the client see a refusal. */
    static void reset(Channel ch) {
        if (ch.isOpen()) {
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
            ch.close();
        }
    }

    static void closeOnFlush(Channel ch) {
        if (ch.isActive()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
