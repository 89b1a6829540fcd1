package dev.ferry.proxy;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelId;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DuplexChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * An {@link EmbeddedChannel} that looks like a TCP socket to the relay handlers: it has IP
 * addresses, can shut its output (a FIN, recorded), and its writes can be stalled, as a peer that
 * stops reading stalls a socket's send buffer: written data then stays queued in Netty's outbound
 * buffer and the channel turns unwritable past the high-water mark. Single-threaded, like the
 * handlers it drives.
 */
final class EmbeddedSocket extends EmbeddedChannel implements DuplexChannel {
    private final InetSocketAddress local;
    private final InetSocketAddress remote;
    private boolean stalled;
    private boolean outputShut;
    private boolean inputShut;
    /** Active (once registered) only when connected, as a socket is: an accepted one from the start. */
    private boolean connected;

    /**
     * Unregistered: the proxy registers backend channels itself; a client is registered by
     * {@link #register()}. A channel with a {@code remote} address is an accepted, connected one; one
     * without is a client socket that becomes active when {@link #connected()} is called.
     */
    EmbeddedSocket(InetSocketAddress local, InetSocketAddress remote, ChannelHandler... handlers) {
        super(DefaultChannelId.newInstance(), false, false, handlers);
        this.local = local;
        this.remote = remote;
        this.connected = remote != null;
    }

    /** The connect succeeded: the channel turns active, as a socket does. */
    void connected() {
        connected = true;
        pipeline().fireChannelActive();
    }

    @Override
    public boolean isActive() {
        return connected && super.isActive();
    }

    /** Keeps what is written queued (true) or lets the next flush take it (false). */
    void stall(boolean on) {
        stalled = on;
    }

    @Override
    protected void doWrite(ChannelOutboundBuffer in) throws Exception {
        if (!stalled) {
            super.doWrite(in);
        }
    }

    @Override
    protected SocketAddress localAddress0() {
        return local;
    }

    @Override
    protected SocketAddress remoteAddress0() {
        return remote;
    }

    @Override
    public InetSocketAddress localAddress() {
        return local;
    }

    @Override
    public InetSocketAddress remoteAddress() {
        return remote;
    }

    @Override
    public boolean isInputShutdown() {
        return inputShut;
    }

    @Override
    public ChannelFuture shutdownInput() {
        return shutdownInput(newPromise());
    }

    @Override
    public ChannelFuture shutdownInput(ChannelPromise promise) {
        inputShut = true;
        return promise.setSuccess();
    }

    @Override
    public boolean isOutputShutdown() {
        return outputShut;
    }

    @Override
    public ChannelFuture shutdownOutput() {
        return shutdownOutput(newPromise());
    }

    @Override
    public ChannelFuture shutdownOutput(ChannelPromise promise) {
        outputShut = true;
        return promise.setSuccess();
    }

    @Override
    public boolean isShutdown() {
        return inputShut && outputShut;
    }

    @Override
    public ChannelFuture shutdown() {
        return shutdown(newPromise());
    }

    @Override
    public ChannelFuture shutdown(ChannelPromise promise) {
        inputShut = true;
        outputShut = true;
        return promise.setSuccess();
    }
}
