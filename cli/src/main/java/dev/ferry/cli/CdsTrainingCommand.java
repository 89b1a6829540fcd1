package dev.ferry.cli;

import dev.ferry.cli.http.ProxierHealth;
import dev.ferry.cli.http.ProxyMetrics;
import dev.ferry.conntrack.ConntrackConfig;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.proxy.ProxyOptions;
import dev.ferry.proxy.UserspaceProxy;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import dev.ferry.source.FileSource;
import dev.ferry.table.ServiceTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * What the ./ferry launcher runs once per build, under {@code -XX:ArchiveClassesAtExit}, to make the
 * class-data archive `ferry run` starts from: the start-up path of `run` (its options, the conntrack
 * maps, the service table and its writer, the file source, the userspace proxy's transport) in a
 * private temporary directory that is deleted afterwards. It binds no socket and touches no network
 * configuration, so it is safe on a live node. Without the archive, loading and verifying those
 * classes (Chronicle Map's above all) is most of a userspace restart's gap.
 */
@Command(name = "cds-training", hidden = true,
        description = "Exercise `run`'s start-up path in a temporary directory (the launcher archives the classes it loads).")
final class CdsTrainingCommand implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
        new CommandLine(new FerryCommand()).parseArgs("run", "--source", "cluster.yaml", "--mode", "userspace",
                "--node-name", "node-1");
        // The early health port's classes (run binds it before parsing its arguments): an unbound server.
        EarlyHealthPort.guess(new String[] {"run", "--source", "cluster.yaml"});
        com.sun.net.httpserver.HttpServer.create().stop(0);
        Path dir = Files.createTempDirectory("ferry-cds-"); // 0700
        try {
            Path file = RunCommand.writeDemoFile(dir);
            ProxyMetrics metrics = new ProxyMetrics();
            ProxierHealth health = new ProxierHealth(Duration.ofMinutes(1), System::currentTimeMillis);
            health.check(true); // the first /healthz answer's classes (its JSON times): answered early in a restart
            try (ConntrackState ct = ConntrackState.open(dir, ConntrackConfig.DEFAULTS)) {
                ServiceTable table = ServiceTable.create(dir, 1 << 20, ServiceTable.DEFAULT_GRACE_MILLIS,
                        System::currentTimeMillis);
                try (TableSync sync = new TableSync(table, List.of(), metrics, health)) {
                    // The table is empty here, and no NodePort address is given: the proxy binds nothing.
                    try (UserspaceProxy proxy = new UserspaceProxy(table.reader(),
                            ProxyOptions.defaults().withConntrack(ct).withNodePortAddresses(List.of()))) {
                        proxy.start();
                    }
                    try (FileSource files = new FileSource(file, Duration.ofHours(1), snapshot ->
                            sync.apply(EndpointSelector.selectAll(snapshot.ports(), new NodeInfo("demo-node", "")))
                                    .orTimeout(30, TimeUnit.SECONDS).join())) {
                        files.start();
                    }
                }
            }
        } finally {
            deleteTree(dir);
        }
        return 0;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
