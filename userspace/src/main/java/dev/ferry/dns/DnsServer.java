package dev.ferry.dns;

import dev.ferry.proxy.Transport;
import dev.ferry.table.ServiceTableReader;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.dns.TcpDnsQueryDecoder;
import io.netty.handler.timeout.IdleStateHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Ferry's service DNS: a Netty DNS responder on UDP and TCP that answers the cluster zone from the
 * service table (see {@link ClusterZone}) and forwards other names to upstreams with a bounded
 * cache, or refuses them. Only clients inside the allowed CIDRs are answered, each at a bounded
 * rate over UDP (see {@link ClientGate}). Construct with a table reader and options, {@link #start()}, and
 * {@link #close()} when done:
 *
 * <pre>{@code
 * DnsServer dns = new DnsServer(table.reader(), DnsOptions.of(DnsOptions.parseAddress("--dns-bind", "169.254.20.10:53"))
 *         .withUpstreams(List.of(DnsOptions.parseAddress("--dns-upstream", "10.96.0.10:53"))));
 * dns.start();
 * ...
 * dns.close();
 * }</pre>
 *
 * <p>Thread-safe; start and close once each. Queries are answered on the server's own event loops
 * (epoll with one SO_REUSEPORT UDP socket per thread where available, NIO otherwise).
 */
public final class DnsServer implements AutoCloseable {
    private static final int BIND_ATTEMPTS = 8;
    private static final int TCP_IDLE_SECONDS = 10;
    /** Largest UDP query read whole; real queries are a few hundred bytes at most. */
    private static final int MAX_QUERY = 2048;
    private static final int RECV_BATCH = 16;

    private final ServiceTableReader reader;
    private final dev.ferry.table.ChangeFeed feed;
    private final DnsOptions options;
    private final QueryCounters counters = new QueryCounters();
    private final List<Channel> channels = new ArrayList<>();
    private final AtomicInteger tcpConnections = new AtomicInteger();
    private EventLoopGroup group;
    private volatile UpstreamForwarder forwarder;
    private InetSocketAddress udpAddress;
    private InetSocketAddress tcpAddress;

    public DnsServer(ServiceTableReader reader, DnsOptions options) {
        this(reader, null, options);
    }

    /**
     * As {@link #DnsServer(ServiceTableReader, DnsOptions)}, with the table's change feed (the daemon's
     * own table): after a change, the first query reads only the service ports the feed names.
     */
    public DnsServer(ServiceTableReader reader, dev.ferry.table.ChangeFeed feed, DnsOptions options) {
        this.reader = reader;
        this.feed = feed;
        this.options = options;
    }

    /** Binds UDP and TCP on the options' address (the same port for both); fails with the address in the message. */
    public synchronized void start() throws IOException {
        if (group != null) {
            throw new IllegalStateException("DNS server already started");
        }
        // epoll, not io_uring: a datagram socket costs ~60 KB there (Transport#forUdp), and epoll
        // gives recvmmsg batches and SO_REUSEPORT; NIO where epoll does not load.
        Transport transport = Transport.pick("epoll");
        boolean epoll = transport.isEpoll();
        group = transport.newGroup(options.threads(), "ferry-dns");
        Class<? extends DatagramChannel> udpClass = transport.datagramChannel();
        Class<? extends ServerSocketChannel> tcpClass = transport.serverChannel();
        try {
            if (!options.upstreams().isEmpty()) {
                forwarder = new UpstreamForwarder(options.upstreams(), options.upstreamTimeoutMillis(),
                        options.maxPendingForwards(), new ForwardCache(options.cacheEntries(), options.maxCacheTtlSeconds()));
                forwarder.start(group, udpClass);
            }
            ClusterZone zone = new ClusterZone(reader, feed, options.clusterDomain(), options.ttlSeconds());
            QueryHandler handler = new QueryHandler(zone, forwarder, counters);
            DatagramQueryDecoder udpDecoder = new DatagramQueryDecoder(counters);
            ClientGate gate = new ClientGate(options.allowedClients(),
                    new ClientRateLimit(options.clientQueriesPerSecond()), counters);
            bind(epoll, udpClass, tcpClass, gate, handler, udpDecoder);
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close();
            throw new IOException("interrupted while binding DNS on " + options.bind(), e);
        }
    }

    private void bind(boolean epoll, Class<? extends DatagramChannel> udpClass,
                      Class<? extends ServerSocketChannel> tcpClass, ClientGate gate, QueryHandler handler,
                      DatagramQueryDecoder udpDecoder) throws IOException, InterruptedException {
        InetSocketAddress want = options.bind();
        IOException last = null;
        // With port 0 the UDP port is chosen first and TCP must get the same one: retry if it is taken.
        for (int attempt = 0; attempt < (want.getPort() == 0 ? BIND_ATTEMPTS : 1); attempt++) {
            List<Channel> bound = new ArrayList<>();
            try {
                Bootstrap udp = new Bootstrap().group(group).channel(udpClass)
                        // Room for a client's opening burst (the kernel caps it at net.core.rmem_max).
                        .option(ChannelOption.SO_RCVBUF, 1 << 20)
                        .option(ChannelOption.RCVBUF_ALLOCATOR,
                                new FixedRecvByteBufAllocator(epoll ? MAX_QUERY * RECV_BATCH : MAX_QUERY))
                        .handler(new ChannelInitializer<DatagramChannel>() {
                            @Override
                            protected void initChannel(DatagramChannel ch) {
                                ch.pipeline().addLast(gate, udpDecoder, handler);
                            }
                        });
                if (epoll) {
                    // recvmmsg: up to RECV_BATCH queries per system call, each at most MAX_QUERY bytes
                    // (a longer datagram arrives cut short and is answered FORMERR).
                    udp.option(EpollChannelOption.SO_REUSEPORT, true)
                            .option(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, MAX_QUERY);
                }
                Channel first = udp.bind(want).sync().channel();
                bound.add(first);
                InetSocketAddress actual = (InetSocketAddress) first.localAddress();
                for (int i = 1; epoll && i < options.threads(); i++) {
                    bound.add(udp.bind(actual).sync().channel());
                }
                Channel tcp = new ServerBootstrap().group(group).channel(tcpClass)
                        .childHandler(new ChannelInitializer<SocketChannel>() {
                            @Override
                            protected void initChannel(SocketChannel ch) {
                                if (!gate.allows(ch.remoteAddress().getAddress())) {
                                    counters.refusedClients.increment(); // TCP cannot be spoofed: closing says enough
                                    ch.close();
                                    return;
                                }
                                if (tcpConnections.incrementAndGet() > options.maxTcpConnections()) {
                                    tcpConnections.decrementAndGet();
                                    counters.dropped.increment();
                                    ch.close();
                                    return;
                                }
                                ch.closeFuture().addListener(f -> tcpConnections.decrementAndGet());
                                ch.pipeline().addLast(new IdleStateHandler(0, 0, TCP_IDLE_SECONDS, TimeUnit.SECONDS),
                                        new TcpDnsQueryDecoder(QuestionDecoder.INSTANCE, 65535), handler);
                            }
                        })
                        .bind(actual).sync().channel();
                bound.add(tcp);
                channels.addAll(bound);
                udpAddress = actual;
                tcpAddress = (InetSocketAddress) tcp.localAddress();
                return;
            } catch (Exception e) {
                for (Channel c : bound) {
                    c.close().sync();
                }
                last = new IOException("cannot bind DNS on " + want + " (UDP and TCP): " + e.getMessage(), e);
            }
        }
        throw last;
    }

    /** Where UDP queries are answered (the actual port when the options asked for port 0). */
    public InetSocketAddress udpAddress() {
        return udpAddress;
    }

    public InetSocketAddress tcpAddress() {
        return tcpAddress;
    }

    public QueryCounters counters() {
        return counters;
    }

    /** Upstream answers dropped as not answering what was asked (wrong address, port, id or question). */
    public long rejectedUpstreamAnswers() {
        UpstreamForwarder f = forwarder;
        return f == null ? 0 : f.rejectedAnswers();
    }

    /** Upstream answers cached now (0 without upstreams). */
    public int cachedAnswers() {
        return forwarder == null ? 0 : forwarder.cache().size();
    }

    @Override
    public synchronized void close() {
        for (Channel c : channels) {
            c.close().syncUninterruptibly();
        }
        channels.clear();
        if (forwarder != null) {
            forwarder.close();
            forwarder = null;
        }
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            group = null;
        }
    }
}
