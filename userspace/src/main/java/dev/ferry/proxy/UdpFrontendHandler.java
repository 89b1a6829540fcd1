package dev.ferry.proxy;

import dev.ferry.conntrack.ConntrackState;
import dev.ferry.conntrack.Flow;
import dev.ferry.conntrack.FlowKey;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One UDP frontend socket (bound to the service address, so replies leave from it): keeps a flow
 * per client address — a connected socket to the chosen backend — relays datagrams both ways,
 * records flows in conntrack's flow table (a restarted daemon sends a known client to the same
 * backend) and closes flows idle for the UDP timeout.
 *
 * <p>Flows are bounded ({@link ProxyBounds}): a client address holds at most
 * {@link ProxyLimits#udpFlowsPerClient()} flows here, and a new one beyond that closes its least
 * recently used one; when every flow of the proxy is taken, a new flow closes this frontend's least
 * recently used one, or is refused when this frontend has none. So a client sending from endless
 * source ports recycles its own flows and sockets instead of taking the node's descriptors. Flows
 * sit in two least-recently-used lists (the frontend's and their client's), which makes eviction
 * and the idle sweep cost what they remove, not the number of flows.
 *
 * <p>One instance per frontend socket; everything runs on that socket's event loop (backend
 * sockets are registered on the same loop), so the flow map needs no lock.
 */
final class UdpFrontendHandler extends ChannelInboundHandlerAdapter {
    private static final long TOUCH_MILLIS = 1000;

    private final Router router;
    private final FrontendKey key;
    private final ProxyOptions options;
    /** Makes each flow's backend socket: the proxy's UDP transport's datagram channel. */
    private final ChannelFactory<? extends Channel> backendChannels;
    /** Where this listener is counted among the event loops' channels. */
    private final LoopBalance balance;
    private final ProxyBounds bounds;
    private final Map<InetSocketAddress, UdpFlow> flows = new HashMap<>();
    private final Map<InetAddress, ClientFlows> clients = new HashMap<>();
    /** This frontend's flows, least recently seen first. */
    private UdpFlow oldest;
    private UdpFlow newest;
    /** The router refresh the sweep last checked every flow against. */
    private long sweptRefresh = -1;
    private final FlowKey flowKey = new FlowKey();
    private final Flow flowScratch = new Flow();
    private ScheduledFuture<?> sweeper;

    /** One client address's flows on this frontend, least recently seen first. */
    private static final class ClientFlows {
        int count;
        UdpFlow oldest;
        UdpFlow newest;
    }

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
        /** Listed in {@link #flows} and the LRU lists, holding a flow slot. */
        boolean linked;
        UdpFlow prev;
        UdpFlow next;
        ClientFlows owner;
        UdpFlow clientPrev;
        UdpFlow clientNext;

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

    UdpFrontendHandler(Router router, FrontendKey key, ProxyOptions options,
                       ChannelFactory<? extends Channel> backendChannels, LoopBalance balance,
                       ProxyBounds bounds) {
        this.balance = balance;
        this.bounds = bounds;
        this.router = router;
        this.key = key;
        this.options = options;
        this.backendChannels = backendChannels;
    }

