package dev.ferry.proxy;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
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
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.nio.channels.spi.SelectorProvider;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Netty transport the proxy and the DNS responder run on: io_uring or epoll on Linux when its
 * native library loads, NIO elsewhere (or when asked). The one place that asks Netty what the
 * kernel offers ({@code IoUring.isAvailable}, {@code Epoll.isAvailable}) and logs the fallbacks;
 * everything else asks {@link #pick}. Immutable; thread-safe.
 *
 * @param name "io_uring", "epoll" or "nio"
 * @param why how it was chosen (what was asked, and why a fallback was taken), for the start-up log
 */
public record Transport(String name, Class<? extends ServerSocketChannel> serverChannel,
                        Class<? extends SocketChannel> socketChannel,
                        Class<? extends DatagramChannel> datagramChannel, String why)
        implements BackendChannels {
    private static final Logger LOG = LoggerFactory.getLogger(Transport.class);

    /** The names {@link #pick(String)} accepts. */
    public static final List<String> CHOICES = List.of("auto", "io_uring", "epoll", "nio");

    /**
     * The transport for a choice among {@link #CHOICES}. "auto" and "io_uring" are io_uring, falling
     * back to epoll (then NIO) when the kernel or the native library does not allow it (io_uring
     * disabled by sysctl or seccomp, an older kernel); "epoll" falls back to NIO. Every fallback
     * is logged with its cause. "auto" prefers io_uring because it measured better here: short
     * connections/s 0.84–0.87× HAProxy against epoll's 0.78× in the same A/B (benchmarks/RESULTS.md,
     * issue 5), from ~15 syscalls per connection instead of ~36.
     */
    public static Transport pick(String choice) {
        if (choice == null || !CHOICES.contains(choice)) {
            throw new IllegalArgumentException("transport must be one of " + CHOICES + ", got " + choice);
        }
        if (choice.equals("nio")) {
            return nio("asked for nio");
        }
        if (choice.equals("io_uring") || choice.equals("auto")) {
            if (IoUring.isAvailable()) {
                return ioUring("asked for " + choice);
            }
            String cause = "io_uring unavailable: " + IoUring.unavailabilityCause();
            LOG.warn("{}; falling back", cause);
            return epollOrNio(cause);
        }
        return epollOrNio("asked for epoll");
    }

    private static Transport epollOrNio(String why) {
        if (Epoll.isAvailable()) {
            return new Transport("epoll", EpollServerSocketChannel.class, EpollSocketChannel.class,
                    EpollDatagramChannel.class, why);
        }
        String cause = why + "; epoll unavailable: " + Epoll.unavailabilityCause();
        LOG.warn("{}; falling back to nio", cause);
        return nio(cause);
    }

    private static Transport ioUring(String why) {
        return new Transport("io_uring", IoUringServerSocketChannel.class, IoUringSocketChannel.class,
                IoUringDatagramChannel.class, why);
    }

    private static Transport nio(String why) {
        return new Transport("nio", NioServerSocketChannel.class, NioSocketChannel.class, NioDatagramChannel.class,
                why);
    }

    /**
     * A client socket channel for a backend. On epoll and NIO it is of the backend's address family
     * (an IPv4 socket for an IPv4 peer rather than a dual-stack IPv6 one, which costs an extra
     * IPV6_V6ONLY setsockopt and v4-mapped addresses); Netty's io_uring channel has no such
     * constructor in 4.2.18, so there it is Netty's default socket.
     */
    @Override
    public SocketChannel newSocketChannel(boolean ipv4) {
        SocketProtocolFamily family = ipv4 ? SocketProtocolFamily.INET : SocketProtocolFamily.INET6;
        return switch (name) {
            case "epoll" -> new EpollSocketChannel(family);
            case "io_uring" -> new IoUringSocketChannel();
            default -> new NioSocketChannel(SelectorProvider.provider(), family);
        };
    }

    /**
     * The transport UDP runs on: epoll when this is io_uring (and epoll loads), else this one. Every
     * UDP flow is a backend socket of its own, and Netty's io_uring datagram channel (4.2.18) sets
     * up 2 × 256 message headers per socket: about 60 KB of heap and native memory that only a GC
     * gives back. Under a flood of new flows that made the daemon's RSS reach 4.5 GB with 2 400
     * flows live (0.76 GB with -Xmx384m), against 0.22 GB on epoll (benchmarks/RESULTS.md, issue 13).
     */
    Transport forUdp() {
        if (name.equals("io_uring") && Epoll.isAvailable()) {
            return new Transport("epoll", EpollServerSocketChannel.class, EpollSocketChannel.class,
                    EpollDatagramChannel.class, "UDP on epoll: a socket per flow costs ~60 KB on io_uring");
        }
        return this;
    }

    /** A Linux native transport (epoll or io_uring): SO_REUSEPORT and one listener per event loop. */
    public boolean isNative() {
        return !name.equals("nio");
    }

    /** True on epoll, whose channel options (SO_REUSEPORT, recvmmsg batches) callers may then set. */
    public boolean isEpoll() {
        return name.equals("epoll");
    }

    /** An event loop group of this transport with daemon threads named prefix-N. */
    public EventLoopGroup newGroup(int threads, String prefix) {
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(prefix, true), ioHandlerFactory());
    }

    /** A group whose loops for new registrations are chosen by {@code chooser}. */
    EventLoopGroup newGroup(int threads, String prefix, io.netty.util.concurrent.EventExecutorChooserFactory chooser) {
        return new MultiThreadIoEventLoopGroup(threads,
                new io.netty.util.concurrent.ThreadPerTaskExecutor(new DefaultThreadFactory(prefix, true)), chooser,
                ioHandlerFactory());
    }

    private IoHandlerFactory ioHandlerFactory() {
        return switch (name) {
            case "epoll" -> EpollIoHandler.newFactory();
            case "io_uring" -> IoUringIoHandler.newFactory();
            default -> NioIoHandler.newFactory();
        };
    }
}
