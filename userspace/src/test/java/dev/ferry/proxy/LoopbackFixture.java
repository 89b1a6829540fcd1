package dev.ferry.proxy;

import dev.ferry.conntrack.ConntrackConfig;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.model.ServicePort;
import dev.ferry.table.ServiceTable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What the loopback proxy tests run on: a service table and conntrack state in a temporary folder,
 * echo backends on loopback, and one proxy reading the table. {@link #close()} releases all of it.
 */
final class LoopbackFixture implements AutoCloseable {
    final ServiceTable table;
    final ConntrackState conntrack;
    UserspaceProxy proxy;
    private final List<EchoBackend> backends = new ArrayList<>();

    LoopbackFixture(Path dir, long tableBytes) throws IOException {
        table = ServiceTable.create(dir.resolve("table"), tableBytes, 100, System::currentTimeMillis);
        conntrack = ConntrackState.open(dir.resolve("conntrack"), ConntrackConfig.DEFAULTS.withMaxFlows(1024)
                .withMaxAffinities(1024));
    }

    /** A loopback echo backend, closed with the fixture. */
    EchoBackend backend(String name) throws IOException {
        return keep(EchoBackend.loopback(name));
    }

    /** Closes b with the fixture. */
    EchoBackend keep(EchoBackend b) {
        backends.add(b);
        return b;
    }

    /** Puts ports in the table and starts the proxy with options and the fixture's conntrack state. */
    UserspaceProxy start(ProxyOptions options, ServicePort... ports) throws IOException {
        table.replaceAll(List.of(ports));
        proxy = new UserspaceProxy(table.reader(), options.withConntrack(conntrack));
        proxy.start();
        return proxy;
    }

    /** Replaces the table's content with ports and tells the running proxy. */
    void update(ServicePort... ports) {
        table.replaceAll(List.of(ports));
        proxy.onTableChanged();
    }

    @Override
    public void close() throws IOException {
        if (proxy != null) {
            proxy.close();
        }
        for (EchoBackend b : backends) {
            b.close();
        }
        conntrack.close();
        table.close();
    }
}