    int flowCount() {
        return flows.size();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (router.awaitingConntrack()) {
            // Each flow's backend is looked up in, and recorded to, the conntrack flow table (a
            // restarted daemon keeps a client on its backend). Until those maps are open this socket
            // reads nothing: datagrams wait in its receive buffer (the kernel bounds and counts it)
            // instead of opening flows that could contradict a recorded one or that the next restart
            // would not know. Set before the pipeline's head asks for the first read.
            Channel ch = ctx.channel();
            ch.config().setAutoRead(false);
            router.whenConntrackOpen(ch.eventLoop(), () -> ch.config().setAutoRead(true));
        }
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
        if (flow != null && (!flow.backend.isOpen() || (flow.checkedAt != router.refreshes() && !stillServed(flow)))) {
            close(flow, true);
            flow = null;
        }
        if (flow == null) {
            flow = open(ctx.channel(), sender, now);
            if (flow == null) {
                packet.release();
                return;
            }
        } else {
            touch(flow);
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

    /**
     * Unlists a flow, gives its slot back and closes its backend socket; {@code forget} also removes
     * it from conntrack (not when the listener closes: a restarted daemon keeps the client's backend).
     * Safe to call twice (the backend's close listener calls it again).
     */
    private void close(UdpFlow flow, boolean forget) {
        if (!flow.linked) {
            return;
        }
        flow.linked = false;
        flows.remove(flow.client, flow);
        unlink(flow);
        bounds.udpFlowClosed();
        flow.backend.close();
        ConntrackState ct = router.conntrack();
        if (forget && ct != null) {
            ct.flows().remove(setKey(flow.client));
        }
    }

    /** Makes a flow the most recently seen of its frontend and of its client. */
    private void touch(UdpFlow f) {
        if (f != newest) {
            unlinkFrontend(f);
            appendFrontend(f);
        }
        ClientFlows c = f.owner;
        if (f != c.newest) {
            unlinkClient(f);
            appendClient(f);
        }
    }

    private void link(UdpFlow f) {
        f.linked = true;
        flows.put(f.client, f);
        appendFrontend(f);
        ClientFlows c = clients.computeIfAbsent(f.client.getAddress(), a -> new ClientFlows());
        f.owner = c;
        c.count++;
        appendClient(f);
    }

    private void unlink(UdpFlow f) {
        unlinkFrontend(f);
        unlinkClient(f);
        ClientFlows c = f.owner;
        if (--c.count == 0) {
            clients.remove(f.client.getAddress());
        }
    }

    private void appendFrontend(UdpFlow f) {
        f.prev = newest;
        f.next = null;
        if (newest == null) {
            oldest = f;
        } else {
            newest.next = f;
        }
        newest = f;
    }

    private void unlinkFrontend(UdpFlow f) {
        if (f.prev == null) {
            oldest = f.next;
        } else {
            f.prev.next = f.next;
        }
        if (f.next == null) {
            newest = f.prev;
        } else {
            f.next.prev = f.prev;
        }
        f.prev = null;
        f.next = null;
    }

    private static void appendClient(UdpFlow f) {
        ClientFlows c = f.owner;
        f.clientPrev = c.newest;
        f.clientNext = null;
        if (c.newest == null) {
            c.oldest = f;
        } else {
            c.newest.clientNext = f;
        }
        c.newest = f;
    }

    private static void unlinkClient(UdpFlow f) {
        ClientFlows c = f.owner;
        if (f.clientPrev == null) {
            c.oldest = f.clientNext;
        } else {
            f.clientPrev.clientNext = f.clientNext;
        }
        if (f.clientNext == null) {
            c.newest = f.clientPrev;
        } else {
            f.clientNext.clientPrev = f.clientPrev;
        }
        f.clientPrev = null;
        f.clientNext = null;
    }

    /**
     * Makes room for one more flow of {@code sender}: closes the client's least recently used flow
     * when it is at its bound, then takes a slot, closing this frontend's least recently used flow
     * when the proxy has none left. False (nothing taken) when no slot can be had.
     */
    private boolean makeRoom(InetSocketAddress sender) {
        ClientFlows c = clients.get(sender.getAddress());
        if (c != null && c.count >= options.limits().udpFlowsPerClient()) {
            UdpFlow victim = c.oldest;
            bounds.evicted(ProxyBounds.Eviction.UDP_PER_CLIENT,
                    "client {} reached {} UDP flows to {}: its least recently used flow (port {}) is closed for a new one",
                    sender.getAddress().getHostAddress(), c.count, key, victim.client.getPort());
            close(victim, true);
        }
        if (bounds.tryOpenUdpFlow()) {
            return true;
        }
        if (oldest != null) {
            bounds.evicted(ProxyBounds.Eviction.UDP_GLOBAL,
                    "all {} UDP flows are taken: the least recently used flow of {} (from {}) is closed for a new one",
                    options.limits().udpFlows(), key, oldest.client);
            close(oldest, true);
            if (bounds.tryOpenUdpFlow()) {
                return true;
            }
        }
        bounds.refused(ProxyBounds.Refusal.UDP_FLOWS, 1,
                "all {} UDP flows are taken (none on {} to close): a new flow from {} is refused",
                options.limits().udpFlows(), key, sender);
        return false;
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
        if (!makeRoom(sender)) {
            return null;
        }
        ConntrackState ct = router.conntrack();
        if (ct != null && ct.flows().lookup(setKey(sender), now, flowScratch)) {
            int known = Router.positionOf(b, route.choice, flowScratch.backend());
            if (known >= 0) {
                pos = known;
            }
        }
        InetSocketAddress target = b.addresses[route.choice.endpoints[pos]];
        ChannelFuture f = connectBackend(frontend, sender, target, b);
        if (f.isDone() && !f.isSuccess()) {
            // No socket at all (the process is out of descriptors): give the slot back, drop the datagram.
            bounds.udpFlowClosed();
            b.metrics.connectErrors.increment();
            bounds.warn("udp-backend-socket", "cannot open a UDP socket to {} for {}: {}", target, key, f.cause());
            return null;
        }
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
        UdpFlow flow = new UdpFlow(sender, b, route.external, target, f, refresh, now);
        link(flow);
        // A backend socket closed under the flow (ICMP unreachable) frees the flow at once.
        f.channel().closeFuture().addListener(closed -> close(flow, true));
        return flow;
    }

    /**
     * A flow's backend socket, registered on the frontend's loop and connected to {@code target},
     * relaying what comes back to {@code sender}. Made directly, as the TCP relay does: no Bootstrap,
     * resolver lookup or option map per flow (the target is an address already). A failed future,
     * done at once, when no socket could be had.
     */
    private ChannelFuture connectBackend(Channel frontend, InetSocketAddress sender, InetSocketAddress target,
                                         ServicePortBackends b) {
        Channel ch;
        try {
            ch = backendChannels.newChannel();
        } catch (RuntimeException e) {
            return frontend.newFailedFuture(e);
        }
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
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
        ChannelPromise connected = ch.newPromise();
        frontend.eventLoop().register(ch).addListener((ChannelFutureListener) registered -> {
            if (registered.isSuccess()) {
                ch.connect(target, connected);
            } else {
                ch.unsafe().closeForcibly();
                connected.setFailure(registered.cause());
            }
        });
        return connected;
    }

    private FlowKey setKey(InetSocketAddress client) {
        flowKey.clientIp(client.getAddress()).clientPort(client.getPort())
                .frontendIp(key.address).frontendPort(key.port).protocol(FlowKey.PROTO_UDP);
        return flowKey;
    }

    /**
     * Closes idle flows (from the least recently seen on, so it costs what it removes) and, after a
     * table change, flows whose endpoint no longer serves this frontend (an idle flow to a removed
     * endpoint goes at once, not only when its client speaks again). Never throws: an exception
     * would cancel the periodic task and leave every later flow open for good.
     */
    private void expire() {
        try {
            long now = System.currentTimeMillis();
            long idle = options.udpIdleTimeout().toMillis();
            while (oldest != null && now - oldest.lastSeen >= idle) {
                close(oldest, true);
            }
            long refresh = router.refreshes();
            if (refresh != sweptRefresh) {
                sweptRefresh = refresh;
                for (UdpFlow f = oldest; f != null; ) {
                    UdpFlow next = f.next;
                    if (!f.backend.isOpen() || (f.checkedAt != refresh && !stillServed(f))) {
                        close(f, true);
                    }
                    f = next;
                }
            }
        } catch (RuntimeException e) {
            bounds.warn("udp-sweep", "UDP flow sweep of {} failed (retried next period): {}", key, e.toString());
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        balance.closed(ctx.channel().eventLoop());
        if (sweeper != null) {
            sweeper.cancel(false);
        }
        while (oldest != null) {
            close(oldest, false);
        }
        ctx.fireChannelInactive();
    }
}
