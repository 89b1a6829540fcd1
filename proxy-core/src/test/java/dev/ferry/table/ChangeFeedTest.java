package dev.ferry.table;

import static dev.ferry.table.TestServices.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.model.Endpoint;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChangeFeedTest {
    @TempDir
    Path dir;
    private ServiceTable table;
    private final AtomicLong now = new AtomicLong(1_000_000);

    private ServiceTable open(int services) throws Exception {
        table = ServiceTable.create(dir, 64L << 20, 1_000, now::get);
        List<ServicePort> all = new ArrayList<>();
        for (int i = 0; i < services; i++) {
            all.add(clusterIp(i, 3, 8080));
        }
        table.replaceAll(all);
        return table;
    }

    @AfterEach
    void close() throws Exception {
        if (table != null) table.close();
    }

    /** svc-i with one more endpoint than clusterIp(i, 3, ...) has. */
    private static ServicePort withFourthEndpoint(int i) {
        ServicePort sp = clusterIp(i, 3, 8080);
        List<Endpoint> eps = new ArrayList<>(sp.endpoints());
        eps.add(new Endpoint(ip("10.244.9.9"), 8080, true, true, false, "node-9", "zone-1", List.of(), ""));
        return sp.withEndpoints(eps);
    }

    @Test
    void aChangeToOneServicePublishesExactlyThatServicePort() throws Exception {
        open(100);
        ChangeFeed feed = table.changes();
        long cursor = feed.latest();
        table.put(withFourthEndpoint(42));
        TableChange c = feed.since(cursor);
        assertFalse(c.full(), c.toString());
        assertEquals(Set.of(clusterIp(42, 3, 8080).name()), c.changed());
        assertEquals(Set.of(), c.removed());
        assertEquals(table.generation(), c.to());
        assertTrue(feed.since(c.to()).isEmpty(), "nothing more after the consumer's new cursor");
    }

    @Test
    void rewritingAnIdenticalRecordPublishesNothing() throws Exception {
        open(10);
        long cursor = table.changes().latest();
        table.put(clusterIp(3, 3, 8080));
        table.replaceAll(allOf(10));
        assertTrue(table.changes().since(cursor).isEmpty(), table.changes().since(cursor).toString());
    }

    private static List<ServicePort> allOf(int n) {
        List<ServicePort> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            all.add(clusterIp(i, 3, 8080));
        }
        return all;
    }

    @Test
    void aRemovalPublishesARemoval() throws Exception {
        open(10);
        long cursor = table.changes().latest();
        ServicePortName gone = clusterIp(7, 3, 8080).name();
        assertTrue(table.remove(gone));
        TableChange c = table.changes().since(cursor);
        assertEquals(Set.of(gone), c.removed());
        assertEquals(Set.of(), c.changed());
    }

    @Test
    void generationsBetweenTwoReadsMergeToTheLastThingThatHappenedToEachName() throws Exception {
        open(10);
        long cursor = table.changes().latest();
        ServicePortName a = clusterIp(1, 3, 8080).name();
        ServicePortName b = clusterIp(2, 3, 8080).name();
        table.remove(a);
        table.put(clusterIp(1, 3, 8080)); // back again: readers must read it
        table.put(withFourthEndpoint(2));
        table.remove(b);                  // written, then gone
        TableChange c = table.changes().since(cursor);
        assertEquals(Set.of(a), c.changed());
        assertEquals(Set.of(b), c.removed());
    }

    @Test
    void aBatchIsOneGenerationNamingEverythingItWrote() throws Exception {
        open(10);
        long before = table.generation();
        table.batch(() -> {
            table.put(withFourthEndpoint(4));
            table.remove(clusterIp(5, 3, 8080).name());
            return null;
        });
        assertEquals(before + 1, table.generation());
        TableChange c = table.changes().since(before);
        assertEquals(Set.of(clusterIp(4, 3, 8080).name()), c.changed());
        assertEquals(Set.of(clusterIp(5, 3, 8080).name()), c.removed());
    }

    @Test
    void aConsumerThatStartsLateGetsAFullChange() throws Exception {
        open(10);
        long fulls = table.changes().fullChanges();
        TableChange c = table.changes().since(ChangeFeed.START);
        assertTrue(c.full());
        assertEquals(table.generation(), c.to());
        assertEquals(fulls + 1, table.changes().fullChanges(), "a full change handed out is counted");
    }

    @Test
    void aConsumerThatFellBehindTheBoundedHistoryGetsAFullChange() {
        ChangeFeed feed = new ChangeFeed(0, 3);
        ServicePortName[] names = new ServicePortName[5];
        for (int i = 0; i < names.length; i++) {
            names[i] = clusterIp(i, 1, 80).name();
            feed.written(names[i]);
            feed.publish(i + 1);
        }
        assertTrue(feed.keysHeld() <= 3, "history bounded: " + feed.keysHeld());
        assertEquals(2, feed.droppedGenerations());
        assertTrue(feed.since(0).full(), "generation 1 was dropped: a consumer at 0 cannot be told what changed");
        assertTrue(feed.since(1).full(), "generation 2 was dropped too");
        TableChange c = feed.since(2);
        assertFalse(c.full());
        assertEquals(Set.of(names[2], names[3], names[4]), c.changed());
        assertEquals(2, feed.fullChanges());
    }

    @Test
    void aRebuiltTableGivesEveryConsumerAFullChange() throws Exception {
        open(10);
        long cursor = table.changes().latest();
        table.rebuild();
        TableChange c = table.changes().since(cursor);
        assertTrue(c.full(), c.toString());
        table.put(clusterIp(1, 3, 8080));
        TableChange after = table.changes().since(c.to());
        assertFalse(after.full());
        assertEquals(Set.of(clusterIp(1, 3, 8080).name()), after.changed());
    }

    @Test
    void aMirrorDecodesOnlyTheRecordsAChangeNames() throws Exception {
        open(200);
        TableMirror mirror = TableMirror.of(table);
        assertTrue(mirror.catchUp().full(), "the first catch-up reads everything");
        assertEquals(200, mirror.ports().size());
        long decoded = mirror.decodedRecords();

        table.put(withFourthEndpoint(17));
        table.remove(clusterIp(18, 3, 8080).name());
        TableChange c = mirror.catchUp();
        assertFalse(c.full());
        assertEquals(1, mirror.decodedRecords() - decoded, "one record decoded for one changed service port");
        assertEquals(withFourthEndpoint(17), mirror.ports().get(clusterIp(17, 3, 8080).name()));
        assertFalse(mirror.ports().containsKey(clusterIp(18, 3, 8080).name()));
        assertEquals(199, mirror.ports().size());
        assertEquals(1, mirror.fullReads());
    }

    @Test
    void aMirrorAfterARebuildReadsTheWholeTableAgainAndMatchesIt() throws Exception {
        open(20);
        TableMirror mirror = TableMirror.of(table);
        mirror.catchUp();
        table.rebuild();
        table.replaceAll(allOf(5));
        assertTrue(mirror.catchUp().full());
        assertEquals(2, mirror.fullReads());
        assertEquals(5, mirror.ports().size());
        for (ServicePort sp : allOf(5)) {
            assertEquals(sp, mirror.ports().get(sp.name()));
        }
    }
}
