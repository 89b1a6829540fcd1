package dev.ferry.proxy;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.nio.channels.spi.SelectorProvider;

/**
 * The Netty transport the proxy runs on: native epoll on Linux when its library loads, NIO
 * elsewhere (or when asked). Immutable; thread-safe.
 */
public record Transport(String name, Class<? extends ServerSocketChannel> serverChannel,
                        Class<? extends SocketChannel> socketChannel,
                        Class<? extends DatagramChannel> datagramChannel) {

    /** Epoll when available and {@code preferNative}, else NIO. */
    public static Transport pick(boolean preferNative) {
        if (preferNative && Epoll.isAvailable()) {
            return new Transport("epoll", EpollServerSocketChannel.class, EpollSocketChannel.class,
                    EpollDatagramChannel.class);
        }
        return new Transport("nio", NioServerSocketChannel.class, NioSocketChannel.class, NioDatagramChannel.class);
    }

    /**
     * A client socket channel of one address family: an IPv4 socket for an IPv4 peer rather than
     * a dual-stack IPv6 one (which costs an extra IPV6_V6ONLY setsockopt and v4-mapped addresses).
     */
    SocketChannel newSocketChannel(boolean ipv4) {
        SocketProtocolFamily family = ipv4 ? SocketProtocolFamily.INET : SocketProtocolFamily.INET6;
        return isEpoll() ? new EpollSocketChannel(family)
                : new NioSocketChannel(SelectorProvider.provider(), family);
    }

    public boolean isEpoll() {
        return name.equals("epoll");
    }

    EventLoopGroup newGroup(int threads, String prefix) {
        DefaultThreadFactory tf = new DefaultThreadFactory(prefix, true);
        return new MultiThreadIoEventLoopGroup(threads, tf,
                isEpoll() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    }
}
