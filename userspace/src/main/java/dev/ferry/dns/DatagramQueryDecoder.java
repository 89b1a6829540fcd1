package dev.ferry.dns;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.dns.DatagramDnsQueryDecoder;
import java.util.List;

/**
 * Netty's UDP query decoder, made safe for packets from anyone: a packet it cannot decode
 * (truncated, compression loop, absurd counts, trailing garbage in a name) gets FORMERR with the
 * packet's id when its header is readable and says it is a query; responses, runts and everything
 * else are dropped silently, so Ferry never answers an answer (no reflection loops).
 *
 * <p>Sharable: it keeps no state.
 */
@io.netty.channel.ChannelHandler.Sharable
final class DatagramQueryDecoder extends DatagramDnsQueryDecoder {
    static final int FORMERR = 1;

    private final QueryCounters counters;

    DatagramQueryDecoder(QueryCounters counters) {
        super(QuestionDecoder.INSTANCE);
        this.counters = counters;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, DatagramPacket packet, List<Object> out) {
        ByteBuf in = packet.content();
        int start = in.readerIndex();
        try {
            super.decode(ctx, packet, out);
        } catch (Exception malformed) {
            in.readerIndex(start);
            if (in.readableBytes() >= ResponseWriter.HEADER_SIZE && (in.getByte(start + 2) & 0x80) == 0) {
                counters.formErrors.increment();
                ByteBuf r = ctx.alloc().buffer(ResponseWriter.HEADER_SIZE);
                r.writeShort(in.getUnsignedShort(start));
                r.writeShort(0x8000 | (in.getByte(start + 2) & 0x78) << 8 | FORMERR);
                r.writeZero(8);
                ctx.writeAndFlush(new DatagramPacket(r, packet.sender()));
            } else {
                counters.dropped.increment();
            }
        }
    }
}
