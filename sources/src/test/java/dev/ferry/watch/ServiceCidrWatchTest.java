package dev.ferry.watch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Cidr;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** ServiceCIDR objects through fabric8's mock API server: CRUD mode, and servers that refuse them. */
class ServiceCidrWatchTest {
    private KubernetesMockServer server;
    private KubernetesClient client;
    private ServiceCidrWatch watch;
    private final List<List<Cidr>> seen = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() {
        if (watch != null) {
            watch.close();
        }
        if (client != null) {
            client.close();
        }
        try {
            server.destroy();
        } catch (IllegalStateException slowClose) {
            System.err.println("mock server close was slow: " + slowClose);
        }
    }

    /** CRUD mode, except that requests for ServiceCIDRs of the versions in {@code refused} get {@code code}. */
    private void startServer(int code, Set<String> refused) {
        KubernetesCrudDispatcher dispatcher = new KubernetesCrudDispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
                for (String v : refused) {
                    if (request.getPath().startsWith("/apis/networking.k8s.io/" + v + "/servicecidrs")) {
                        return new MockResponse().setResponseCode(code).setBody("{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                                + "\"status\":\"Failure\",\"code\":" + code + "}");
                    }
                }
                return super.dispatch(request);
            }
        };
        server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), dispatcher, false);
        server.init();
        client = server.createClient();
    }

    private static GenericKubernetesResource serviceCidr(String version, String name, String... cidrs) {
        return new GenericKubernetesResourceBuilder().withApiVersion("networking.k8s.io/" + version).withKind("ServiceCIDR")
                .withNewMetadata().withName(name).endMetadata()
                .addToAdditionalProperties("spec", Map.of("cidrs", Arrays.asList(cidrs))).build();
    }

    private void put(String version, GenericKubernetesResource r, boolean update) {
        var res = client.genericKubernetesResources(ServiceCidrWatch.context(version)).resource(r);
        if (update) {
            res.update();
        } else {
            res.create();
        }
    }

    private static List<Cidr> cidrs(String... s) {
        List<Cidr> out = new ArrayList<>();
        for (String c : s) {
            out.add(Cidr.parse(c));
        }
        return out;
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 400; i++) { // 20 s at most
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("timed out waiting for " + what);
    }

    private List<Cidr> last() {
        return seen.isEmpty() ? null : seen.get(seen.size() - 1);
    }

    @Test
    void createdChangedAndDeletedServiceCidrsReachTheListenerAsOneUnion() throws Exception {
        startServer(404, Set.of());
        put("v1beta1", serviceCidr("v1beta1", "kubernetes", "10.96.0.0/16"), false);
        watch = new ServiceCidrWatch(client, seen::add);
        watch.start();
        await("the first list", () -> cidrs("10.96.0.0/16").equals(last()));
        assertEquals(List.of(cidrs("10.96.0.0/16")), seen, "the first list is handed on whole, once");
        assertEquals(ServiceCidrWatch.State.WATCHING, watch.state());
        assertEquals("v1beta1", watch.version(), "kube-proxy 1.32's version first");

        put("v1beta1", serviceCidr("v1beta1", "extra", "10.97.0.0/24", "fd00:10:96::/112"), false);
        await("a created object", () -> cidrs("10.96.0.0/16", "10.97.0.0/24", "fd00:10:96::/112").equals(last()));

        put("v1beta1", serviceCidr("v1beta1", "extra", "10.98.0.0/24"), true);
        await("a changed object", () -> cidrs("10.96.0.0/16", "10.98.0.0/24").equals(last()));

        client.genericKubernetesResources(ServiceCidrWatch.context("v1beta1")).withName("kubernetes").delete();
        await("a deleted object", () -> cidrs("10.98.0.0/24").equals(last()));
        assertEquals(cidrs("10.98.0.0/24"), watch.cidrs());
    }

    @Test
    void aRangeTwoObjectsShareStaysUntilBothAreGoneAndABadEntryIsLeftOutNamed() throws Exception {
        startServer(404, Set.of());
        watch = new ServiceCidrWatch(client, seen::add);
        watch.start();
        await("the first (empty) list", () -> List.of().equals(last()));
        put("v1beta1", serviceCidr("v1beta1", "a", "10.96.0.0/16"), false);
        put("v1beta1", serviceCidr("v1beta1", "b", "10.96.0.0/16", "not-a-cidr"), false);
        await("both objects", () -> watch.invalidCidrs() == 1 && cidrs("10.96.0.0/16").equals(last()));
        client.genericKubernetesResources(ServiceCidrWatch.context("v1beta1")).withName("a").delete();
        put("v1beta1", serviceCidr("v1beta1", "c", "10.100.0.0/24"), false);
        await("c added", () -> cidrs("10.100.0.0/24", "10.96.0.0/16").equals(last()));
        client.genericKubernetesResources(ServiceCidrWatch.context("v1beta1")).withName("b").delete();
        await("b deleted", () -> cidrs("10.100.0.0/24").equals(last()));
    }

    @Test
    void aServerThatServesOnlyV1IsWatchedThroughV1() throws Exception {
        startServer(404, Set.of("v1beta1"));
        put("v1", serviceCidr("v1", "kubernetes", "10.43.0.0/16"), false);
        watch = new ServiceCidrWatch(client, seen::add);
        watch.start();
        await("the v1 list", () -> cidrs("10.43.0.0/16").equals(last()));
        assertEquals("v1", watch.version());
    }

    @Test
    void aServerWithoutServiceCidrsLeavesTheListenerUncalled() throws Exception {
        startServer(404, Set.of("v1beta1", "v1"));
        watch = new ServiceCidrWatch(client, seen::add);
        watch.start();
        await("giving up", () -> watch.state() == ServiceCidrWatch.State.UNAVAILABLE);
        assertTrue(watch.unavailableReason().contains("serves no ServiceCIDR"), watch.unavailableReason());
        assertEquals(List.of(), seen);
    }

    @Test
    void forbiddenByRbacLeavesTheListenerUncalled() throws Exception {
        startServer(403, Set.of("v1beta1", "v1"));
        watch = new ServiceCidrWatch(client, seen::add);
        watch.start();
        await("giving up", () -> watch.state() == ServiceCidrWatch.State.UNAVAILABLE);
        assertTrue(watch.unavailableReason().contains("forbidden"), watch.unavailableReason());
        assertEquals(List.of(), seen);
    }
}
