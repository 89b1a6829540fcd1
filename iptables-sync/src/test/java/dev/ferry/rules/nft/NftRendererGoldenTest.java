package dev.ferry.rules.nft;

import static dev.ferry.rules.nft.Services.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.model.Cidr;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The full nftables payload for a fixed set of services, compared with a reviewed file. Regenerate
 * with -Dferry.golden.update=true after a deliberate change, and review the diff.
 */
@Tag("unit")
class NftRendererGoldenTest {

    static List<ServicePort> fixedServices() {
        return List.of(
                svc("default", "kubernetes", "10.96.0.1", 443).portName("https", Protocol.TCP).ep("192.168.0.10", 6443).build(),
                svc("kube-system", "kube-dns", "10.96.0.10", 53).portName("dns", Protocol.UDP)
                        .ep("10.244.1.2", 53).ep("10.244.2.2", 53).build(),
                svc("shop", "web", "10.96.1.1", 80).nodePort(30080).externalIp("203.0.113.7")
                        .ep("10.244.1.3", 8080).ep("10.244.2.3", 8080).ep("10.244.3.3", 8080).build(),
                svc("shop", "lb", "10.96.1.2", 443).nodePort(30443).loadBalancer("198.51.100.5", "203.0.113.0/24", "192.0.2.0/25")
                        .local().ep("10.244.1.4", 8443, true, true).ep("10.244.2.4", 8443, true, false).build(),
                svc("shop", "cart", "10.96.1.3", 80).affinity(600).ep("10.244.1.5", 80).ep("10.244.2.5", 80).build(),
                svc("shop", "empty", "10.96.1.4", 80).nodePort(30081).build(),
                svc("v6", "web", "fd00:96::10", 80).ep("fd00:244:1::3", 8080).ep("fd00:244:2::3", 8080).build());
    }

    static NftOptions options() {
        return NftOptions.defaults().withClusterCidrs(List.of(Cidr.parse("10.244.0.0/16"), Cidr.parse("fd00:244::/48")));
    }

    @Test
    void fullPayloadForFixedServicesMatchesGoldenFile() throws IOException {
        String actual = NftRenderer.render(fixedServices(), options());
        Path golden = Path.of("src/test/resources/nft/full-sync.nft");
        if (Boolean.getBoolean("ferry.golden.update")) {
            Files.writeString(golden, actual, StandardCharsets.UTF_8);
        }
        String expected = Files.readString(golden, StandardCharsets.UTF_8);
        assertEquals(expected, actual, "full payload differs from " + golden.toAbsolutePath()
                + " (regenerate with -Dferry.golden.update=true and review the diff)");
    }
}
