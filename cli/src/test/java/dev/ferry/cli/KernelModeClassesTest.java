package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.testkit.KernelTest;
import dev.ferry.testkit.Netns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * A kernel-mode daemon loads only what it runs: through its start-up and first rule sync (in a
 * network namespace of its own, on the real kernel), the JVM's class-loading log names no class of
 * the userspace proxy, Netty, the DNS responder or Chronicle Map. Each would cost metaspace (and,
 * for Chronicle, its code generation) on every node that never uses it.
 */
class KernelModeClassesTest {
    static final List<String> NOT_IN_KERNEL_MODE = List.of("dev.ferry.proxy.UserspaceProxy", "io.netty.", "dev.ferry.dns.",
            "net.openhft.");

    @TempDir
    Path dir;

    @Test
    void runsTransportFlagAcceptsExactlyTheProxysTransports() {
        assertEquals(dev.ferry.proxy.Transport.CHOICES, RunCommand.ProxyTransportFlag.CHOICES);
    }

    @KernelTest("a network namespace with its own netfilter")
    @ParameterizedTest
    @ValueSource(strings = {"nftables", "iptables"})
    void aKernelModeDaemonLoadsNoUserspaceProxyDnsOrChronicleClass(String mode) throws Exception {
        Path classes = dir.resolve("classes.log");
        Path log = dir.resolve("ferry.log");
        Path source = dev.ferry.daemon.NodeAgent.writeDemoFile(Files.createDirectories(dir.resolve("src")));
        Process ferry = null;
        Netns net = new Netns();
        try {
            String ns = net.add("-kc");
            List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
            List<String> java = DaemonProcess.javaCommand("run", "--source", source.toString(), "--mode", mode,
                    "--node-name", "demo-node", "--state-dir", dir.resolve("state").toString(), "--exit-after", "120");
            java.add(1, "-Xlog:class+load=info:file=" + classes);
            cmd.addAll(java);
            ferry = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            long deadline = System.currentTimeMillis() + 60_000;
            while (System.currentTimeMillis() < deadline && !Files.readString(log).contains("rules applied")) {
                assertTrue(ferry.isAlive(), "ferry exited:\n" + Files.readString(log));
                Thread.sleep(100);
            }
            assertTrue(Files.readString(log).contains("rules applied"), "no first rule sync in 60 s:\n" + Files.readString(log));
            ferry.destroy();
            assertTrue(ferry.waitFor(30, TimeUnit.SECONDS), "ferry did not stop on SIGTERM");
            assertEquals(0, ferry.exitValue(), Files.readString(log));

            List<String> loaded = Files.readAllLines(classes).stream().map(l -> l.replaceFirst("^\\[[^]]*\\]\\[[^]]*\\]\\[[^]]*\\] ", ""))
                    .map(l -> l.split(" ", 2)[0]).toList();
            assertTrue(loaded.contains("dev.ferry.cli.RunCommand"), "the log names the loaded classes: " + loaded.subList(0, 5));
            List<String> unwanted = loaded.stream().filter(c -> NOT_IN_KERNEL_MODE.stream().anyMatch(c::startsWith)).toList();
            assertEquals(List.of(), unwanted, mode + " mode loaded classes it never uses");
        } finally {
            if (ferry != null && ferry.isAlive()) {
                ferry.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            net.close();
        }
    }
}
