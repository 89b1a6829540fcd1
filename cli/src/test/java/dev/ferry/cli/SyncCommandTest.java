package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `ferry sync --dry-run` prints the payload for a file and touches nothing. */
@Tag("unit")
class SyncCommandTest {
    @TempDir
    Path dir;

    Path demo() throws Exception {
        Path f = dir.resolve("demo.yaml");
        try (var in = dev.ferry.daemon.NodeAgent.class.getResourceAsStream("demo-cluster.yaml")) {
            Files.copy(in, f);
        }
        return f;
    }

    @Test
    void iptablesModePrintsBothFamiliesInKubeProxysLayout() throws Exception {
        Cli r = Cli.run("sync", "--dry-run", "--source", demo().toString(), "--mode", "iptables", "--node-name", "demo-node",
                "--cluster-cidr", "10.244.0.0/16");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("# iptables-restore payload (IPv4)") && r.out().contains("# ip6tables-restore payload (IPv6)"), r.out());
        assertTrue(r.out().contains("*nat") && r.out().contains(":KUBE-SERVICES") && r.out().contains("KUBE-SVC-")
                && r.out().contains("-d 127.0.20.1 --dport 8080") && r.out().contains("COMMIT"), r.out());
    }

    @Test
    void nftablesModePrintsFerrysTables() throws Exception {
        Cli r = Cli.run("sync", "--dry-run", "--source", demo().toString(), "--mode", "nftables");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("table ip ferry") && r.out().contains("127.0.20.1"), r.out());
    }

    @Test
    void withoutDryRunItRefusesAsBadUsage() throws Exception {
        Cli r = Cli.run("sync", "--source", demo().toString(), "--mode", "iptables");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("--dry-run"), r.toString());
    }

    @Test
    void aBrokenFileIsARuntimeFailureNamingTheLine() throws Exception {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, "kind: Service\nspec: [oops\n");
        Cli r = Cli.run("sync", "--dry-run", "--source", f.toString(), "--mode", "nftables");
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("bad.yaml:"), r.toString());
    }

    @Test
    void aFileOverTheSizeLimitIsRefusedNamingTheFlag() throws Exception {
        Path f = dir.resolve("big.yaml");
        Files.writeString(f, Files.readString(demo()) + "#".repeat(70_000) + "\n");
        Cli r = Cli.run("sync", "--dry-run", "--source", f.toString(), "--mode", "nftables", "--source-max-bytes", "64K");
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("big.yaml: the file is ") && r.err().contains("larger than the limit of 65536 bytes (--source-max-bytes)"),
                r.toString());
    }

    @Test
    void servicesLabelledForAnotherProxyGetNoRules() throws Exception {
        Path f = dir.resolve("labelled.yaml");
        Files.writeString(f, """
                apiVersion: v1
                kind: Service
                metadata: {name: mine, namespace: default}
                spec: {clusterIP: 10.96.7.1, ports: [{port: 80}]}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: theirs, namespace: default, labels: {service.kubernetes.io/service-proxy-name: other}}
                spec: {clusterIP: 10.96.7.2, ports: [{port: 80}]}
                """);
        Cli r = Cli.run("sync", "--dry-run", "--source", f.toString(), "--mode", "iptables");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("10.96.7.1"), r.out());
        assertFalse(r.out().contains("10.96.7.2"), "a service another proxy owns gets no rules: " + r.out());
    }

    @Test
    void aBadCidrNamesTheFlag() throws Exception {
        Cli r = Cli.run("sync", "--dry-run", "--source", demo().toString(), "--mode", "iptables", "--cluster-cidr", "10.0.0.0/99");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("--cluster-cidr"), r.toString());
    }
}
