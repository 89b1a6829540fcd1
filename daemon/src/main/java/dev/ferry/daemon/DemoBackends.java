package dev.ferry.daemon;

import com.sun.net.httpserver.HttpServer;
import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo's pods: a tiny HTTP server on every loopback TCP endpoint of the demo cluster, answering
 * with its own address so that a client can see which backend it reached. Only loopback addresses
 * are ever bound. Called from the sync thread only.
 */
public final class DemoBackends implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DemoBackends.class);
    private final Map<String, HttpServer> servers = new HashMap<>();
    private final java.util.Set<Integer> excludedPorts = new java.util.HashSet<>();

    /** Leaves this endpoint port to another server of the demo (Ferry's own DNS responder). */
    public void exclude(InetSocketAddress address) {
        excludedPorts.add(address.getPort());
    }

    /** Starts a server for every loopback TCP endpoint not served yet. */
    public void ensureServing(List<ServicePort> ports) {
        for (ServicePort sp : ports) {
            if (sp.name().protocol() != Protocol.TCP) {
                continue;
            }
            for (Endpoint e : sp.endpoints()) {
                if (!e.address().isLoopbackAddress() || servers.containsKey(e.hostPort()) || excludedPorts.contains(e.port())) {
                    continue;
                }
                String who = e.hostname().isEmpty() ? e.hostPort() : e.hostname() + " " + e.hostPort();
                try {
                    HttpServer s = HttpServer.create(new InetSocketAddress(e.address(), e.port()), 64);
                    byte[] body = ("hello from demo backend " + who + " of " + sp.name().serviceKey() + "\n")
                            .getBytes(StandardCharsets.UTF_8);
                    s.createContext("/", ex -> {
                        ex.getResponseHeaders().add("Content-Type", "text/plain");
                        ex.sendResponseHeaders(200, body.length);
                        try (OutputStream os = ex.getResponseBody()) {
                            os.write(body);
                        }
                    });
                    s.start();
                    servers.put(e.hostPort(), s);
                    LOG.info("demo backend listening on {} ({})", e.hostPort(), sp.name().serviceKey());
                } catch (IOException ex) {
                    servers.put(e.hostPort(), null); // do not retry every sync
                    LOG.warn("demo backend {} could not listen on {}: {}", sp.name().serviceKey(),
                            IpAddresses.format(e.address()) + ":" + e.port(), ex.getMessage());
                }
            }
        }
    }

    public int serving() {
        return (int) servers.values().stream().filter(s -> s != null).count();
    }

    @Override
    public void close() {
        for (HttpServer s : servers.values()) {
            if (s != null) {
                s.stop(0);
            }
        }
        servers.clear();
    }
}
