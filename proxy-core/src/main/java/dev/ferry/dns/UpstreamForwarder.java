package dev.ferry.dns;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Sends questions outside the cluster zone to the configured upstream servers over UDP, one at a
 * time in order (the next on timeout), and relays the answer as the upstream wrote it, with the
 * client's id; answers are cached in a bounded {@link ForwardCache}. At most {@code maxPending}
 * questions are in flight; beyond that, and when every upstream times out, the client gets
 * SERVFAIL. An answer is accepted only from the upstream asked, with the id and question sent.
 *
 * <p>Thread-safe: {@link #forward} may be called from any event loop; the pending table is owned
 * by the forwarder channel's event loop.
 */
final class UpstreamForwarder implements AutoCloseable {
    private static final int SERVFAIL = 2;

    private final List<InetSocketAddress> upstreams;
    private final long timeoutMillis;
    private final int maxPending;
    private final ForwardCache cache;
    private final Map<Integer, Pending> pending = new HashMap<>();
    private final AtomicLong forwarded = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private Channel channel;

    private static final class Pending {
        final String name;
        final int qtype;
        final int qclass;
        final int clientId;
        final Reply reply;
        final byte[] query;
        int upstream;
        ScheduledFuture<?> timeout;

        Pending(String name, int qtype, int qclass, int clientId, Reply reply, byte[] query) {
            this.name = name;
            this.qtype = qtype;
            this.qclass = qclass;
            this.clientId = clientId;
            this.reply = reply;
            this.query = query;
        }
    }

    UpstreamForwarder(List<InetSocketAddress> upstreams, long timeoutMillis, int maxPending, ForwardCache cache) {
        this.upstreams = List.copyOf(upstreams);
        this.timeoutMillis = timeoutMillis;
        this.maxPending = maxPending;
        this.cache = cache;
    }

    void start(EventLoopGroup group, Class<? extends DatagramChannel> channelClass) throws InterruptedException {
        channel = new Bootstrap().group(group).channel(channelClass)
                .handler(new SimpleChannelInboundHandler<DatagramPacket>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
                        onAnswer(packet);
                    }
                })
                .bind(new InetSocketAddress(0)).sync().channel();
    }

    long forwarded() {
        return forwarded.get();
    }

    long failed() {
        return failed.get();
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
        channel.eventLoop().execute(() -> {
            if (pending.size() >= maxPending) {
                failed.incrementAndGet();
                reply.send(servfail);
                return;
            }
            int id;
            do {
                id = ThreadLocalRandom.current().nextInt(0x10000);
            } while (pending.containsKey(id));
            byte[] query = upstreamQuery(id, qname, qtype, qclass);
            if (query == null) {
                reply.send(servfail);
                return;
            }
            Pending p = new Pending(name, qtype, qclass, clientId, reply, query);
            pending.put(id, p);
            forwarded.incrementAndGet();
            send(id, p, servfail);
        });
    }

    private void send(int id, Pending p, byte[] servfail) {
        channel.writeAndFlush(new DatagramPacket(Unpooled.wrappedBuffer(p.query), upstreams.get(p.upstream)));
        p.timeout = channel.eventLoop().schedule(() -> {
            if (pending.get(id) != p) return;
            p.upstream++;
            if (p.upstream < upstreams.size()) {
                send(id, p, servfail);
            } else {
                pending.remove(id);
                failed.incrementAndGet();
                p.reply.send(servfail);
            }
        }, timeoutMillis, TimeUnit.MILLISECONDS);
    }

    private void onAnswer(DatagramPacket packet) {
        ByteBuf in = packet.content();
        if (in.readableBytes() < ResponseWriter.HEADER_SIZE) return;
        int id = in.getUnsignedShort(in.readerIndex());
        Pending p = pending.get(id);
        if (p == null || !packet.sender().equals(upstreams.get(p.upstream))) return;
        byte[] answer = ByteBufUtil.getBytes(in);
        WireScan scan = WireScan.of(answer);
        // The question must be the one we asked (bytes 4..questionEnd: counts aside, the question itself).
        if (scan == null || (answer[2] & 0x80) == 0 || scan.questionEnd() < 17 || scan.questionEnd() > p.query.length
                || !Arrays.equals(answer, 12, scan.questionEnd(), p.query, 12, scan.questionEnd())) {
            return;
        }
        pending.remove(id);
        p.timeout.cancel(false);
        // We recurse on the client's behalf through the upstream, and are not the authority for its answer.
        answer[2] &= (byte) ~0x04;
        answer[3] |= (byte) 0x80;
        cache.put(p.name, p.qtype, p.qclass, answer, System.nanoTime());
        answer[0] = (byte) (p.clientId >>> 8);
        answer[1] = (byte) p.clientId;
        p.reply.send(answer);
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
        if (channel != null) channel.close().syncUninterruptibly();
    }
}
