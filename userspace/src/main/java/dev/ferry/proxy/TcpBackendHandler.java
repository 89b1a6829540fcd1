package dev.ferry.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;

/**
 * The backend side of one proxied TCP connection: writes what the backend sends to the client,
 * flushes once per read batch, and stops reading while the client's write buffer is above its
 * high-water mark (the frontend resumes it). One instance per backend connection; runs on the
 * client channel's event loop (the backend channel is registered there).
 */
final class TcpBackendHandler extends ChannelInboundHandlerAdapter {
    private final Channel inbound;
    private final TcpFrontendHandler frontend;
    private final ServicePortMetrics metrics;

    TcpBackendHandler(Channel inbound, TcpFrontendHandler frontend, ServicePortMetrics metrics) {
        this.inbound = inbound;
        this.frontend = frontend;
        this.metrics = metrics;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf buf) {
            metrics.bytesFromBackends.add(buf.readableBytes());
        }
        // A failed write fires exceptionCaught on the client channel, which closes both sides.
        inbound.write(msg, inbound.voidPromise());
        if (!inbound.isWritable() && !TcpFrontendHandler.relieved(inbound)) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        frontend.lastActivity = System.nanoTime();
        inbound.flush();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        frontend.backendWritabilityChanged();
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            frontend.backendInputShut();
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        // Fired only for a connection that was up (a failed connect never was active: the frontend retries).
        TcpFrontendHandler.closeOnFlush(inbound);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        frontend.closeBoth();
    }
}
