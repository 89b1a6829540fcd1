package dev.ferry.proxy;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.concurrent.TimeUnit;

/**
 * Sits on every listening TCP socket and takes the errors its accepts raise (EMFILE when the
 * process is out of descriptors, ENFILE, ENOBUFS...): counts each, logs at most one line per ten
 * seconds, and stops that listener accepting for a second, as Netty's own acceptor would. Without
 * it each failure reaches the end of the pipeline and is logged with its stack trace, by every
 * listener, for as long as the cause lasts (71 MB of log in 15 s with 65 535 ports, issue 13).
 * The pending connections wait in the kernel's backlog meanwhile.
 *
 * <p>Shared by all listeners; runs on each listener's event loop.
 */
@ChannelHandler.Sharable
final class AcceptErrors extends ChannelInboundHandlerAdapter {
    static final long PAUSE_MILLIS = 1000;

    private final ProxyBounds bounds;

    AcceptErrors(ProxyBounds bounds) {
        this.bounds = bounds;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        bounds.refused(ProxyBounds.Refusal.ACCEPT_ERROR, 1,
                "accepting on {} failed: {}; that listener pauses {} ms (pending connections wait in the backlog)",
                ctx.channel().localAddress(), cause.toString(), PAUSE_MILLIS);
        var config = ctx.channel().config();
        if (config.isAutoRead()) {
            config.setAutoRead(false);
            ctx.channel().eventLoop().schedule(() -> {
                if (ctx.channel().isOpen()) {
                    config.setAutoRead(true);
                }
            }, PAUSE_MILLIS, TimeUnit.MILLISECONDS);
        }
    }
}
