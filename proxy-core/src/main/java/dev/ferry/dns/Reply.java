package dev.ferry.dns;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;

/**
 * Where a forwarded answer goes back to: a UDP client (recipient set; answers larger than its
 * payload size are cut to header and question with TC set) or a TCP connection (length-prefixed).
 * Immutable; may be used from any thread (Netty hands writes to the channel's event loop).
 */
record Reply(Channel channel, InetSocketAddress recipient, int udpLimit) {

    void send(byte[] response) {
        if (!channel.isActive()) return;
        if (recipient != null) {
            byte[] out = response;
            if (out.length > udpLimit) {
                WireScan scan = WireScan.of(out);
                if (scan == null) return;
                out = WireScan.truncate(out, scan.questionEnd());
            }
            channel.writeAndFlush(new DatagramPacket(Unpooled.wrappedBuffer(out), recipient));
        } else {
            channel.writeAndFlush(Unpooled.buffer(response.length + 2).writeShort(response.length).writeBytes(response));
        }
    }
}
