package dev.ferry.proxy;

import static dev.ferry.proxy.Services.build;
import static dev.ferry.proxy.Services.ip;
import static dev.ferry.proxy.Services.ready;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.conntrack.ConntrackConfig;
import dev.ferry.conntrack.ConntrackReader;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.model.Endpoint;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.table.ServiceTable;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@code ferry explain} reports ({@link BackendChoice}) is what the proxy's Router does. */
class BackendChoiceTest {
    @TempDir
    Path dir;
    private ServiceTable table;
    private ConntrackState conntrack;
    private Router daemon;

    private static List<Endpoint> endpoints(String prefix, int n) {
        List<Endpoint> out = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            out.add(ready(prefix + i, 8080));
        }
        return out;
    }

    @BeforeEach
    void setUp() throws Exception {
        table = ServiceTable.create(dir.resolve("table"), 16L << 20, 1_000, System::currentTimeMillis);
        table.replaceAll(List.of(
                build("maglev", ServiceType.CLUSTER_IP, List.of("10.96.0.1"), 80, 0, List.of(), List.of(), List.of(),
                        SessionAffinity.NONE, "mh", false, Protocol.TCP, endpoints("10.244.1.", 7)),
                build("source", ServiceType.NODE_PORT, List.of("10.96.0.2"), 80, 30080, List.of(), List.of(), List.of(),
                        SessionAffinity.NONE, "sh", false, Protocol.TCP, endpoints("10.244.2.", 5)),
                build("turns", ServiceType.CLUSTER_IP, List.of("10.96.0.3"), 80, 0, List.of(), List.of(), List.of(),
                        SessionAffinity.NONE, "rr", false, Protocol.UDP, endpoints("10.244.3.", 3)),
                build("sticky", ServiceType.CLUSTER_IP, List.of("10.96.0.4"), 80, 0, List.of(), List.of(), List.of(),
                        SessionAffinity.CLIENT_IP, "mh", false, Protocol.TCP, endpoints("10.244.4.", 4)),
                build("guarded", ServiceType.LOAD_BALANCER, List.of("10.96.0.5"), 80, 30081, List.of(), List.of("203.0.113.5"),
                        List.of("198.51.100.0/24"), SessionAffinity.NONE, "dh", false, Protocol.TCP, endpoints("10.244.5.", 2)),
                build("empty", ServiceType.CLUSTER_IP, List.of("10.96.0.6"), 80, 0, List.of(), List.of(), List.of(),
                        SessionAffinity.NONE, "", false, Protocol.TCP, List.of())));
        conntrack = ConntrackState.open(dir.resolve("state"), ConntrackConfig.DEFAULTS);
        daemon = new Router(table.reader(), "rr", conntrack);
        daemon.refresh();
    }

    @AfterEach
    void tearDown() throws Exception {
        conntrack.close();
        table.close();
    }

    private BackendChoice explain(String client, Protocol p, String dst, int port) throws Exception {
        try (ConntrackReader ct = ConntrackReader.open(dir.resolve("state"))) {
            return BackendChoice.of(table.reader(), "rr", List.of(), ct.keepsAffinity() ? ct.affinities() : null,
                    ip(client), p, ip(dst), port);
        }
    }

    /** The daemon's own pick for a new flow: the backend it tries first, or the outcome code. */
    private Object proxyPick(String client, FrontendKey key) {
        Router.Route route = new Router.Route();
        route.client.set(ip(client));
        int r = daemon.resolve(key, route, 40000);
        if (r < 0) {
            return r;
        }
        return route.backends.addresses[route.choice.endpoints[r]];
    }

    private static List<InetSocketAddress> candidatesOf(Router router, FrontendKey key, String client) {
        Router.Route route = new Router.Route();
        route.client.set(ip(client));
        router.resolve(key, route, 40000);
        List<InetSocketAddress> out = new ArrayList<>();
        for (int i : route.choice.endpoints) {
            out.add(route.backends.addresses[i]);
        }
        return out;
    }

    @Test
    void hashSchedulersGiveEveryClientTheBackendTheProxyPicks() throws Exception {
        FrontendKey maglev = new FrontendKey(Protocol.TCP, ip("10.96.0.1"), 80, false);
        FrontendKey nodePort = new FrontendKey(Protocol.TCP, ip("192.0.2.10"), 30080, true);
        for (int c = 1; c <= 60; c++) {
            String client = "10.1." + (c / 200) + "." + (c % 200 + 1);
            BackendChoice m = explain(client, Protocol.TCP, "10.96.0.1", 80);
            assertEquals(BackendChoice.Basis.HASH, m.basis());
            assertEquals(proxyPick(client, maglev), m.firstBackend(), "mh, client " + client);
            assertEquals(candidatesOf(daemon, maglev, client), m.candidates());
            BackendChoice s = explain(client, Protocol.TCP, "192.0.2.10", 30080);
            assertEquals("default/source:80/TCP", s.servicePort());
            assertEquals(proxyPick(client, nodePort), s.firstBackend(), "sh on the NodePort, client " + client);
        }
    }

    @Test
    void perConnectionSchedulerNamesTheCandidatesButNoBackend() throws Exception {
        BackendChoice c = explain("10.1.0.1", Protocol.UDP, "10.96.0.3", 80);
        assertEquals(BackendChoice.Basis.PER_CONNECTION, c.basis());
        assertEquals(-1, c.first());
        assertEquals(candidatesOf(daemon, new FrontendKey(Protocol.UDP, ip("10.96.0.3"), 80, false), "10.1.0.1"), c.candidates());
    }

    @Test
    void aClientIpPinTheProxyRecordedIsWhatExplainNames() throws Exception {
        FrontendKey sticky = new FrontendKey(Protocol.TCP, ip("10.96.0.4"), 80, false);
        String client = "10.1.0.9";
        Router.Route route = new Router.Route();
        route.client.set(ip(client));
        int first = daemon.resolve(sticky, route, 40000);
        int other = (first + 1) % route.choice.endpoints.length; // as if the first backend had refused the connection
        daemon.recordAffinity(route, other);
        Object pinned = proxyPick(client, sticky);
        assertEquals(route.backends.addresses[route.choice.endpoints[other]], pinned);

        BackendChoice c = explain(client, Protocol.TCP, "10.96.0.4", 80);
        assertEquals(BackendChoice.Basis.AFFINITY_PIN, c.basis());
        assertEquals(pinned, c.firstBackend());
        BackendChoice stranger = explain("10.1.0.10", Protocol.TCP, "10.96.0.4", 80);
        assertEquals(BackendChoice.Basis.HASH, stranger.basis());
        assertEquals(proxyPick("10.1.0.10", sticky), stranger.firstBackend());
    }

    @Test
    void sourceRangesAndMissingEndpointsAnswerAsTheProxyDoes() throws Exception {
        FrontendKey lb = new FrontendKey(Protocol.TCP, ip("203.0.113.5"), 80, false);
        assertEquals(Router.DENIED, proxyPick("10.1.0.1", lb));
        assertEquals(BackendChoice.Outcome.DENIED, explain("10.1.0.1", Protocol.TCP, "203.0.113.5", 80).outcome());
        BackendChoice inside = explain("198.51.100.7", Protocol.TCP, "203.0.113.5", 80);
        assertEquals(proxyPick("198.51.100.7", lb), inside.firstBackend());

        assertEquals(Router.NO_ENDPOINTS, proxyPick("10.1.0.1", new FrontendKey(Protocol.TCP, ip("10.96.0.6"), 80, false)));
        assertEquals(BackendChoice.Outcome.NO_ENDPOINTS, explain("10.1.0.1", Protocol.TCP, "10.96.0.6", 80).outcome());
        assertEquals(BackendChoice.Outcome.NO_SERVICE, explain("10.1.0.1", Protocol.TCP, "10.96.9.9", 80).outcome());
    }

}
