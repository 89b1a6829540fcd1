package dev.ferry.bench.table;

import dev.ferry.model.Protocol;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTable;
import dev.ferry.table.ServiceTableReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Reader-side cost of the off-heap ServiceTable with 100 / 10 000 / 100 000 service ports of 10
 * endpoints each (see {@link TableFixture}): lookup by IPv4 frontend (hit and miss), the proxy's
 * per-connection path (lookup + one endpoint's address and port + isValid), and lookup by name.
 *
 * <p>Keys are drawn uniformly at random from existing service ports (or from an unused range, for
 * misses) into pre-built primitive arrays of {@value #KEYS} entries, walked in order, so key
 * generation costs an array load and allocates nothing. Run with {@code -prof gc} for B/op.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
public class ServiceTableLookupBenchmark {
    static final int KEYS = 1 << 16;
    private static final int MASK = KEYS - 1;
    private static final int TCP = Protocol.TCP.ordinal();

    @Param({"100", "10000", "100000"})
    public int servicePorts;

    @Param({"10"})
    public int endpoints;

    /**
     * 0: hit keys are drawn from every service port (the headline figure, dominated by cache and TLB
     * misses at 100 000). N &gt; 0: drawn from only N service ports scattered over the table, so the
     * records stay cached and what remains is the cost of the code path (run with -p hotSet=64).
     */
    @Param({"0"})
    public int hotSet;

    private Path dir;
    private ServiceTable table;
    ServiceTableReader reader;

    final int[] hitIp = new int[KEYS];
    final int[] hitPort = new int[KEYS];
    final int[] missIp = new int[KEYS];
    final int[] missPort = new int[KEYS];
    /** Per key, a random 32-bit number mapped onto [0, endpointCount) at lookup time, as a balancer would pick. */
    final int[] pick = new int[KEYS];
    final String[] keyNamespace = new String[KEYS];
    final String[] keyName = new String[KEYS];

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("ferry-bench-table-");
        table = ServiceTable.create(dir);
        for (int i = 0; i < servicePorts; i++) {
            table.put(TableFixture.service(i, endpoints));
        }
        reader = table.reader();
        if (reader.servicePortCount() != servicePorts) {
            throw new IllegalStateException("table holds " + reader.servicePortCount() + " service ports, expected "
                    + servicePorts);
        }
        SplittableRandom rnd = new SplittableRandom(42);
        String[] namespaces = new String[servicePorts];
        String[] names = new String[servicePorts];
        for (int i = 0; i < servicePorts; i++) {
            namespaces[i] = TableFixture.namespace(i);
            names[i] = TableFixture.name(i);
        }
        int[] drawFrom = null;
        if (hotSet > 0) {
            drawFrom = new int[hotSet];
            for (int h = 0; h < hotSet; h++) {
                drawFrom[h] = rnd.nextInt(servicePorts);
            }
        }
        for (int k = 0; k < KEYS; k++) {
            int i = drawFrom == null ? rnd.nextInt(servicePorts) : drawFrom[rnd.nextInt(hotSet)];
            hitIp[k] = TableFixture.clusterIp(i);
            hitPort[k] = TableFixture.port(i);
            keyNamespace[k] = namespaces[i];
            keyName[k] = names[i];
            pick[k] = rnd.nextInt();
            missIp[k] = TableFixture.MISS_IP_BASE + rnd.nextInt(1 << 20);
            missPort[k] = TableFixture.port(rnd.nextInt(4));
        }
        // Sanity: every hit key resolves, every miss key does not.
        ServicePortView v = new ServicePortView();
        for (int k = 0; k < KEYS; k++) {
            if (!reader.lookupIpv4(TCP, hitIp[k], hitPort[k], v) || v.endpointCount() != endpoints
                    || !v.endpointUsableFrom(0, v.matchedFrontend())) {
                throw new IllegalStateException("hit key " + k + " not found");
            }
            if (reader.lookupIpv4(TCP, missIp[k], missPort[k], v)) {
                throw new IllegalStateException("miss key " + k + " found");
            }
            if (!reader.lookup(keyNamespace[k], keyName[k], TableFixture.PORT_NAME, Protocol.TCP, v)) {
                throw new IllegalStateException("name key " + k + " not found");
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        if (table != null) {
            table.close();
        }
        TableFixture.deleteRecursively(dir);
    }

    /** Per-thread cursor and flyweight: what each proxy event loop would own. */
    @State(Scope.Thread)
    public static class Cursor {
        final ServicePortView view = new ServicePortView();
        int next;

        int next() {
            int k = next;
            next = (k + 1) & MASK;
            return k;
        }
    }

    @Benchmark
    public boolean lookupIpv4Hit(Cursor c) {
        int k = c.next();
        return reader.lookupIpv4(TCP, hitIp[k], hitPort[k], c.view);
    }

    @Benchmark
    public boolean lookupIpv4Miss(Cursor c) {
        int k = c.next();
        return reader.lookupIpv4(TCP, missIp[k], missPort[k], c.view);
    }

    /**
     * What the proxy does per new connection: find the service, pick one backend by index, check it
     * is selected for traffic from the matched frontend, read its address and port, confirm the read.
     */
    @Benchmark
    public long lookupIpv4PickEndpoint(Cursor c) {
        int k = c.next();
        ServicePortView v = c.view;
        if (!reader.lookupIpv4(TCP, hitIp[k], hitPort[k], v)) {
            return -1;
        }
        int n = v.endpointCount();
        int e = (int) (((pick[k] & 0xFFFFFFFFL) * n) >>> 32);
        if (!v.endpointUsableFrom(e, v.matchedFrontend())) {
            return -3;
        }
        int address = v.endpointIpv4(e);
        int port = v.endpointPort(e);
        if (!v.isValid()) {
            return -2;
        }
        return ((long) address << 16) ^ port;
    }

    @Benchmark
    public boolean lookupByName(Cursor c) {
        int k = c.next();
        return reader.lookup(keyNamespace[k], keyName[k], TableFixture.PORT_NAME, Protocol.TCP, c.view);
    }
}
