package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.testkit.KernelTest;
import dev.ferry.testkit.Netns;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `ferry cleanup` in a network namespace this test creates: after Ferry's iptables and nftables
 * payloads (and a kube-proxy nftables table) are installed there, nothing of them is left.
 */
@KernelTest("a network namespace with its own netfilter")
class CleanupCommandTest {
    @TempDir
    Path dir;
    Netns net;
    String ns;

    static String sh(String... argv) throws IOException, InterruptedException {
        return KernelTests.run(null, argv);
    }

    static String shIn(String input, String... argv) throws IOException, InterruptedException {
        return KernelTests.run(input, argv);
    }

    @BeforeEach
    void namespace() throws Exception {
        net = new Netns();
        ns = net.add("-cl");
    }

    @AfterEach
    void delete() {
        if (net != null) net.close();
    }

    @Test
    void removesFerrysIptablesChainsNftTablesAndKubeProxysTables() throws Exception {
        Path demo = dir.resolve("demo.yaml");
        try (var in = dev.ferry.daemon.NodeAgent.class.getResourceAsStream("demo-cluster.yaml")) {
            Files.copy(in, demo);
        }
        Cli ipt = Cli.run("sync", "--dry-run", "--source", demo.toString(), "--mode", "iptables", "--node-name", "demo-node");
        assertEquals(0, ipt.exit(), ipt.toString());
        String v4 = ipt.out().substring(0, ipt.out().indexOf("# ip6tables-restore payload"));
        shIn(v4, "ip", "netns", "exec", ns, "iptables-restore", "--noflush");
        Cli nft = Cli.run("sync", "--dry-run", "--source", demo.toString(), "--mode", "nftables");
        shIn(nft.out(), "ip", "netns", "exec", ns, "nft", "-f", "-");
        shIn("table ip kube-proxy {\n chain x { }\n}\n", "ip", "netns", "exec", ns, "nft", "-f", "-");
        assertTrue(sh("ip", "netns", "exec", ns, "iptables-save", "-t", "nat").contains(":KUBE-SERVICES"));
        assertTrue(sh("ip", "netns", "exec", ns, "nft", "list", "tables").contains("table ip ferry"));

        // A half-migrated node: kube-proxy left KUBE-* chains in the legacy backend too.
        shIn("*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-LEGACYLEFTOVER - [0:0]\n-A KUBE-SERVICES -d 10.96.99.9/32 -m comment"
                + " --comment \"default/web:http cluster IP\" -j KUBE-SVC-LEGACYLEFTOVER\nCOMMIT\n",
                "ip", "netns", "exec", ns, "iptables-legacy-restore", "--noflush");

        Cli rules = Cli.run("dump", "rules", "default/web", "--netns", ns);
        assertEquals(0, rules.exit(), rules.toString());
        assertTrue(rules.out().contains("# iptables-nft-save -t nat") && rules.out().contains("\"default/web:http")
                && rules.out().contains("# nft list table ip ferry")
                && rules.out().contains("default/web/tcp/http") && !rules.out().contains("kube-dns"), rules.out());
        // nftables: the service's map entries, found by their comment, each under its map's header
        assertTrue(rules.out().contains("map service-ips {") && rules.out().contains("map service-endpoints-tcp {"), rules.out());
        String legacy = rules.out().substring(rules.out().indexOf("# iptables-legacy-save -t nat"));
        assertTrue(legacy.contains("KUBE-SVC-LEGACYLEFTOVER"), "the legacy backend's chains are dumped too:\n" + rules.out());
        assertFalse(sh("ip", "netns", "exec", ns, "iptables-legacy-save").contains("*mangle"),
                "dumping did not create legacy tables");

        Cli r = Cli.run("cleanup", "--kube-proxy", "--netns", ns);
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("removed: "), r.toString());
        for (String table : List.of("nat", "filter")) {
            String save = sh("ip", "netns", "exec", ns, "iptables-save", "-t", table);
            assertFalse(save.contains("KUBE-"), table + " still has KUBE- chains:\n" + save);
        }
        String legacyAfter = sh("ip", "netns", "exec", ns, "iptables-legacy-save");
        assertFalse(legacyAfter.contains("KUBE-"), "legacy still has KUBE- chains:\n" + legacyAfter);
        String tables = sh("ip", "netns", "exec", ns, "nft", "list", "tables");
        // iptables-nft keeps its (now empty of KUBE-*) base tables; Ferry's and kube-proxy's are gone.
        assertFalse(tables.contains("ferry") || tables.contains("kube-proxy"), tables);

        Cli again = Cli.run("cleanup", "--netns", ns);
        assertEquals(0, again.exit(), "cleaning a clean node is not an error: " + again);
    }
}
