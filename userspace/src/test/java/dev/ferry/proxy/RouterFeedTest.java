package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.ferry.lb.Maglev;
import dev.ferry.model.Endpoint;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.table.ChangeFeed;
import dev.ferry.table.ServiceTable;
import dev.ferry.table.TableChange;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The userspace proxy's routing state followed through the table's change feed equals the state a
 * whole-table refresh builds, after any mix of changes, removals and unbuildable service ports.
 */
class RouterFeedTest {
    @TempDir
    Path dir;

    private static ServicePort service(int i, int salt) {
        List<Endpoint> eps = new ArrayList<>();
        for (int e = 0; e < 1 + salt % 3; e++) {
            eps.add(Services.ready("10.244." + i + "." + (e + 1 + salt % 50), 8080));
        }
        return Services.clusterIp("svc-" + i, "10.96.0." + (i + 1), 80, i % 4 == 0 ? Protocol.UDP : Protocol.TCP, eps);
    }

    private static ServicePort unbuildable(int i) {
        List<Endpoint> eps = new ArrayList<>(Maglev.DEFAULT_TABLE_SIZE + 1);
        for (int e = 0; e <= Maglev.DEFAULT_TABLE_SIZE; e++) {
            eps.add(Services.ready("10.200." + (e >> 8 & 0xff) + "." + (e & 0xff), 8000 + (e >> 16)));
        }
        return Services.build("svc-" + i, ServiceType.CLUSTER_IP, List.of("10.96.0." + (i + 1)), 80, 0, List.of(), List.of(),
                List.of(), SessionAffinity.NONE, "mh", false, i % 4 == 0 ? Protocol.UDP : Protocol.TCP, eps);
    }

    @Test
    void followingTheFeedGivesTheSameStateAsAWholeTableRefreshAfterRandomChanges() throws Exception {
        try (ServiceTable table = ServiceTable.create(dir, 64L << 20, 1_000, System::currentTimeMillis)) {
            for (int i = 0; i < 40; i++) {
                table.put(service(i, 0));
            }
            Router followed = new Router(table.reader(), "rr", null);
            ChangeFeed feed = table.changes();
            long cursor = ChangeFeed.START;
            TableChange first = feed.since(cursor);
            cursor = first.to();
            followed.refresh(first);
            Random random = new Random(3);
            for (int step = 0; step < 60; step++) {
                int i = random.nextInt(40);
                int op = random.nextInt(10);
                if (op < 6) {
                    table.put(service(i, step + 1));
                } else if (op < 8) {
                    table.remove(service(i, 0).name());
                } else if (op == 8) {
                    table.put(unbuildable(i));
                } else {
                    table.put(service(i, step + 1));
                    table.put(service((i + 1) % 40, step + 2));
                }
                long before = followed.refreshes();
                TableChange c = feed.since(cursor);
                cursor = c.to();
                assertFalse(c.full(), "step " + step);
                followed.refresh(c);
                if (!c.isEmpty()) { // removing a service port already gone changes nothing
                    assertNotEquals(before, followed.refreshes(), "a change moves the refresh count (UDP flows re-check)");
                }

                Router whole = new Router(table.reader(), "rr", null);
                whole.refresh();
                assertEquals(whole.builtStamps(), followed.builtStamps(), "step " + step);
                assertEquals(whole.skipped(), followed.skipped(), "step " + step);
            }
        }
    }
}
