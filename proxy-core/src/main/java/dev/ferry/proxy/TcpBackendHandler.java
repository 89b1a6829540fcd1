package dev.ferry.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;

/**
 * The backend side of one proxied TCP connection: writes what the backend sends to the client and
 * reads the next chunk only when that write completes. One instance per backend connection; runs
 * on the client channel's event loop (the backend channel is registered there).
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
        if (afterWriteToClient == null) {
            Channel outbound = ctx.channel();
            afterWriteToClient = future -> {
                if (future.isSuccess()) {
                    outbound.read();
                } else {
                    future.channel().close();
                    outbound.close();
                }
            };
        }
        inbound.writeAndFlush(msg).addListener(afterWriteToClient);
    }

    /** Created on the first chunk and reused: the relay path allocates no lambda per chunk. */
    private ChannelFutureListener afterWriteToClient;

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
        TcpFrontendHandler.closeOnFlush(ctx.channel());
    }
}
