package dev.ferry.dns;

import dev.ferry.model.Cidr;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetAddress;
import java.util.List;

/**
 * The first handler of the UDP pipeline: decides, before any decoding, whether a datagram's
 * source may be answered at all. A source outside the allowed client CIDRs gets a bare REFUSED (header only, no larger than its query, so nothing to amplify) — operators
 * see "REFUSED" in dig at once instead of a timeout; a source over its rate budget gets nothing.
 * Both are counted. Allowed datagrams pass on untouched.
 *
 * <p>Sharable: the allow-list is immutable and the rate limit is thread-safe.
 */
@ChannelHandler.Sharable
final class ClientGate extends ChannelInboundHandlerAdapter {
    private static final int REFUSED = 5;

    private final List<Cidr> allowed;
    private final ClientRateLimit rate;
    private final QueryCounters counters;

    ClientGate(List<Cidr> allowed, ClientRateLimit rate, QueryCounters counters) {
        this.allowed = List.copyOf(allowed);
        this.rate = rate;
        this.counters = counters;
    }

    /** True for addresses inside one of the allowed CIDRs. */
    boolean allows(InetAddress source) {
        for (Cidr c : allowed) {
            if (c.contains(source)) return true;
        }
        return false;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof DatagramPacket packet)) {
            ctx.fireChannelRead(msg);
            return;
        }
        InetAddress source = packet.sender().getAddress();
        if (!rate.tryAcquire(source)) {
            counters.rateLimited.increment();
            packet.release();
            return;
        }
        if (allows(source)) {
            ctx.fireChannelRead(msg);
            return;
        }
        counters.refusedClients.increment();
        ByteBuf in = packet.content();
        int at = in.readerIndex();
        // Only a query gets an answer: never answer an answer (no reflection loops between responders).
        if (in.readableBytes() >= ResponseWriter.HEADER_SIZE && (in.getByte(at + 2) & 0x80) == 0) {
            ByteBuf r = ctx.alloc().buffer(ResponseWriter.HEADER_SIZE);
            r.writeShort(in.getUnsignedShort(at));
            r.writeShort(0x8000 | (in.getByte(at + 2) & 0x79) << 8 | REFUSED); // QR, the query's opcode and RD
            r.writeZero(8);
            ctx.write(new DatagramPacket(r, packet.sender()));
        }
        packet.release();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush(); // the REFUSED written above: a batch of them dropped before the query handler sees any
        ctx.fireChannelReadComplete();
    }
}
