package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.daemon.config.BindAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which address `ferry run` binds its health port on before picocli has parsed the arguments. */
@Tag("unit")
class EarlyHealthPortTest {
    @TempDir
    Path dir;

    private static EarlyHealthPort.Plan plan(String... args) throws Exception {
        EarlyHealthPort.Guess g = EarlyHealthPort.guess(args);
        return g == null ? null : g.resolve();
    }

    private static BindAddress guess(String... args) throws Exception {
        return plan(args).address();
    }

    @Test
    void theFlagInEitherSpellingElseTheDemoElseKubeProxysDefault() throws Exception {
        assertEquals(BindAddress.parse("127.0.0.7:9999", 10256),
                guess("run", "--source", "f.yaml", "--healthz-bind-address", "127.0.0.7:9999"));
        assertEquals(BindAddress.parse("127.0.0.7:9999", 10256), guess("run", "--healthz-bind-address=127.0.0.7:9999"));
        assertEquals(BindAddress.parse("127.0.0.1:10256", 10256), guess("run", "--demo"));
        assertEquals(BindAddress.parse("0.0.0.0:10256", 10256), guess("run", "--source", "f.yaml", "--mode", "iptables"));
    }

    @Test
    void theConfigFilesAddressWhenNoFlagOverridesIt() throws Exception {
        Path config = dir.resolve("config.yaml");
        Files.writeString(config, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                + "healthzBindAddress: 127.0.0.9:10300\n");
        assertEquals(BindAddress.parse("127.0.0.9:10300", 10256), guess("run", "--config", config.toString()));
        assertEquals(BindAddress.parse("127.0.0.8:1", 10256),
                guess("run", "--config=" + config, "--healthz-bind-address", "127.0.0.8:1"));
    }

    @Test
    void theModeDecidesTheProvisionalAnswerAsRunWould() throws Exception {
        assertFalse(plan("run", "--source", "f.yaml").userspace(), "kube-proxy's default mode: iptables");
        assertTrue(plan("run", "--source", "f.yaml", "--mode", "userspace").userspace());
        assertTrue(plan("run", "--mode=userspace").userspace());
        assertTrue(plan("run", "--demo").userspace(), "the demo runs the userspace proxy");
        assertFalse(plan("run", "--demo", "--mode", "nftables").userspace());
        Path config = dir.resolve("userspace.yaml");
        Files.writeString(config, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: userspace\n");
        assertTrue(plan("run", "--config", config.toString()).userspace());
        assertFalse(plan("run", "--config", config.toString(), "--mode", "iptables").userspace(), "the flag overrides the file");
        assertEquals(503, plan("run", "--mode", "userspace").provisionalHealth().check(true).status(),
                "the userspace proxy serves nothing before its first table: starting");
        assertEquals(200, plan("run", "--mode", "iptables").provisionalHealth().check(true).status(),
                "rule modes: the previous run's rules serve and nothing is pending");
    }

    @Test
    void nothingIsBoundEarlyForOtherCommandsHelpOrArgumentFiles() throws Exception {
        assertNull(EarlyHealthPort.guess(new String[] {"dump", "services"}));
        assertNull(EarlyHealthPort.guess(new String[] {}));
        assertNull(EarlyHealthPort.guess(new String[] {"run", "--help"}));
        assertNull(EarlyHealthPort.guess(new String[] {"run", "@args.txt"}));
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "kind: [");
        assertThrows(Exception.class, () -> guess("run", "--config", bad.toString()),
                "an unreadable config binds nothing early (run then reports it)");
    }
}
