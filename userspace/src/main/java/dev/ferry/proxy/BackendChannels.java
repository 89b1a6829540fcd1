package dev.ferry.proxy;

import io.netty.channel.Channel;

/**
 * Makes the unregistered client channel a proxied TCP connection opens to its backend. The
 * {@link Transport} is the one the proxy runs on; tests give the relay handlers
 * {@code EmbeddedChannel}s instead, to drive them without sockets.
 */
interface BackendChannels {
    /** A new, unregistered channel for a backend of the given address family. */
    Channel newSocketChannel(boolean ipv4);
}
