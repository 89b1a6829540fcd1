package dev.ferry.daemon.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.daemon.config.ProxyConfig;
import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
import dev.ferry.daemon.plane.ServiceRanges;
import dev.ferry.model.Cidr;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.nft.NftOptions;
import dev.ferry.rules.nft.NftSyncer;
import dev.ferry.table.ServiceTable;
import dev.ferry.watch.ServiceCidrWatch;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The API source's ServiceCIDR objects reach the nftables drop of unallocated ClusterIPs, merged
 * with --service-cidr, as `ferry run` wires them (ClusterSource → ServiceRanges → NftSyncer): the
 * rendered payload is checked, no kernel (the tool swallows it).
 */
class ServiceCidrDropTest {
    private static final KernelTool ACCEPT_ALL = new KernelTool(List.of("sh", "-c", "cat >/dev/null", "sh"), Duration.ofSeconds(30));
    private static final List<Cidr> FLAG = List.of(Cidr.parse("10.96.0.0/16"));

    private static GenericKubernetesResource serviceCidr(String name, String... cidrs) {
        return new GenericKubernetesResourceBuilder().withApiVersion("networking.k8s.io/v1beta1").withKind("ServiceCIDR")
                .withNewMetadata().withName(name).endMetadata()
                .addToAdditionalProperties("spec", Map.of("cidrs", Arrays.asList(cidrs))).build();
    }

    /** The drop rules of the payload the next sync writes. */
    private static String drops(NftSyncer nft) throws Exception {
        nft.sync(List.of(), true); // the drop does not depend on the services; a full payload always shows it
        StringBuilder sb = new StringBuilder();
        for (String line : nft.lastPayload().text().split("\n")) {
            if (line.contains("cluster-ips-check") && line.contains(" drop")) {
                sb.append(line.strip().replace(" comment \"drop traffic to unallocated ClusterIPs\"", "")).append('\n');
            }
        }
        return sb.toString();
    }

    private static void await(String what, Supplier<String> actual, String expected) throws Exception {
        String last = null;
        for (int i = 0; i < 400; i++) { // 20 s at most
            last = actual.get();
            if (expected.equals(last)) {
                return;
            }
            Thread.sleep(50);
        }
        assertEquals(expected, last, "timed out waiting for " + what);
    }

    private static Supplier<String> dropsOf(NftSyncer nft) {
        return () -> {
            try {
                return drops(nft);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
    }

    private static ClusterSource source(KubernetesClient client) {
        return ClusterSource.create(client.getConfiguration(), "mock", "node-a", ProxyConfig.defaults(),
                update -> new ServiceTable.SyncResult(0, 0, 0, 0, List.of()),
                new ProxierHealth(Duration.ofMinutes(1), System::currentTimeMillis), new ProxyMetrics());
    }

    @Test
    void createdChangedAndDeletedServiceCidrsReachTheRenderedDropMergedWithTheFlag() throws Exception {
        try (MockApi api = MockApi.start()) {
            var cidrs = api.client().genericKubernetesResources(ServiceCidrWatch.context("v1beta1"));
            cidrs.resource(serviceCidr("kubernetes", "10.96.0.0/16")).create();
            NftSyncer nft = new NftSyncer(NftOptions.defaults().withServiceCidrs(FLAG), ACCEPT_ALL);
            AtomicInteger resyncs = new AtomicInteger();
            ServiceRanges ranges = new ServiceRanges(FLAG, nft, resyncs::incrementAndGet);
            assertEquals("add rule ip ferry cluster-ips-check ip daddr 10.96.0.0/16 drop\n", drops(nft), "the flag alone");
            ClusterSource source = source(api.client());
            try {
                source.onServiceCidrs(ranges::fromApi);
                source.start();
                await("the first list", () -> resyncs.get() >= 1 ? "listed" : "", "listed");
                assertEquals("add rule ip ferry cluster-ips-check ip daddr 10.96.0.0/16 drop\n", drops(nft),
                        "the object that repeats the flag adds nothing");

                cidrs.resource(serviceCidr("extra", "10.100.0.0/24", "fd00:10:96::/112")).create();
                await("a created ServiceCIDR", dropsOf(nft),
                        "add rule ip ferry cluster-ips-check ip daddr { 10.96.0.0/16, 10.100.0.0/24 } drop\n"
                                + "add rule ip6 ferry cluster-ips-check ip6 daddr fd00:10:96::/112 drop\n");

                cidrs.resource(serviceCidr("extra", "10.101.0.0/24")).update();
                await("a changed ServiceCIDR", dropsOf(nft),
                        "add rule ip ferry cluster-ips-check ip daddr { 10.96.0.0/16, 10.101.0.0/24 } drop\n");

                cidrs.withName("extra").delete();
                cidrs.withName("kubernetes").delete();
                await("deleted ServiceCIDRs: the flag stays", dropsOf(nft),
                        "add rule ip ferry cluster-ips-check ip daddr 10.96.0.0/16 drop\n");
                assertEquals(FLAG, ranges.current());
                assertEquals(ServiceCidrWatch.State.WATCHING, source.serviceCidrWatch().state());
            } finally {
                source.close();
            }
        }
    }

    @Test
    void aServerWithoutServiceCidrsLeavesTheFlagsDropAndTheDaemonRunning() throws Exception {
        KubernetesCrudDispatcher noServiceCidrs = new KubernetesCrudDispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
                if (request.getPath().startsWith("/apis/networking.k8s.io/")) {
                    return new MockResponse().setResponseCode(404).setBody("{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                            + "\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404}");
                }
                return super.dispatch(request);
            }
        };
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                noServiceCidrs, false);
        server.init(InetAddress.getLoopbackAddress(), 0);
        try (MockApi api = new MockApi(server, server.createClient())) {
            NftSyncer nft = new NftSyncer(NftOptions.defaults().withServiceCidrs(FLAG), ACCEPT_ALL);
            AtomicInteger resyncs = new AtomicInteger();
            ServiceRanges ranges = new ServiceRanges(FLAG, nft, resyncs::incrementAndGet);
            ClusterSource source = source(api.client());
            try {
                source.onServiceCidrs(ranges::fromApi);
                source.start();
                await("giving up on ServiceCIDRs", () -> source.serviceCidrWatch().state().name(), "UNAVAILABLE");
                assertTrue(source.serviceCidrWatch().unavailableReason().contains("serves no ServiceCIDR"),
                        source.serviceCidrWatch().unavailableReason());
                assertEquals(0, resyncs.get(), "never told of any API ranges");
                assertEquals("add rule ip ferry cluster-ips-check ip daddr 10.96.0.0/16 drop\n", drops(nft));
                // the rest of the source still works: Services are watched
                assertTrue(source.watcher().awaitFirstSync(Duration.ofSeconds(20)), "the Service watch synced");
            } finally {
                source.close();
            }
        }
    }
}
