package dev.ferry.watch;

import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

/**
 * A sink over a real ServiceTable that records every update and every removal it applied, and
 * reads the table back through its reader. Test-only; the recordings are safe to read from the test thread.
 */
final class RecordingSink implements TableSink {
    final ServiceTable table;
    private final TableWriterSink writer;
    final List<TableUpdate> updates = new CopyOnWriteArrayList<>();
    final List<ServicePortName> removals = new CopyOnWriteArrayList<>();
    volatile RuntimeException failNext;
    /** Calls of {@link #idle()}: the tracker makes one a second. */
    final java.util.concurrent.atomic.AtomicLong idles = new java.util.concurrent.atomic.AtomicLong();

    RecordingSink(ServiceTable table) {
        this.table = table;
        this.writer = new TableWriterSink(table);
    }

    @Override
    public ServiceTable.SyncResult apply(TableUpdate update) {
        RuntimeException f = failNext;
        if (f != null) {
            failNext = null;
            throw f;
        }
        // Every name that leaves the table, whether listed or found by a full update's sweep.
        Map<ServicePortName, ServicePort> before = contents();
        ServiceTable.SyncResult r = writer.apply(update);
        Map<ServicePortName, ServicePort> after = contents();
        for (ServicePortName n : before.keySet()) {
            if (!after.containsKey(n)) {
                removals.add(n);
            }
        }
        updates.add(update);
        return r;
    }

    @Override
    public void idle() {
        idles.incrementAndGet();
        writer.idle();
    }

    /** The table's contents as read back through its reader. */
    Map<ServicePortName, ServicePort> contents() {
        Map<ServicePortName, ServicePort> out = new TreeMap<>();
        table.reader().forEach(new ServicePortView(), v -> out.put(v.servicePortName(), v.toServicePort()));
        return out;
    }

    List<String> names() {
        List<String> out = new ArrayList<>();
        for (ServicePortName n : contents().keySet()) {
            out.add(n.toString() + "/" + n.protocol());
        }
        return out;
    }

    /** Waits (bounded) until the condition holds, failing with the table's contents otherwise. */
    void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("timed out after 20 s waiting for " + what + "; table holds " + contents());
    }
}
