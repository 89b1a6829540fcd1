package dev.ferry.bench.rules.iptables;

import dev.ferry.model.Cidr;
import dev.ferry.rules.iptables.IptablesRenderer;
import dev.ferry.rules.iptables.RenderOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes the full iptables-restore payload of the benchmark fixture (N services, clusterCIDR
 * 10.128.0.0/9) to a file, for timing the iptables binaries on their own
 * ({@code benchmarks/rules-iptables/legacy_floor.sh}).
 *
 * <p>Usage: {@code java -cp benchmarks.jar dev.ferry.bench.rules.iptables.PayloadDump N FILE}
 */
public final class PayloadDump {
    private PayloadDump() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: PayloadDump SERVICES FILE");
            System.exit(2);
        }
        RenderOptions o = RenderOptions.defaults(false).withClusterCidrs(List.of(Cidr.parse("10.128.0.0/9")));
        Files.writeString(Path.of(args[1]), IptablesRenderer.render(ServiceFixture.services(Integer.parseInt(args[0])), o));
    }
}
