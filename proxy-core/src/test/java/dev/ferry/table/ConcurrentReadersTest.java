package dev.ferry.table;

import static dev.ferry.table.TestServices.ip;
import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.model.Endpoint;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * One writer churns service ports while several readers look them up by frontend and by name; no
 * reader may ever accept (isValid() == true) a record whose fields disagree with each other.
 * Every version v of a service port is internally consistent by construction: 1 + v % 7 endpoints,
 * each on port v and node "n" + v, and targetPort "v". A torn read breaks one of those equalities.
 * With a grace period of 0 the writer reuses freed blocks at once, so readers do race with reuse:
 * that is the case the stamp check exists for.
 */
class ConcurrentReadersTest {
    private static final int SERVICES = 64;
    private static final long RUN_MILLIS = 1_500;
    private static final int READERS = 3;

    @TempDir
    Path dir;

    static ServicePort version(int service, int v) {
        List<Endpoint> eps = new ArrayList<>();
        for (int e = 0; e < 1 + v % 7; e++) {
            eps.add(new Endpoint(ip("10.1." + e + "." + (service + 1)), v, true, true, false, "n" + v, "", List.of(), ""));
        }
        return new ServicePort(new ServicePortName("stress", "s" + service, "", Protocol.TCP), ServiceType.CLUSTER_IP,
                false, "", List.of(ip("10.96.1." + (service + 1))), 80, Integer.toString(v), 0, List.of(), List.of(),
                null, 0, null, null, List.of(), 0, "", false, "", false, eps);
    }

    @ParameterizedTest(name = "grace {0} ms")
    @ValueSource(longs = {0, ServiceTable.DEFAULT_GRACE_MILLIS})
    void noReaderEverAcceptsATornServicePort(long graceMillis) throws Exception {
        try (ServiceTable table = ServiceTable.create(dir, 256L << 20, graceMillis, System::currentTimeMillis)) {
            for (int s = 0; s < SERVICES; s++) table.put(version(s, 1));
            ServiceTableReader reader = table.reader();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong accepted = new AtomicLong();
            AtomicLong retried = new AtomicLong();
            AtomicReference<String> violation = new AtomicReference<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < READERS; t++) {
                final int seed = t;
                Thread th = new Thread(() -> {
                    ServicePortView v = new ServicePortView();
                    int i = seed;
                    while (!stop.get() && violation.get() == null) {
                        int s = (i++ * 31) % SERVICES;
                        boolean byName = (i & 1) == 0;
                        try {
                            boolean found = byName
                                    ? reader.lookup("stress", "s" + s, "", Protocol.TCP, v)
                                    : reader.lookupIpv4(Protocol.TCP.ordinal(),
                                            AddressBits.ipv4(ip("10.96.1." + (s + 1)).getAddress()), 80, v);
                            if (!found) {
                                retried.incrementAndGet();
                                continue;
                            }
                            int n = v.endpointCount();
                            String target = v.targetPort();
                            int first = n > 0 ? v.endpointPort(0) : -1;
                            String node = n > 0 ? v.endpointNodeName(n - 1) : "";
                            boolean allSame = true;
                            for (int e = 0; e < n; e++) allSame &= v.endpointPort(e) == first;
                            String name = v.name();
                            if (!v.isValid()) {
                                retried.incrementAndGet();
                                continue;
                            }
                            accepted.incrementAndGet();
                            String expectedTarget = Integer.toString(first);
                            if (!allSame || n != 1 + first % 7 || !target.equals(expectedTarget)
                                    || !node.equals("n" + first) || !name.equals("s" + s)) {
                                violation.compareAndSet(null, "torn read of s" + s + ": name=" + name + " n=" + n
                                        + " target=" + target + " first=" + first + " node=" + node + " same=" + allSame);
                            }
                        } catch (IndexOutOfBoundsException recycled) {
                            retried.incrementAndGet();
                        }
                    }
                });
                th.start();
                threads.add(th);
            }
            long deadline = System.currentTimeMillis() + RUN_MILLIS;
            int v = 2;
            long writes = 0;
            while (System.currentTimeMillis() < deadline && violation.get() == null) {
                for (int s = 0; s < SERVICES; s++) {
                    table.put(version(s, v));
                    writes++;
                }
                v++;
            }
            stop.set(true);
            for (Thread th : threads) th.join(10_000);
            assertNull(violation.get());
            assertTrue(accepted.get() > 1_000, "readers made too little progress: " + accepted.get());
            assertTrue(writes > SERVICES, "writer made too little progress: " + writes);
            System.out.printf("grace=%d writes=%d accepted=%d retried=%d%n", graceMillis, writes, accepted.get(), retried.get());
        }
    }
}
