package dev.ferry.cli.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.cli.FerryCommand;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code ferry sync --dry-run --mode iptables} of the services of kube-proxy's TestOverallIPTablesRules
 * prints kube-proxy 1.32's golden payload for them, compared after kube-proxy's own rule sort (see
 * {@link #sorted}). Differences allowed, each because it depends on the host, not on the services:
 * <ul>
 *   <li>{@code -m nfacct --nfacct-name ...}: kube-proxy adds these counters only where the kernel has
 *       nfnetlink_acct; its golden assumes it does. The localhost NodePort lines that exist only to be
 *       counted ({@code -d 127.0.0.0/8 ... localhost_nps_accepted_pkts}) are dropped with it: the
 *       following NodePort line matches the same packets.</li>
 *   <li>{@code MASQUERADE --random-fully}: kube-proxy adds it where iptables supports it (every
 *       iptables since 1.6.2); its fake iptables in the test does not.</li>
 * </ul>
 */
@Tag("unit")
class KubeProxyGoldenTest {
    @TempDir
    Path dir;

    @Test
    void syncDryRunPrintsKubeProxysGoldenForTheOverallServices() throws Exception {
        Path yaml = dir.resolve("overall-services.yaml");
        try (InputStream in = KubeProxyGoldenTest.class.getResourceAsStream("overall-services.yaml")) {
            Files.copy(in, yaml);
        }
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = FerryCommand.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        // kube-proxy's fake proxier: node "test-node" (192.168.0.2), local detector on 10.0.0.0/8
        int exit = cl.execute("sync", "--dry-run", "--source", yaml.toString(), "--mode", "iptables",
                "--node-name", "test-node", "--cluster-cidr", "10.0.0.0/8", "--node-ip", "192.168.0.2");
        assertEquals(0, exit, err.toString());
        String v4 = out.toString().split("# ip6tables-restore payload")[0];
        String golden;
        try (InputStream in = KubeProxyGoldenTest.class.getResourceAsStream("kube-proxy-1.32-overall-iptables.txt")) {
            golden = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(golden.contains("--nfacct-name localhost_nps_accepted_pkts") && golden.contains("-j MASQUERADE\n"),
                "the golden still has the host-feature lines this test ignores");
        assertEquals(String.join("\n", sorted(withoutHostFeatures(golden))),
                String.join("\n", sorted(withoutHostFeatures(v4))));
    }

    /** Removes what depends on the host's iptables and kernel (see the class comment). */
    static List<String> withoutHostFeatures(String payload) {
        List<String> out = new ArrayList<>();
        for (String line : payload.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) continue;
            if (line.contains("--nfacct-name localhost_nps_accepted_pkts")) continue;
            out.add(line.replaceAll(" -m nfacct --nfacct-name \\S+", "").replace(" -j MASQUERADE --random-fully", " -j MASQUERADE"));
        }
        return out;
    }

    /**
     * kube-proxy's rule sort for comparing payloads: tables in their order; in each, the chain
     * declarations sorted, then every chain's rules in sorted chain order, each chain keeping its
     * own rule order (the order that matters to the kernel).
     */
    static List<String> sorted(List<String> lines) {
        List<String> out = new ArrayList<>();
        List<String> decls = new ArrayList<>();
        Map<String, List<String>> rules = new TreeMap<>();
        for (String l : lines) {
            if (l.startsWith("*")) {
                out.add(l);
                decls.clear();
                rules.clear();
            } else if (l.equals("COMMIT")) {
                decls.sort(null);
                out.addAll(decls);
                rules.values().forEach(out::addAll);
                out.add(l);
            } else if (l.startsWith(":")) {
                decls.add(l);
            } else {
                rules.computeIfAbsent(l.split(" ")[1], k -> new ArrayList<>()).add(l);
            }
        }
        return out;
    }
}
