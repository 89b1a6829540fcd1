package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The heap, collector and compiler the {@code ./ferry} launcher picks for {@code ferry run}: sized for
 * Ferry's table rather than the node, C1 only where the data plane is the kernel, and every choice
 * overridable. Read back from the JVM itself ({@code -XX:+PrintCommandLineFlags}) on {@code run --help},
 * which starts the JVM with the daemon's flags and exits at once.
 */
class LauncherJvmErgonomicsIT {
    @TempDir
    Path dir;

    /** The flags the JVM of {@code ./ferry run ARGS --help} was given, as it prints them. */
    static String runFlags(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("bash", LauncherIT.FERRY.toString(), "run"));
        cmd.addAll(List.of(args));
        cmd.add("--help");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("FERRY_JVM_ERGONOMICS");
        pb.environment().putAll(env);
        String opts = pb.environment().getOrDefault("FERRY_JAVA_OPTS", "");
        pb.environment().put("FERRY_JAVA_OPTS", (opts + " -XX:+PrintCommandLineFlags").trim());
        Process p = pb.start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "./ferry run --help hung");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        String flags = out.lines().filter(l -> l.contains("-XX:")).findFirst().orElse("");
        assertFalse(flags.isEmpty(), "the JVM printed no flags:\n" + out);
        return flags;
    }

    @Test
    void aKernelModeDaemonRunsOnASmallSerialHeapAndC1Only() throws Exception {
        String flags = runFlags(Map.of(), "--mode", "nftables");
        assertTrue(flags.contains("-XX:+UseSerialGC"), flags);
        assertTrue(flags.contains("-XX:MaxHeapFreeRatio=30"), flags);
        assertTrue(flags.contains("-XX:InitialHeapSize=16777216"), flags);
        assertTrue(flags.contains("-XX:TieredStopAtLevel=1"), flags);
        assertTrue(flags.contains("-XX:NewRatio=8"), flags);
    }

    @Test
    void kernelModesStartFromAnArchiveWithoutTheUserspaceProxysClasses() throws Exception {
        // made on first use where the build folder is writable (it is, for the build's own user)
        assertTrue(runFlags(Map.of(), "--mode", "nftables").contains("ferry-run-kernel.jsa"));
        String userspace = runFlags(Map.of(), "--mode", "userspace");
        assertTrue(userspace.contains("ferry-run.jsa") && !userspace.contains("kernel"), userspace);
        assertTrue(runFlags(Map.of("FERRY_JVM_ERGONOMICS", "off"), "--mode", "iptables").contains("ferry-run-kernel.jsa"),
                "the archive is not an ergonomics choice");
    }

    @Test
    void theDefaultModeIsIptablesAKernelMode() throws Exception {
        assertTrue(runFlags(Map.of()).contains("-XX:TieredStopAtLevel=1"));
        assertTrue(runFlags(Map.of(), "--mode=iptables").contains("-XX:TieredStopAtLevel=1"));
    }

    @Test
    void theUserspaceProxyKeepsTheOptimisingCompiler() throws Exception {
        String flags = runFlags(Map.of(), "--mode=userspace");
        assertTrue(flags.contains("-XX:+UseSerialGC"), flags);
        assertFalse(flags.contains("TieredStopAtLevel"), flags);
        assertFalse(flags.contains("-XX:NewRatio=8"), "the relay's young generation keeps the default share: " + flags);
        assertFalse(runFlags(Map.of(), "--demo").contains("TieredStopAtLevel"), "the demo's default mode is userspace");
    }

    @Test
    void theModeIsReadFromTheConfigFileWhenNoFlagGivesIt() throws Exception {
        Path yaml = dir.resolve("config.yaml");
        Files.writeString(yaml, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: \"userspace\"\n");
        assertFalse(runFlags(Map.of(), "--config", yaml.toString()).contains("TieredStopAtLevel"));
        Path json = dir.resolve("config.json");
        Files.writeString(json, "{\"kind\": \"KubeProxyConfiguration\",\n\"mode\": \"nftables\"}\n");
        assertTrue(runFlags(Map.of(), "--config=" + json).contains("-XX:TieredStopAtLevel=1"));
        // the flag wins over the file, as in `run` itself
        assertTrue(runFlags(Map.of(), "--config", yaml.toString(), "--mode", "iptables").contains("-XX:TieredStopAtLevel=1"));
    }

    @Test
    void aCollectorChosenInFerryJavaOptsReplacesFerrysWithoutAConflict() throws Exception {
        String flags = runFlags(Map.of("FERRY_JAVA_OPTS", "-XX:+UseG1GC"), "--mode", "nftables");
        assertTrue(flags.contains("-XX:+UseG1GC"), flags);
        assertFalse(flags.contains("UseSerialGC"), flags);
        assertFalse(flags.contains("-XX:NewRatio=8"), "G1 sizes its young generation itself: " + flags);
        // later flags win: an operator's heap size replaces Ferry's
        assertTrue(runFlags(Map.of("FERRY_JAVA_OPTS", "-Xms64m"), "--mode", "nftables").contains("-XX:InitialHeapSize=67108864"));
    }

    @Test
    void ergonomicsOffLeavesTheJvmsOwnChoice() throws Exception {
        String flags = runFlags(Map.of("FERRY_JVM_ERGONOMICS", "off"), "--mode", "nftables");
        assertFalse(flags.contains("UseSerialGC"), flags);
        assertFalse(flags.contains("TieredStopAtLevel"), flags);
        assertFalse(flags.contains("MaxHeapFreeRatio"), flags);
    }
}
