package dev.ferry.daemon.cluster;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.net.InetAddress;
import java.util.HashMap;

/** fabric8's mock API server in CRUD mode on loopback, with a client to it. */
public record MockApi(KubernetesMockServer server, KubernetesClient client) implements AutoCloseable {
    public static MockApi start() {
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        server.init(InetAddress.getLoopbackAddress(), 0);
        return new MockApi(server, server.createClient());
    }

    @Override
    public void close() {
        client.close();
        try {
            server.destroy();
        } catch (IllegalStateException slowClose) {
            System.err.println("mock server close was slow: " + slowClose); // its fixed 10 s wait ran out under load
        }
    }
}
