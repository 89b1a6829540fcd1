package dev.ferry.proxy;

import dev.ferry.conntrack.ConntrackState;
import dev.ferry.conntrack.Flow;
import dev.ferry.conntrack.FlowKey;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One UDP frontend socket (bound to the service address, so replies leave from it): keeps a flow
 * per client address — a connected socket to the chosen backend — relays datagrams both ways,
 * records flows in conntrack's flow table (a restarted daemon sends a known client to the same
 * backend) and closes flows idle for the UDP timeout.
 *
 * <p>One instance per frontend socket; everything runs on that socket's event loop (backend
 * sockets are registered on the same loop), so the flow map needs no lock.
 */
final class UdpFrontendHandler extends ChannelInboundHandlerAdapter {
    private static final long TOUCH_MILLIS = 1000;

    private final Router router;
    private final FrontendKey key;
    private final ProxyOptions options;
    private final Transport transport;
    /** Where this listener is counted among the event loops' channels. */
    private final LoopBalance balance;
    private final Map<InetSocketAddress, UdpFlow> flows = new HashMap<>();
    private final FlowKey flowKey = new FlowKey();
    private final Flow flowScratch = new Flow();
    private ScheduledFuture<?> sweeper;

    /** One client's flow to its backend. */
    private final class UdpFlow {
        final InetSocketAddress client;
        final ServicePortMetrics metrics;
        final Channel backend;
        final ChannelFuture connected;
        final InetSocketAddress target;
        final boolean external;
        /** The service port's state the target was last found in, and the router refresh that was checked. */
        ServicePortBackends backends;
        long checkedAt;
        long lastSeen;
        long lastTouched;

        UdpFlow(InetSocketAddress client, ServicePortBackends backends, boolean external, InetSocketAddress target,
                ChannelFuture connected, long refresh, long now) {
            this.client = client;
            this.metrics = backends.metrics;
            this.backends = backends;
            this.external = external;
            this.target = target;
            this.backend = connected.channel();
            this.connected = connected;
            this.checkedAt = refresh;
            this.lastSeen = now;
            this.lastTouched = now;
        }
    }

    UdpFrontendHandler(Router router, FrontendKey key, ProxyOptions options, Transport transport, LoopBalance balance) {
        this.balance = balance;
        this.router = router;
        this.key = key;
        this.options = options;
        this.transport = transport;
    }

