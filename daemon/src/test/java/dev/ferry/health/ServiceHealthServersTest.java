package dev.ferry.health;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.TrafficPolicy;
import dev.ferry.table.ServiceTable;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("unit")
class ServiceHealthServersTest {
    static final InetAddress LOOPBACK = IpAddresses.parse("127.0.0.1");
    @TempDir
    Path dir;
    ServiceTable table;
    ServiceHealthServers servers;
    final AtomicBoolean proxyHealthy = new AtomicBoolean(true);
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    int port;

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, LOOPBACK)) {
            return s.getLocalPort();
        }
    }

    static ServicePort lb(String name, TrafficPolicy etp, int hcPort, String... endpointNodes) {
        List<Endpoint> eps = new ArrayList<>();
        int i = 1;
        for (String spec : endpointNodes) {
            boolean ready = !spec.endsWith("!");
            String node = ready ? spec : spec.substring(0, spec.length() - 1);
            eps.add(new Endpoint(IpAddresses.parse("10.244.0." + i++), 8080, ready, true, !ready, node, "", List.of(), ""));
        }
        return new ServicePort(new ServicePortName("shop", name, "http", Protocol.TCP), ServiceType.LOAD_BALANCER, false, "",
                List.of(IpAddresses.parse("10.96.0." + (name.length() + 10))), 80, "8080", 30080 + name.length(), List.of(),
                List.of(IpAddresses.parse("203.0.113." + name.length())), null, 0, etp, TrafficPolicy.CLUSTER, List.of(),
                etp == TrafficPolicy.LOCAL ? hcPort : 0, "", false, "", false, eps);
    }

    HttpResponse<String> get(int p) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p + "/")).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @BeforeEach
    void start() throws Exception {
        table = ServiceTable.create(dir, 16L << 20, 1000, System::currentTimeMillis);
        servers = new ServiceHealthServers(table.reader(), "me", List.of(LOOPBACK), proxyHealthy::get);
        port = freePort();
    }

    @AfterEach
    void stop() throws Exception {
        servers.close();
        table.close();
    }

    @Test
    void answers200WithKubeProxysBodyAndHeadersWhileALocalEndpointIsReady() throws Exception {
        table.put(lb("web", TrafficPolicy.LOCAL, port, "me", "me", "other"));
        servers.sync();
        HttpResponse<String> r = get(port);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""));
        assertEquals("nosniff", r.headers().firstValue("X-Content-Type-Options").orElse(""));
        assertEquals("2", r.headers().firstValue("X-Load-Balancing-Endpoint-Weight").orElse(""));
        assertEquals("{\n\t\"service\": {\n\t\t\"namespace\": \"shop\",\n\t\t\"name\": \"web\"\n\t},\n"
                + "\t\"localEndpoints\": 2,\n\t\"serviceProxyHealthy\": true\n}", r.body());
    }

    @Test
    void flipsTo503WhenTheLocalEndpointGoesAndBackWhenItReturns() throws Exception {
        table.put(lb("web", TrafficPolicy.LOCAL, port, "me", "other"));
        servers.sync();
        assertEquals(200, get(port).statusCode());
        table.put(lb("web", TrafficPolicy.LOCAL, port, "other"));
        servers.sync();
        HttpResponse<String> down = get(port);
        assertEquals(503, down.statusCode());
        assertTrue(down.body().contains("\"localEndpoints\": 0"), down.body());
        table.put(lb("web", TrafficPolicy.LOCAL, port, "me!", "other"));
        servers.sync();
        assertEquals(503, get(port).statusCode(), "a terminating local endpoint does not keep the node in rotation");
        table.put(lb("web", TrafficPolicy.LOCAL, port, "me", "other"));
        servers.sync();
        assertEquals(200, get(port).statusCode());
    }

    @Test
    void anUnhealthyDaemonFailsTheCheckEvenWithLocalEndpoints() throws Exception {
        table.put(lb("web", TrafficPolicy.LOCAL, port, "me"));
        servers.sync();
        proxyHealthy.set(false);
        HttpResponse<String> r = get(port);
        assertEquals(503, r.statusCode());
        assertTrue(r.body().contains("\"serviceProxyHealthy\": false"), r.body());
    }

    @Test
    void onlyLoadBalancersWithLocalPolicyGetAServerAndItClosesWithTheService() throws Exception {
        table.put(lb("web", TrafficPolicy.LOCAL, port, "me"));
        table.put(lb("clustered", TrafficPolicy.CLUSTER, 0, "me"));
        servers.sync();
        assertEquals(java.util.Map.of("shop/web", port), servers.servedPorts());
        table.remove(lb("web", TrafficPolicy.LOCAL, port).name());
        servers.sync();
        assertEquals(java.util.Map.of(), servers.servedPorts());
        assertThrows(java.io.IOException.class, () -> get(port), "the port is closed with its service");
    }

    @Test
    void aPortTakenByAnotherProcessIsReportedAndRetriedWithoutStoppingOthers() throws Exception {
        int other = freePort();
        try (ServerSocket squatter = new ServerSocket(port, 1, LOOPBACK)) {
            table.put(lb("web", TrafficPolicy.LOCAL, port, "me"));
            table.put(lb("shop2", TrafficPolicy.LOCAL, other, "me"));
            servers.sync();
            assertEquals(1, servers.bindFailures());
            assertEquals(200, get(other).statusCode(), "the other service's check still opens");
        }
        servers.sync();
        assertEquals(200, get(port).statusCode(), "retried at the next sync once the port is free");
    }

    @Test
    void aBindFailureIsReportedOncePerServiceAndPortUntilItRecovers() throws Exception {
        List<String> reported = new ArrayList<>();
        servers.onBindFailure((service, message) -> reported.add(service + " | " + message));
        try (ServerSocket squatter = new ServerSocket(port, 1, LOOPBACK)) {
            table.put(lb("web", TrafficPolicy.LOCAL, port, "me"));
            servers.sync();
            servers.sync();
            servers.sync();
            assertEquals(3, servers.bindFailures(), "every sync retries");
            assertEquals(1, reported.size(), "but the failure is reported once: " + reported);
            assertEquals("shop/web | node me failed to start healthcheck \"shop/web\" on port " + port + ": ",
                    reported.get(0).substring(0, reported.get(0).lastIndexOf(": ") + 2), reported.get(0));
        }
        servers.sync();
        assertEquals(200, get(port).statusCode());
        try (ServerSocket squatter = new ServerSocket(freePort(), 1, LOOPBACK)) {
            table.put(lb("web", TrafficPolicy.LOCAL, squatter.getLocalPort(), "me"));
            servers.sync();
            assertEquals(2, reported.size(), "a new failure after recovering, on the new port, is reported again");
        }
    }
}
