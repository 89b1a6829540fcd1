package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The command line is a contract: help everywhere, exit 2 on bad usage with a message naming the flag. */
@Tag("unit")
class CommandLineContractTest {
    @ParameterizedTest
    @ValueSource(strings = {"run", "dump", "version"})
    void everySubcommandHasHelp(String sub) {
        Cli r = Cli.run(sub, "--help");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("Usage: ferry " + sub), r.toString());
    }

    @Test
    void versionPrintsFerrysVersionAndTheJvm() {
        Cli r = Cli.run("version");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().startsWith("ferry "), r.toString());
        assertTrue(r.out().contains("java 1") || r.out().contains("java 2"), r.toString());
    }

    @Test
    void noSubcommandIsBadUsage() {
        Cli r = Cli.run();
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("subcommand"), r.toString());
    }

    @Test
    void anUnknownSubcommandIsBadUsage() {
        Cli r = Cli.run("frobnicate");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("frobnicate"), r.toString());
    }

    @Test
    void runWithoutASourceIsBadUsageNamingTheOptions() {
        Cli r = Cli.run("run");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("--source") && r.err().contains("--demo"), r.toString());
    }

    @Test
    void runWithBothSourcesIsBadUsage() {
        Cli r = Cli.run("run", "--demo", "--source", "x.yaml");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("mutually exclusive"), r.toString());
    }

    @Test
    void anUnknownIptablesBackendIsBadUsageNamingTheFlagAndTheValue() {
        Cli r = Cli.run("run", "--demo", "--iptables-backend", "xtables");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("--iptables-backend") && r.err().contains("xtables"), r.toString());
    }

    @Test
    void anUnknownProxyTransportIsBadUsageListingTheChoices() {
        Cli r = Cli.run("run", "--demo", "--proxy-transport", "dpdk");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("--proxy-transport") && r.err().contains("dpdk") && r.err().contains("io_uring, epoll, nio"),
                r.toString());
    }

    @Test
    void aBadTableSizeNamesTheFlag() {
        Cli r = Cli.run("run", "--demo", "--table-size", "lots");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("--table-size") && r.err().contains("lots"), r.toString());
    }

    @Test
    void aMissingSourceFileIsARuntimeFailureNamingTheFile(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        Cli r = Cli.run("run", "--source", dir.resolve("nope.yaml").toString(), "--state-dir", dir.toString());
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("nope.yaml"), r.toString());
    }

    @Test
    void dumpOfAnUnknownKindIsBadUsageListingTheKinds() {
        Cli r = Cli.run("dump", "pods");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("services") && r.err().contains("endpoints"), r.toString());
    }

    @Test
    void dumpWithAMalformedFilterIsBadUsage() {
        Cli r = Cli.run("dump", "services", "no-slash-here");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("NAMESPACE/NAME"), r.toString());
    }
}