    int flowCount() {
        return flows.size();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        long period = Math.max(50, Math.min(1000, options.udpIdleTimeout().toMillis() / 4));
        sweeper = ctx.channel().eventLoop().scheduleAtFixedRate(this::expire, period, period, TimeUnit.MILLISECONDS);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof DatagramPacket packet)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        InetSocketAddress sender = packet.sender();
        long now = System.currentTimeMillis();
        UdpFlow flow = flows.get(sender);
        if (flow != null && flow.checkedAt != router.refreshes() && !stillServed(flow)) {
            drop(flow);
            flow = null;
        }
        if (flow == null || !flow.backend.isOpen()) {
            flow = open(ctx.channel(), sender, now);
            if (flow == null) {
                packet.release();
                return;
            }
            flows.put(sender, flow);
        }
        flow.lastSeen = now;
        if (now - flow.lastTouched >= TOUCH_MILLIS) {
            flow.lastTouched = now;
            ConntrackState ct = router.conntrack();
            if (ct != null) {
                ct.flows().lookup(setKey(sender), now, flowScratch);
            }
        }
        flow.metrics.udpDatagrams.increment();
        flow.metrics.bytesFromClients.add(packet.content().readableBytes());
        ByteBuf content = packet.content();
        if (flow.connected.isDone()) {
            flow.backend.writeAndFlush(content);
        } else {
            Channel backend = flow.backend;
            flow.connected.addListener((ChannelFutureListener) f -> {
                if (f.isSuccess()) {
                    backend.writeAndFlush(content);
                } else {
                    content.release();
                }
            });
        }
    }

    /**
     * Whether the flow's endpoint still serves this frontend after a table change. UDP has no end of
     * connection, so a flow would otherwise keep sending to a removed endpoint until it idles out
     * (kube-proxy deletes such conntrack entries for the same reason); a dropped flow is opened
     * again, to a current endpoint, by the client's next datagram.
     */
    private boolean stillServed(UdpFlow flow) {
        long refresh = router.refreshes();
        ServicePortBackends now = router.current(key);
        if (now == null) {
            return false;
        }
        if (now != flow.backends) {
            int[] usable = now.choice(flow.external).endpoints;
            boolean found = false;
            for (int i = 0; i < usable.length && !found; i++) {
                found = now.addresses[usable[i]].equals(flow.target);
            }
            if (!found) {
                return false;
            }
            flow.backends = now;
        }
        flow.checkedAt = refresh;
        return true;
    }

    private void drop(UdpFlow flow) {
        flows.remove(flow.client);
        release(flow);
    }

    /** Closes a flow's backend socket and forgets it in conntrack (the caller has unlisted it). */
    private void release(UdpFlow flow) {
        flow.backend.close();
        ConntrackState ct = router.conntrack();
        if (ct != null) {
            ct.flows().remove(setKey(flow.client));
        }
    }

    private UdpFlow open(Channel frontend, InetSocketAddress sender, long now) {
        long refresh = router.refreshes(); // before the lookup: a refresh racing it re-checks the flow
        Router.Route route = new Router.Route();
        route.client.set(sender.getAddress());
        int pos = router.resolve(key, route, sender.getPort());
        if (pos < 0) {
            if (route.backends != null && pos == Router.NO_ENDPOINTS) {
                route.backends.metrics.refused.increment();
            }
            return null;
        }
        ServicePortBackends b = route.backends;
        ConntrackState ct = router.conntrack();
        if (ct != null && ct.flows().lookup(setKey(sender), now, flowScratch)) {
            int known = Router.positionOf(b, route.choice, flowScratch.backend());
            if (known >= 0) {
                pos = known;
            }
        }
        InetSocketAddress target = b.addresses[route.choice.endpoints[pos]];
        Bootstrap bootstrap = new Bootstrap()
                .group(frontend.eventLoop())
                .channel(transport.datagramChannel())
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object reply) {
                        if (reply instanceof DatagramPacket p) {
                            b.metrics.bytesFromBackends.add(p.content().readableBytes());
                            frontend.writeAndFlush(new DatagramPacket(p.content(), sender));
                        } else {
                            ReferenceCountUtil.release(reply);
                        }
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        // ICMP port unreachable from a dead backend surfaces here: drop the flow so
                        // the next datagram picks again.
                        ctx.close();
                    }
                });
        ChannelFuture f = bootstrap.connect(target);
        b.metrics.udpFlows.increment();
        router.recordAffinity(route, pos);
        if (ct != null) {
            ct.flows().record(setKey(sender), router.endpointOf(b, route.choice.endpoints[pos]), now);
        }
        f.addListener((ChannelFutureListener) future -> {
            if (!future.isSuccess()) {
                b.metrics.connectErrors.increment();
            }
        });
        return new UdpFlow(sender, b, route.external, target, f, refresh, now);
    }

    private FlowKey setKey(InetSocketAddress client) {
        flowKey.clientIp(client.getAddress()).clientPort(client.getPort())
                .frontendIp(key.address).frontendPort(key.port).protocol(FlowKey.PROTO_UDP);
        return flowKey;
    }

    private void expire() {
        long now = System.currentTimeMillis();
        long idle = options.udpIdleTimeout().toMillis();
        long refresh = router.refreshes();
        for (Iterator<UdpFlow> it = flows.values().iterator(); it.hasNext(); ) {
            UdpFlow f = it.next();
            // An idle flow to a removed endpoint goes at once too, not only when the client speaks again.
            if (now - f.lastSeen >= idle || !f.backend.isOpen() || (f.checkedAt != refresh && !stillServed(f))) {
                it.remove();
                release(f);
            }
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        balance.closed(ctx.channel().eventLoop());
        if (sweeper != null) {
            sweeper.cancel(false);
        }
        for (UdpFlow f : flows.values()) {
            f.backend.close();
        }
        flows.clear();
        ctx.fireChannelInactive();
    }
}
