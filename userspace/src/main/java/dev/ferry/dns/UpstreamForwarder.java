package dev.ferry.dns;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Sends questions outside the cluster zone to the configured upstream servers over UDP, one at a
 * time in order (the next on timeout), and relays the answer as the upstream wrote it, with the
 * client's id; answers are cached in a bounded {@link ForwardCache}.
 *
 * <p>Against off-path spoofing (cache poisoning), every attempt uses a fresh socket, so a source
 * port the kernel picks at random (Linux randomizes UDP ephemeral ports), and a message id from
 * {@link SecureRandom}; the socket is closed once the attempt ends, so an id guessed for an
 * earlier port reaches nothing. An answer is accepted only from the upstream asked (address and
 * port), with the id sent, and echoing the question sent (name case-insensitively, type and
 * class); anything else is dropped and counted ({@link #rejectedAnswers}) while the real answer
 * is still awaited. At most {@code maxPending} questions, so sockets, are in flight; beyond that,
 * and when every upstream times out, the client gets SERVFAIL.
 *
 * <p>Thread-safe: {@link #forward} may be called from any event loop; attempts run on one event
 * loop of the server's group, which owns the in-flight count.
 */
final class UpstreamForwarder implements AutoCloseable {
    private final List<InetSocketAddress> upstreams;
    private final long timeoutMillis;
    private final int maxPending;
    private final ForwardCache cache;
    private final SecureRandom random = new SecureRandom();
    private final AtomicLong forwarded = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong rejectedAnswers = new AtomicLong();
    private final ChannelGroup sockets = new DefaultChannelGroup("dns-upstream", GlobalEventExecutor.INSTANCE);
    private EventLoop loop;
    private Class<? extends DatagramChannel> channelClass;
    /** Questions in flight; touched on {@link #loop} only. */
    private int inFlight;
    private volatile boolean closed;

    /** One client question on its way through the upstreams; touched on {@link #loop} only. */
    private static final class Pending {
        final String name;
        final String qname;
        final int qtype;
        final int qclass;
        final int clientId;
        final Reply reply;
        final byte[] servfail;
        int upstream;
        boolean done;

        Pending(String name, String qname, int qtype, int qclass, int clientId, Reply reply, byte[] servfail) {
            this.name = name;
            this.qname = qname;
            this.qtype = qtype;
            this.qclass = qclass;
            this.clientId = clientId;
            this.reply = reply;
            this.servfail = servfail;
        }
    }

    UpstreamForwarder(List<InetSocketAddress> upstreams, long timeoutMillis, int maxPending, ForwardCache cache) {
        this.upstreams = List.copyOf(upstreams);
        this.timeoutMillis = timeoutMillis;
        this.maxPending = maxPending;
        this.cache = cache;
    }

    void start(EventLoopGroup group, Class<? extends DatagramChannel> channelClass) {
        this.loop = group.next();
        this.channelClass = channelClass;
    }

    long forwarded() {
        return forwarded.get();
    }

    long failed() {
        return failed.get();
    }

    /** Answers dropped: from another address or port than the upstream asked, another id, or another question. */
    long rejectedAnswers() {
        return rejectedAnswers.get();
    }

    ForwardCache cache() {
        return cache;
    }

    /**
     * Answers from the cache or asks the upstreams.
     *
     * @param name the question name in lower case without the trailing dot (the cache key)
     * @param qname the question name as the client wrote it (echoed upstream and back)
     */
    void forward(String name, String qname, int qtype, int qclass, int clientId, Reply reply, byte[] servfail) {
        byte[] cached = cache.get(name, qtype, qclass, clientId, System.nanoTime());
        if (cached != null) {
            reply.send(cached);
            return;
        }
        loop.execute(() -> {
            if (closed || inFlight >= maxPending) {
                failed.incrementAndGet();
                reply.send(servfail);
                return;
            }
            inFlight++;
            forwarded.incrementAndGet();
            attempt(new Pending(name, qname, qtype, qclass, clientId, reply, servfail));
        });
    }

    /** Asks the current upstream of p from a fresh socket with a fresh id. */
    private void attempt(Pending p) {
        InetSocketAddress upstream = upstreams.get(p.upstream);
        int id = random.nextInt(0x10000);
        byte[] query = upstreamQuery(id, p.qname, p.qtype, p.qclass);
        if (query == null || closed) {
            end(p, p.servfail, true);
            return;
        }
        InetSocketAddress local = new InetSocketAddress(
                upstream.getAddress() instanceof Inet6Address ? "::" : "0.0.0.0", 0);
        ChannelFuture bound = new Bootstrap().group(loop).channel(channelClass)
                .handler(new AnswerHandler(p, upstream, id, query))
                .bind(local);
        bound.addListener(f -> {
            Channel ch = bound.channel();
            if (!f.isSuccess()) {
                next(p, ch);
                return;
            }
            sockets.add(ch);
            ch.writeAndFlush(new DatagramPacket(Unpooled.wrappedBuffer(query), upstream));
            ScheduledFuture<?> timeout = loop.schedule(() -> next(p, ch), timeoutMillis, TimeUnit.MILLISECONDS);
            ch.closeFuture().addListener(c -> timeout.cancel(false));
        });
    }

    /** The attempt on ch ended without an answer: try the next upstream, or give up with SERVFAIL. */
    private void next(Pending p, Channel ch) {
        ch.close();
        if (p.done) return;
        p.upstream++;
        if (p.upstream < upstreams.size() && !closed) {
            attempt(p);
        } else {
            end(p, p.servfail, true);
        }
    }

    private void end(Pending p, byte[] response, boolean failure) {
        if (p.done) return;
        p.done = true;
        inFlight--;
        if (failure) failed.incrementAndGet();
        p.reply.send(response);
    }

    /** Reads the answers arriving on one attempt's socket; accepts the first that matches. */
    private final class AnswerHandler extends SimpleChannelInboundHandler<DatagramPacket> {
        private final Pending p;
        private final InetSocketAddress upstream;
        private final int id;
        private final byte[] query;

        AnswerHandler(Pending p, InetSocketAddress upstream, int id, byte[] query) {
            this.p = p;
            this.upstream = upstream;
            this.id = id;
            this.query = query;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
            ByteBuf in = packet.content();
            byte[] answer = ByteBufUtil.getBytes(in);
            if (p.done || !packet.sender().equals(upstream) || !answers(answer, id, query)) {
                rejectedAnswers.incrementAndGet();
                return;
            }
            ctx.close();
            // We recurse on the client's behalf through the upstream, and are not the authority for its answer.
            answer[2] &= (byte) ~0x04;
            answer[3] |= (byte) 0x80;
            cache.put(p.name, p.qtype, p.qclass, answer, System.nanoTime());
            answer[0] = (byte) (p.clientId >>> 8);
            answer[1] = (byte) p.clientId;
            end(p, answer, false);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // An ICMP error or a failed read on this attempt's socket: the timeout moves on.
        }
    }

    /**
     * True when answer is a well-formed response with this id to exactly the question of query: one
     * question, the same name ignoring ASCII case (RFC 4343), the same type and class.
     */
    static boolean answers(byte[] answer, int id, byte[] query) {
        if (answer.length < ResponseWriter.HEADER_SIZE || WireScan.u16(answer, 0) != id || (answer[2] & 0x80) == 0
                || WireScan.u16(answer, 4) != 1) {
            return false;
        }
        WireScan scan = WireScan.of(answer);
        WireScan asked = WireScan.of(query);
        if (scan == null || asked == null || scan.questionEnd() != asked.questionEnd()) return false;
        int nameEnd = scan.questionEnd() - 4;
        for (int i = ResponseWriter.HEADER_SIZE; i < nameEnd; i++) {
            if (lower(answer[i]) != lower(query[i])) return false;
        }
        for (int i = nameEnd; i < scan.questionEnd(); i++) {
            if (answer[i] != query[i]) return false;
        }
        return true;
    }

    /** ASCII lower case; label length bytes (at most 63) are below 'A' and stay as they are. */
    private static int lower(byte b) {
        return b >= 'A' && b <= 'Z' ? b + 32 : b;
    }

    /** Our own question to the upstream: recursion desired, EDNS0 with a 1232-byte payload. */
    private static byte[] upstreamQuery(int id, String qname, int qtype, int qclass) {
        ByteBuf buf = Unpooled.buffer(64);
        ResponseWriter w = new ResponseWriter(buf, 512, true);
        if (!w.begin(id, 0, true, qname, qtype, qclass)) return null;
        w.opt(1232);
        w.finish();
        buf.setShort(2, 0x0100);
        return ByteBufUtil.getBytes(buf);
    }

    @Override
    public void close() {
        closed = true;
        sockets.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    }
}
