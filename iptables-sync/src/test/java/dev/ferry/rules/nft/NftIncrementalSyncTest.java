package dev.ferry.rules.nft;

import static dev.ferry.rules.nft.Services.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Rejection;
import dev.ferry.model.Endpoint;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.SyncReport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A partial sync handles only the service ports that changed (no whole-input validation, no
 * re-rendering of the others) and writes exactly the payload the whole-input path would. No kernel:
 * the tool swallows the payload and succeeds.
 */
class NftIncrementalSyncTest {
    private static final KernelTool ACCEPT_ALL = new KernelTool(List.of("sh", "-c", "cat >/dev/null", "sh"), Duration.ofSeconds(30));

    private static NftSyncer syncer(boolean incremental) {
        NftSyncer s = new NftSyncer(NftRendererGoldenTest.options(), ACCEPT_ALL);
        s.incrementalEnabled = incremental;
        return s;
    }

    private static Endpoint endpoint(String ip, int port) {
        return svc("x", "y", "10.0.0.1", 1).ep(ip, port).build().endpoints().get(0);
    }

    private static ServicePort withEndpoint(ServicePort sp, int index, String ip) {
        List<Endpoint> eps = new ArrayList<>(sp.endpoints());
        eps.set(index, endpoint(ip, 8080));
        return sp.withEndpoints(eps);
    }

    private static List<String> reasons(SyncReport r) {
        List<String> out = new ArrayList<>();
        for (Rejection x : r.rejected()) {
            out.add(x.toString());
        }
        out.sort(null);
        return out;
    }

    @Test
    void oneEndpointChangeRendersOnlyThatServiceAndSkipsTheWholeInputValidation() throws Exception {
        List<ServicePort> ports = new ArrayList<>(NftPartialPayloadTest.many(300));
        NftSyncer s = syncer(true);
        s.sync(ports, true);
        long renders = s.renderCalls;
        long validations = s.fullValidations;
        assertEquals(2L * 300, renders, "the first sync renders every service port once per family");

        ServicePort changed = withEndpoint(ports.get(150), 2, "10.244.99.99");
        ports.set(150, changed);
        SyncReport r = s.sync(ports, false);

        assertFalse(r.full());
        assertEquals(2, s.renderCalls - renders, "only the changed service port is rendered (once per family)");
        assertEquals(0, s.fullValidations - validations, "no whole-input validation for an endpoint change");
        NftPayload p = s.lastPayload();
        assertEquals(6, p.lineCount(), p.text());
        for (int line = 1; line <= p.lineCount(); line++) {
            assertEquals(changed.name(), p.ownerOfLine(line), p.line(line));
        }
        assertTrue(p.text().contains(" : 10.244.99.99 . 8080 }"), p.text());

        // nothing changed: nothing rendered, nothing validated, empty payload
        r = s.sync(ports, false);
        assertEquals(0, r.payloadLines());
        assertEquals(2, s.renderCalls - renders);
        assertEquals(0, s.fullValidations - validations);
    }

    @Test
    void aChangedServiceClaimingAnotherServicesNodePortTakesTheWholeInputPathAndIsRejectedAsThere() throws Exception {
        List<ServicePort> ports = new ArrayList<>(NftPartialPayloadTest.many(50));
        NftSyncer inc = syncer(true);
        NftSyncer ref = syncer(false);
        inc.sync(ports, true);
        ref.sync(ports, true);
        long validations = inc.fullValidations;

        // svc7 (ns7) takes svc3's NodePort: ns3/svc3 comes first in name order and keeps it
        ServicePort thief = svc("ns7", "svc7", "10.100.0.8", 80).nodePort(31003).ep("10.244.7.10", 8080).build();
        assertEquals(ports.get(7).name(), thief.name());
        ports.set(7, thief);
        SyncReport a = inc.sync(ports, false);
        SyncReport b = ref.sync(ports, false);

        assertEquals(1, inc.fullValidations - validations, "a changed frontend is checked against every service");
        assertEquals(b.rejected().size(), a.rejected().size());
        assertEquals(reasons(b), reasons(a));
        assertTrue(reasons(a).stream().anyMatch(x -> x.contains("svc7") && x.contains("31003")), reasons(a).toString());
        assertEquals(ref.lastPayload().text(), inc.lastPayload().text());
        assertTrue(inc.lastPayload().text().contains("delete element ip ferry service-nodeports { tcp . 31007 }"),
                inc.lastPayload().text());

        // endpoint changes elsewhere keep the rejection reported, without re-validating everything
        validations = inc.fullValidations;
        ports.set(20, withEndpoint(ports.get(20), 0, "10.244.50.50"));
        a = inc.sync(ports, false);
        b = ref.sync(ports, false);
        assertEquals(0, inc.fullValidations - validations);
        assertEquals(reasons(b), reasons(a));
        assertEquals(ref.lastPayload().text(), inc.lastPayload().text());
    }

    @Test
    void randomChangesGiveTheSamePayloadsAndRejectionsAsTheWholeInputPath() throws Exception {
        List<ServicePort> ports = new ArrayList<>(NftPartialPayloadTest.many(120));
        ports.add(svc("dup", "a", "10.100.0.1", 80).ep("10.244.0.9", 80).build()); // conflicts with ns0/svc0's ClusterIP
        NftSyncer inc = syncer(true);
        NftSyncer ref = syncer(false);
        inc.sync(ports, true);
        ref.sync(ports, true);
        Random rnd = new Random(42);
        int incremental = 0;
        for (int step = 0; step < 200; step++) {
            int i = rnd.nextInt(ports.size());
            ServicePort sp = ports.get(i);
            int kind = rnd.nextInt(10);
            if (kind < 5 && !sp.endpoints().isEmpty()) {
                ports.set(i, withEndpoint(sp, rnd.nextInt(sp.endpoints().size()), "10.244.77." + (1 + rnd.nextInt(250))));
            } else if (kind == 5) {
                ports.set(i, sp.withEndpoints(List.of()));
            } else if (kind == 6) {
                ports.set(i, sp.withEndpoints(List.of(endpoint("10.244.88." + (1 + rnd.nextInt(250)), 8080))));
            } else if (kind == 7) {
                ports.set(i, svc(sp.name().namespace(), sp.name().name(), "10.100.0." + (1 + rnd.nextInt(250)), 80)
                        .nodePort(31000 + rnd.nextInt(200)).ep("10.244.66.1", 8080).build());
            } else if (kind == 8) {
                ports.remove(i);
            } else {
                ports.add(svc("new", "s" + step, "10.101.0." + (1 + rnd.nextInt(250)), 80).ep("10.244.55.1", 8080).build());
            }
            long v = inc.fullValidations;
            SyncReport a = inc.sync(ports, false);
            SyncReport b = ref.sync(ports, false);
            if (inc.fullValidations == v) {
                incremental++;
            }
            assertEquals(ref.lastPayload().text(), inc.lastPayload().text(), "step " + step);
            assertEquals(reasons(b), reasons(a), "step " + step);
            assertEquals(b.full(), a.full(), "step " + step);
        }
        assertTrue(incremental > 50, "most endpoint changes take the incremental path: " + incremental);
        assertTrue(incremental < 200, "frontend changes, additions and removals do not: " + incremental);
    }
}
