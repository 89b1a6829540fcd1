package dev.ferry.proxy;

import dev.ferry.conntrack.ConntrackConfig;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import dev.ferry.table.ServiceTable;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs short TCP connections through the proxy's own accept → connect → relay → close path, on
 * loopback, right after the proxy has opened its listeners: the JIT compiles that path on these
 * connections instead of on the first clients'. Measured on the issue-18 harness (2 cores): a cold
 * daemon spent ~800 µs of CPU per short connection in its first seconds, most of it in the C2
 * compiler thread, against ~140 µs once warm (benchmarks/RESULTS.md, issue 18).
 *
 * <p>Everything it uses is private: a service table with one ClusterIP service in a temporary
 * directory (0700, deleted afterwards), a {@link Router} over it with conntrack tables of its own
 * there (when the proxy has conntrack: the per-connection counts are Chronicle Map code to warm), its own
 * {@link ProxyBounds}, a listener per event loop on {@code 127.0.0.1} and a blocking backend on
 * {@code 127.0.0.1}. The connections themselves run through the real {@link TcpFrontendHandler} on
 * the proxy's event loops. It never delays the service listeners (it starts after they are bound,
 * on its own thread), stops after {@code connections} connections or {@code budget}, whichever comes
 * first, and {@link #close()} stops it early. Any failure (no loopback, no free port) ends it with a
 * log line; the proxy is unaffected.
 */
final class ProxyWarmup implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyWarmup.class);
    private static final byte[] REQUEST = "GET / HTTP/1.1\r\nHost: warmup\r\nConnection: close\r\n\r\n"
            .getBytes(StandardCharsets.US_ASCII);
    private static final byte[] RESPONSE = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
            .getBytes(StandardCharsets.US_ASCII);
    /** Clients (and backend threads) at once: enough to keep every event loop busy on two cores. */
    static final int CLIENTS = 2;

    private final UserspaceProxy proxy;
    private final EventLoopGroup workers;
    private final int connections;
    private final long budgetNanos;
    private final AtomicBoolean stop = new AtomicBoolean();
    /** Connections taken by a client so far (at most {@code connections} go through). */
    private final AtomicInteger claimed = new AtomicInteger();
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private final Thread thread;
    private volatile ServerSocket backend;

    private ProxyWarmup(UserspaceProxy proxy, EventLoopGroup workers, int connections, long budgetNanos) {
        this.proxy = proxy;
        this.workers = workers;
        this.connections = connections;
        this.budgetNanos = budgetNanos;
        this.thread = new Thread(this::run, "ferry-warmup");
        thread.setDaemon(true);
    }

    /** Starts a warm-up of up to {@code connections} connections within {@code budgetMillis}, on its own thread. */
    static ProxyWarmup start(UserspaceProxy proxy, EventLoopGroup workers, int connections, long budgetMillis) {
        ProxyWarmup w = new ProxyWarmup(proxy, workers, connections, TimeUnit.MILLISECONDS.toNanos(budgetMillis));
        w.thread.start();
        return w;
    }

    /** Connections that went through the proxy and back. */
    int completed() {
        return done.get();
    }

    /** Whether the warm-up thread has ended. */
    boolean finished() {
        return !thread.isAlive();
    }

    /** Waits up to {@code millis} for the warm-up to end; true when it did. */
    boolean await(long millis) throws InterruptedException {
        thread.join(millis);
        return finished();
    }

    private void run() {
        long start = System.nanoTime();
        Path dir = null;
        ServiceTable table = null;
        ConntrackState conntrack = null;
        List<Channel> listeners = new ArrayList<>();
        ProxyBounds bounds = new ProxyBounds(proxy.options().limits());
        try {
            InetAddress lo = InetAddress.getByName("127.0.0.1");
            dir = Files.createTempDirectory("ferry-warmup-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            table = ServiceTable.create(dir, 1 << 20, 0, System::currentTimeMillis);
            backend = new ServerSocket();
            backend.bind(new InetSocketAddress(lo, 0), 256);
            int frontPort = freePort(lo);
            table.replaceAll(List.of(service(lo, frontPort, backend.getLocalPort())));
            if (proxy.options().conntrack() != null) {
                // A private copy of the per-connection conntrack work (the connection counts, a Chronicle
                // Map): without it, that code was what the JIT still compiled when the first real
                // short connections came (PrintCompilation in a close cell after the warm-up: 175 of
                // its C2 compilations were Chronicle Map's query context).
                conntrack = ConntrackState.open(dir.resolve("conntrack"),
                        ConntrackConfig.DEFAULTS.withMaxFlows(64).withMaxAffinities(64));
            }
            Router router = new Router(table.reader(), proxy.options().defaultAlgorithm(), conntrack);
            router.onSkipped((name, why) -> { });
            router.refresh();
            FrontendKey key = new FrontendKey(Protocol.TCP, lo, frontPort, false);
            for (ChannelFuture f : bindAll(key, router, bounds)) {
                if (!f.awaitUninterruptibly(5, TimeUnit.SECONDS) || !f.isSuccess()) {
                    f.channel().close();
                    throw new IOException("cannot listen on " + key + ": " + f.cause());
                }
                listeners.add(f.channel());
            }
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                threads.add(daemon("ferry-warmup-backend-" + i, this::serveBackend));
                InetSocketAddress front = key.socketAddress;
                threads.add(daemon("ferry-warmup-client-" + i, () -> runClient(front, start)));
            }
            for (Thread t : threads) {
                if (t.getName().contains("client")) {
                    t.join();
                }
            }
            stop.set(true);
            closeQuietly(backend);
            for (Thread t : threads) {
                t.join(1000);
            }
            LOG.info("warm-up: {} short connections through the proxy on loopback in {} ms ({} failed)", done.get(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), failed.get());
        } catch (IOException | RuntimeException e) {
            LOG.info("warm-up skipped (the proxy serves as usual, only colder): {}", e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            stop.set(true);
            closeQuietly(backend);
            for (Channel c : listeners) {
                c.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
            // The relayed warm-up connections read the table when accepted: unmap it only once they are gone.
            for (int i = 0; i < 500 && bounds.connections() > 0; i++) {
                sleep(10);
            }
            if (bounds.connections() == 0) {
                try {
                    if (table != null) {
                        table.close();
                    }
                    if (conntrack != null) {
                        conntrack.close();
                    }
                } catch (IOException | RuntimeException e) {
                    LOG.debug("warm-up table close: {}", e.toString());
                }
            }
            deleteQuietly(dir);
        }
    }

    private List<ChannelFuture> bindAll(FrontendKey key, Router router, ProxyBounds bounds) {
        List<ChannelFuture> out = new ArrayList<>();
        if (!proxy.transport().equals("nio")) {
            for (io.netty.util.concurrent.EventExecutor e : workers) {
                ServerBootstrap b = proxy.tcpServer(key, (io.netty.channel.EventLoop) e, router, bounds)
                        .option(io.netty.channel.unix.UnixChannelOption.SO_REUSEPORT, true);
                out.add(b.bind(key.socketAddress));
            }
        } else {
            out.add(proxy.tcpServer(key, workers, router, bounds).bind(key.socketAddress));
        }
        return out;
    }

    private void runClient(InetSocketAddress front, long start) {
        byte[] buf = new byte[512];
        while (!stop.get() && System.nanoTime() - start < budgetNanos && claimed.getAndIncrement() < connections) {
            try (Socket s = new Socket()) {
                s.setSoTimeout(2000);
                s.connect(front, 2000);
                OutputStream out = s.getOutputStream();
                out.write(REQUEST);
                InputStream in = s.getInputStream();
                int total = 0;
                for (int n; (n = in.read(buf)) > 0; ) {
                    total += n;
                }
                if (total == RESPONSE.length) {
                    done.incrementAndGet();
                } else {
                    failed.incrementAndGet();
                }
            } catch (IOException e) {
                if (failed.incrementAndGet() > connections / 10 + 10) {
                    LOG.debug("warm-up client gives up: {}", e.toString());
                    return; // something is wrong with loopback here; stop rather than spin
                }
            }
        }
    }

    /** Like an HTTP server answering "Connection: close": reads the request, answers, closes first. */
    private void serveBackend() {
        byte[] buf = new byte[512];
        while (!stop.get()) {
            try (Socket s = backend.accept()) {
                s.setSoTimeout(2000);
                InputStream in = s.getInputStream();
                int total = 0;
                while (total < REQUEST.length) {
                    int n = in.read(buf);
                    if (n < 0) {
                        break;
                    }
                    total += n;
                }
                s.getOutputStream().write(RESPONSE);
            } catch (IOException e) {
                if (stop.get() || backend.isClosed()) {
                    return;
                }
            }
        }
    }

    private static ServicePort service(InetAddress lo, int port, int backendPort) {
        Endpoint ep = new Endpoint(lo, backendPort, true, true, false, "", "", List.of(), "", true, true);
        return new ServicePort(new ServicePortName("ferry-warmup", "warmup", "", Protocol.TCP), ServiceType.CLUSTER_IP,
                false, "", List.of(lo), port, String.valueOf(backendPort), 0, List.of(), List.of(), SessionAffinity.NONE, 0,
                TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, List.of(), 0, "", false, "", false, List.of(ep));
    }

    /** A port free on {@code lo} now (the listeners then share it with SO_REUSEPORT). */
    private static int freePort(InetAddress lo) throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, lo)) {
            return s.getLocalPort();
        }
    }

    private static Thread daemon(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(ServerSocket s) {
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing: nothing to do
            }
        }
    }

    private static void deleteQuietly(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            LOG.debug("warm-up directory {} not deleted: {}", dir, e.toString());
        }
    }

    /** Stops the warm-up and waits (bounded) for it to release its listeners and table. */
    @Override
    public void close() {
        stop.set(true);
        closeQuietly(backend);
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
