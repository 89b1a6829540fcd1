package dev.ferry.daemon.http;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.daemon.config.BindAddress;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The health port bound before the daemon knows its health ({@link HealthServer#bindEarly}): a probe
 * that connects then is answered — from the provisional health the daemon would report at its start,
 * or held until the daemon hands its own over — where it used to be refused (the port was bound only
 * then).
 */
@Tag("unit")
class EarlyHealthServerTest {
    private static final BindAddress ANY_LOOPBACK_PORT = new BindAddress(InetAddress.getLoopbackAddress(), 0);

    /** Connects and sends a probe; the answer is read later. */
    private static Socket probe(int port, String path) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(15_000);
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5_000);
        s.getOutputStream().write(("GET " + path + " HTTP/1.0\r\nHost: ferry\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        return s;
    }

    private static String answer(Socket s) throws IOException {
        try (s) {
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void aProbeMadeBeforeTheDaemonKnewItsHealthIsHeldAndAnsweredTruthfully() throws Exception {
        ProxierHealth health = new ProxierHealth(Duration.ofSeconds(60), System::currentTimeMillis);
        health.requireForServing("starting", () -> "listeners not bound yet");
        ProxyMetrics metrics = new ProxyMetrics();
        try (HealthServer early = HealthServer.bindEarly(ANY_LOOPBACK_PORT, null)) {
            Socket healthz = probe(early.port(), "/healthz");
            Socket livez = probe(early.port(), "/livez");
            try (StatusServers servers = new StatusServers(ANY_LOOPBACK_PORT, health, ANY_LOOPBACK_PORT, metrics, early)) {
                String h = answer(healthz);
                assertTrue(h.startsWith("HTTP/1.1 503"), h);
                assertTrue(h.contains("listeners not bound yet"), h);
                String l = answer(livez);
                assertTrue(l.startsWith("HTTP/1.1 200"), "a starting process is alive: " + l);
                assertTrue(servers.listening());
            }
        }
    }

    @Test
    void aHealthyDaemonAnswersTheHeldProbe200() throws Exception {
        ProxierHealth health = new ProxierHealth(Duration.ofSeconds(60), System::currentTimeMillis);
        try (HealthServer early = HealthServer.bindEarly(ANY_LOOPBACK_PORT, null)) {
            Socket s = probe(early.port(), "/healthz");
            early.serve(health, null);
            String a = answer(s);
            assertTrue(a.startsWith("HTTP/1.1 200"), a);
            assertTrue(a.contains("\"nodeEligible\": true"), a);
        }
    }

    @Test
    void beforeTheHandOverProbesGetTheProvisionalAnswerAndAreCountedInTheDaemonsMetrics() throws Exception {
        ProxierHealth provisional = new ProxierHealth(Duration.ofSeconds(60), System::currentTimeMillis);
        provisional.requireForServing("starting", () -> "still reading the configuration");
        ProxierHealth daemons = new ProxierHealth(Duration.ofSeconds(60), System::currentTimeMillis);
        ProxyMetrics metrics = new ProxyMetrics();
        try (HealthServer early = HealthServer.bindEarly(ANY_LOOPBACK_PORT, provisional)) {
            String before = answer(probe(early.port(), "/healthz"));
            assertTrue(before.startsWith("HTTP/1.1 503") && before.contains("still reading the configuration"), before);
            try (StatusServers servers = new StatusServers(ANY_LOOPBACK_PORT, daemons, ANY_LOOPBACK_PORT, metrics, early)) {
                String after = answer(probe(early.port(), "/healthz"));
                assertTrue(after.startsWith("HTTP/1.1 200"), "the daemon's own health from the hand-over on: " + after);
            }
        }
        String exposition;
        try (MetricsServer m = MetricsServer.start(ANY_LOOPBACK_PORT, metrics)) {
            exposition = StatusServersTest.get(m.port(), "/metrics").body();
        }
        assertTrue(exposition.contains("kubeproxy_proxy_healthz_total{code=\"503\"} 1"), exposition);
        assertTrue(exposition.contains("kubeproxy_proxy_healthz_total{code=\"200\"} 1"), exposition);
    }

    @Test
    void anEarlyServerOnAnotherAddressThanTheConfiguredOneIsClosed() throws Exception {
        ProxierHealth health = new ProxierHealth(Duration.ofSeconds(60), System::currentTimeMillis);
        int configured = StatusServersTest.freePort();
        BindAddress address = new BindAddress(InetAddress.getLoopbackAddress(), configured);
        HealthServer early = HealthServer.bindEarly(ANY_LOOPBACK_PORT, null);
        int guessed = early.port();
        try (StatusServers servers = new StatusServers(address, health, ANY_LOOPBACK_PORT, new ProxyMetrics(), early)) {
            assertEquals(200, StatusServersTest.get(configured, "/healthz").statusCode());
            assertThrows(ConnectException.class, () -> probe(guessed, "/healthz").close(), "the guessed port is closed");
        } finally {
            early.close();
        }
    }
}
