package dev.ferry.bench.table;

import dev.ferry.model.ServicePort;
import dev.ferry.table.ServiceTable;
import dev.ferry.table.ServiceTableReader;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Heap used by a loaded ServiceTable: builds {@code count} service ports of {@code endpoints}
 * endpoints (see {@link TableFixture}) in batches — build a batch, put it, drop it — so that the
 * heap-resident input is not what is measured, then runs System.gc() a few times and prints the
 * used heap (MemoryMXBean, after GC) next to the table's off-heap bytesInUse(). Also prints the
 * load time per put (the puts only, not the building of the input objects).
 *
 * <p>Run each size in its own JVM:
 * {@code java $(cat benchmarks/target/classes/dev/ferry/bench/jvm.flags) -cp benchmarks/target/benchmarks.jar
 * dev.ferry.bench.table.TableHeapMain 10000 [endpoints=10] [batch=1000]}
 */
public final class TableHeapMain {
    private TableHeapMain() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1 || args.length > 3) {
            System.err.println("usage: TableHeapMain COUNT [ENDPOINTS=10] [BATCH=1000]");
            System.exit(2);
        }
        int count = Integer.parseInt(args[0]);
        int endpoints = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        int batch = args.length > 2 ? Integer.parseInt(args[2]) : 1000;
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();

        Path dir = Files.createTempDirectory("ferry-bench-heap-");
        try (ServiceTable table = ServiceTable.create(dir)) {
            ServiceTableReader reader = table.reader();
            // Touch the code paths once before the baseline, so class loading is the same for every
            // size (service 0 is written again, unchanged, in the first batch).
            table.put(TableFixture.service(0, endpoints));
            long baseline = usedAfterGc(memory);

            long putNanos = 0;
            List<ServicePort> pending = new ArrayList<>(batch);
            for (int from = 0; from < count; from += batch) {
                int to = Math.min(count, from + batch);
                for (int i = from; i < to; i++) {
                    pending.add(TableFixture.service(i, endpoints));
                }
                long t0 = System.nanoTime();
                for (int i = 0, n = pending.size(); i < n; i++) {
                    table.put(pending.get(i));
                }
                putNanos += System.nanoTime() - t0;
                pending.clear();
            }
            long loaded = usedAfterGc(memory);
            if (reader.servicePortCount() != count || reader.endpointCount() != (long) count * endpoints) {
                throw new IllegalStateException("table holds " + reader.servicePortCount() + " service ports and "
                        + reader.endpointCount() + " endpoints, expected " + count + " x " + endpoints);
            }
            System.out.printf(
                    "servicePorts=%d endpoints=%d heapUsedBeforeBytes=%d heapUsedAfterBytes=%d heapDeltaBytes=%d "
                            + "tableBytesInUse=%d putMicrosEach=%.2f loadMillis=%.1f%n",
                    count, endpoints, baseline, loaded, loaded - baseline, table.bytesInUse(),
                    putNanos / 1e3 / count, putNanos / 1e6);
            // Keep the table reachable until after the measurement.
            if (reader.generation() < 0) {
                System.out.println(table);
            }
        } finally {
            TableFixture.deleteRecursively(dir);
        }
    }

    private static long usedAfterGc(MemoryMXBean memory) throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return memory.getHeapMemoryUsage().getUsed();
    }
}
