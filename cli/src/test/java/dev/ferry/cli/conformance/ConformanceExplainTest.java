package dev.ferry.cli.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.cli.FerryCommand;
import dev.ferry.daemon.NodeSettingsFile;
import dev.ferry.model.IpAddresses;
import dev.ferry.table.ServiceTable;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;
import tools.jackson.databind.json.JsonMapper;

/**
 * Every flow of the conformance scenarios asked of {@code ferry explain} (the command line, reading a
 * mapped service table and the daemon's node settings as a running daemon leaves them): its
 * iptables and nftables outcomes must be kube-proxy's, as the rules' are
 * ({@link ConformanceTracerTest}), and in a rule mode its verdict must say the same.
 */
@Tag("unit")
class ConformanceExplainTest {
    private static final List<Path> DIRS = new ArrayList<>();

    static Stream<Arguments> flows() {
        return ConformanceTracerTest.flows();
    }

    @AfterAll
    static void removeDirs() throws Exception {
        for (Path d : DIRS) {
            try (Stream<Path> files = Files.walk(d)) {
                for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }

    @ParameterizedTest(name = "{0} / {1}")
    @MethodSource("flows")
    void explainAnswersWhatTheRulesDo(Scenarios.Scenario s, Scenarios.FlowCase f) throws Exception {
        Path dir = Files.createTempDirectory("ferry-conformance-explain");
        DIRS.add(dir);
        try (ServiceTable table = ServiceTable.create(dir, 16L << 20, 1000, System::currentTimeMillis)) {
            table.replaceAll(s.services());
            for (String mode : List.of("iptables", "nftables")) {
                NodeSettingsFile.write(dir, mode, s.network());
                Map<?, ?> r = explain(dir, f.packet());
                Map<?, ?> outcome = (Map<?, ?>) r.get("outcome");
                Outcome expected = mode.equals("iptables") ? f.iptables() : f.nftables();
                assertEquals(expected, outcome((Map<?, ?>) outcome.get(mode)), s + " / " + f + ": explain, " + mode + ": " + r);
                String verdict = r.get("verdict").toString();
                String word = switch (expected.kind()) {
                    case FORWARD -> "forwarded";
                    case REJECT -> "rejected";
                    case DROP -> "dropped";
                    case UNTOUCHED -> "not a service destination";
                };
                assertEquals(true, verdict.startsWith(word), s + " / " + f + ": explain's " + mode + " verdict: " + verdict);
            }
        }
    }

    static Map<?, ?> explain(Path dir, Packet p) throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = FerryCommand.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        String dst = (p.v6() ? "[" + IpAddresses.format(p.dst()) + "]" : IpAddresses.format(p.dst())) + ":" + p.dport()
                + "/" + p.proto().toUpperCase();
        int exit = cl.execute("explain", "--from", IpAddresses.format(p.src()), dst, "-o", "json", "--state-dir", dir.toString());
        assertEquals(0, exit, "explain " + p + ": " + err);
        return JsonMapper.builder().build().readValue(out.toString(), Map.class);
    }

    static Outcome outcome(Map<?, ?> m) {
        Outcome.Kind kind = Outcome.Kind.valueOf(m.get("action").toString().toUpperCase());
        List<?> eps = (List<?>) m.get("endpoints");
        HashSet<String> set = new HashSet<>();
        for (Object o : eps) set.add(o.toString());
        return new Outcome(kind, set, kind == Outcome.Kind.FORWARD && Boolean.TRUE.equals(m.get("masquerade")));
    }
}
