package dev.ferry.dns;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;

/**
 * Where a forwarded answer goes back to: a UDP client (recipient set; answers larger than its
 * payload size, 512 bytes without EDNS0, are cut to header and question with TC set, so a forwarded
 * answer is never larger than the client said it can take) or a TCP connection (length-prefixed).
 * The upstream's OPT record is removed for a client whose query had none.
 * Immutable; may be used from any thread (Netty hands writes to the channel's event loop).
 */
record Reply(Channel channel, InetSocketAddress recipient, int udpLimit, boolean edns) {

    void send(byte[] response) {
        if (!channel.isActive()) return;
        byte[] out = response;
        if (!edns) {
            WireScan scan = WireScan.of(out);
            if (scan == null) return;
            out = WireScan.withoutOpt(out, scan);
        }
        if (recipient != null) {
            if (out.length > udpLimit) {
                WireScan scan = WireScan.of(out);
                if (scan == null) return;
                out = WireScan.truncate(out, scan.questionEnd());
            }
            channel.writeAndFlush(new DatagramPacket(Unpooled.wrappedBuffer(out), recipient));
        } else {
            channel.writeAndFlush(Unpooled.buffer(out.length + 2).writeShort(out.length).writeBytes(out));
        }
    }
}
