package dev.ferry.cli;

import dev.ferry.daemon.TableSync;

import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
import dev.ferry.conntrack.ConntrackConfig;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.proxy.ProxyOptions;
import dev.ferry.proxy.UserspaceProxy;
import dev.ferry.select.NodeInfo;
import dev.ferry.source.FileCluster;
import dev.ferry.source.FileSource;
import dev.ferry.source.ManifestReader;
import dev.ferry.watch.ChangeTracker;
import dev.ferry.watch.SyncPeriods;
import dev.ferry.table.ServiceTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * What the ./ferry launcher runs once per build, under {@code -XX:ArchiveClassesAtExit}, to make the
 * class-data archive `ferry run` starts from: the start-up path of `run` (its options, the conntrack
 * maps, the service table and its writer, the file source, the userspace proxy's transport) in a
 * private temporary directory that is deleted afterwards, and the API watcher's (client, informers
 * and JSON decoding of Services and EndpointSlices, without connecting to anything); with
 * {@code --kernel}, the kernel modes' path instead of the proxy's (both rule renderers: `sync
 * --dry-run` into nowhere). It binds no socket and touches no network
 * configuration, so it is safe on a live node. Without the archive, loading and verifying those
 * classes (Chronicle Map's above all) is most of a userspace restart's gap, and ~1 CPU s of a
 * kernel-mode daemon's first sync.
 */
@Command(name = "cds-training", hidden = true,
        description = "Exercise `run`'s start-up path in a temporary directory (the launcher archives the classes it loads).")
final class CdsTrainingCommand implements Callable<Integer> {
    /**
     * The kernel modes' archive: without the conntrack maps and the userspace proxy. The JVM relocates
     * an archive as it maps it, so every page of it is resident: Chronicle Map's and Netty's classes
     * would cost a kernel-mode daemon ~15 MB of RSS it never uses.
     */
    @CommandLine.Option(names = "--kernel", description = "Train the kernel modes' path only.")
    boolean kernel;

    @Override
    public Integer call() throws Exception {
        new CommandLine(new FerryCommand()).parseArgs("run", "--source", "cluster.yaml", "--mode", kernel ? "nftables" : "userspace",
                "--node-name", "node-1");
        // The early health port's classes (run binds it before parsing its arguments): an unbound server.
        EarlyHealthPort.guess(new String[] {"run", "--source", "cluster.yaml"});
        com.sun.net.httpserver.HttpServer.create().stop(0);
        Path dir = Files.createTempDirectory("ferry-cds-"); // 0700
        try {
            Path file = dev.ferry.daemon.NodeAgent.writeDemoFile(dir);
            ProxyMetrics metrics = new ProxyMetrics();
            ProxierHealth health = new ProxierHealth(Duration.ofMinutes(1), System::currentTimeMillis);
            health.check(true); // the first /healthz answer's classes (its JSON times): answered early in a restart
            if (kernel) {
                ServiceTable table = ServiceTable.create(dir, 1 << 20, ServiceTable.DEFAULT_GRACE_MILLIS, System::currentTimeMillis);
                try (TableSync sync = new TableSync(table, metrics, health)) {
                    trainFileSource(sync, file);
                    trainApiWatcher(sync);
                }
            } else try (ConntrackState ct = ConntrackState.open(dir, ConntrackConfig.DEFAULTS)) {
                ServiceTable table = ServiceTable.create(dir, 1 << 20, ServiceTable.DEFAULT_GRACE_MILLIS,
                        System::currentTimeMillis);
                try (TableSync sync = new TableSync(table, metrics, health)) {
                    // The table is empty here, and no NodePort address is given: the proxy binds nothing.
                    try (UserspaceProxy proxy = new UserspaceProxy(table.reader(),
                            ProxyOptions.defaults().withConntrack(ct).withNodePortAddresses(List.of()))) {
                        proxy.start();
                    }
                    trainFileSource(sync, file);
                    trainApiWatcher(sync);
                }
            }
            if (kernel) { // the kernel modes' renderers, printing into nowhere
                java.io.PrintStream out = System.out;
                System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
                try {
                    for (String mode : List.of("nftables", "iptables")) {
                        new CommandLine(new FerryCommand()).execute("sync", "--dry-run", "--source", file.toString(), "--mode", mode,
                                "--node-name", "demo-node");
                    }
                } finally {
                    System.setOut(out);
                }
            }
        } finally {
            deleteTree(dir);
        }
        return 0;
    }

    /** `run --source`'s pipeline, as the daemon runs it: the file's objects feed the change tracker, which writes the table. */
    private static void trainFileSource(TableSync sync, Path file) throws Exception {
        NodeInfo node = new NodeInfo("demo-node", "");
        FileCluster objects = new FileCluster(node.name(), cache -> new ChangeTracker(cache, sync.sink(), SyncPeriods.DEFAULTS, node));
        ChangeTracker tracker = objects.tracker();
        tracker.start();
        try (FileSource files = new FileSource(file, Duration.ofHours(1), ManifestReader.Limits.DEFAULTS, objects)) {
            files.start();
            tracker.awaitFirstSync(Duration.ofSeconds(30));
        } finally {
            tracker.close();
        }
    }

    /**
     * The API source's classes: a client (never connected: informers built, not started), and the
     * JSON decoding of the lists and watch events its informers receive.
     */
    private static void trainApiWatcher(TableSync sync) {
        io.fabric8.kubernetes.client.Config config = new io.fabric8.kubernetes.client.ConfigBuilder()
                .withMasterUrl("https://127.0.0.1:1").withAutoConfigure(false).build();
        try (io.fabric8.kubernetes.client.KubernetesClient client = new io.fabric8.kubernetes.client.KubernetesClientBuilder()
                .withConfig(config).build()) {
            dev.ferry.watch.ClusterWatcher watcher = new dev.ferry.watch.ClusterWatcher(client, "demo-node",
                    dev.ferry.watch.SyncPeriods.DEFAULTS, sync.sink());
            io.fabric8.kubernetes.client.utils.KubernetesSerialization json = client.getKubernetesSerialization();
            io.fabric8.kubernetes.api.model.Service svc = new io.fabric8.kubernetes.api.model.ServiceBuilder().withNewMetadata()
                    .withName("web").withNamespace("default").endMetadata().withNewSpec().withClusterIP("10.96.0.10")
                    .addNewPort().withName("http").withPort(80).withProtocol("TCP").withNewTargetPort(8080).endPort().endSpec().build();
            io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice slice =
                    new io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder().withNewMetadata().withName("web-1")
                            .withNamespace("default").addToLabels("kubernetes.io/service-name", "web").endMetadata()
                            .withAddressType("IPv4").addNewEndpoint().withAddresses("10.244.0.5").withNewConditions().withReady(true)
                            .endConditions().withNodeName("demo-node").endEndpoint().addNewPort().withName("http").withPort(8080)
                            .withProtocol("TCP").endPort().build();
            json.unmarshal(json.asJson(new io.fabric8.kubernetes.api.model.ServiceListBuilder().addToItems(svc).build()),
                    io.fabric8.kubernetes.api.model.ServiceList.class);
            json.unmarshal(json.asJson(new io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceListBuilder()
                    .addToItems(slice).build()), io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceList.class);
            json.unmarshal(json.asJson(new io.fabric8.kubernetes.api.model.WatchEvent(slice, "MODIFIED")),
                    io.fabric8.kubernetes.api.model.WatchEvent.class);
            watcher.close();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
