package dev.ferry.proxy;

import dev.ferry.conntrack.ConntrackConfig;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import dev.ferry.source.FileSource;
import dev.ferry.table.ServiceTable;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The node side of the namespace tests and the benchmark, run as a child JVM inside the node
 * namespace: watches a YAML file, runs endpoint selection, writes the table and runs the proxy
 * with the {@code ferry0} interface. Prints "synced GENERATION LISTENERS" after every applied
 * change. Arguments: YAML STATE_DIR NODE_NAME NODE_PORT_ADDRESSES(comma-separated) [IO_THREADS [TRANSPORT]],
 * TRANSPORT one of auto (the default), io_uring, epoll, nio.
 */
public final class ProxyNodeMain {
    private ProxyNodeMain() {}

    public static void main(String[] args) throws Exception {
        Path yaml = Path.of(args[0]);
        Path state = Path.of(args[1]);
        NodeInfo node = new NodeInfo(args[2], "");
        List<InetAddress> nodeAddresses = new ArrayList<>();
        for (String a : args[3].split(",")) {
            nodeAddresses.add(InetAddress.getByName(a));
        }
        int ioThreads = args.length > 4 ? Integer.parseInt(args[4]) : 0;
        String transport = args.length > 5 ? args[5] : "auto";
        ServiceTable table = ServiceTable.create(state.resolve("table"), 256L << 20, 500, System::currentTimeMillis);
        ConntrackState conntrack = ConntrackState.open(state.resolve("conntrack"), ConntrackConfig.DEFAULTS
                .withMaxFlows(65536).withMaxAffinities(65536));
        UserspaceProxy proxy = new UserspaceProxy(table.reader(), ProxyOptions.defaults()
                .withNodePortAddresses(nodeAddresses).withConntrack(conntrack).withServiceInterface("ferry0")
                .withConnectTimeout(Duration.ofMillis(500)).withIoThreads(ioThreads).withTransport(transport));
        Object lock = new Object();
        boolean[] started = {false};
        FileSource source = new FileSource(yaml, Duration.ofMillis(100), snapshot -> {
            synchronized (lock) {
                table.replaceAll(EndpointSelector.selectAll(snapshot.ports(), node));
                if (started[0]) {
                    proxy.onTableChanged();
                    System.out.println("synced " + table.generation() + " " + proxy.listenerCount());
                }
            }
        });
        source.start();
        synchronized (lock) {
            proxy.start();
            started[0] = true;
            System.out.println("interface " + proxy.serviceInterface().kind() + " transport " + proxy.transport());
            System.out.println("synced " + table.generation() + " " + proxy.listenerCount());
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            source.close();
            proxy.close();
            conntrack.close();
        }));
        Thread.sleep(Long.MAX_VALUE);
    }
}
