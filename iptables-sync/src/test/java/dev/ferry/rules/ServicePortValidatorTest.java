package dev.ferry.rules;

import static dev.ferry.testkit.ServicePorts.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.ServicePort;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class ServicePortValidatorTest {

    @Test
    void badEndpointPortRejectsOnlyThatServicePortAndNamesTheField() {
        ServicePort good = svc("good").clusterIP("10.96.0.1").ep("10.1.0.1", 8080).build();
        ServicePort bad = svc("bad").clusterIP("10.96.0.2").ep("10.1.0.2", 70000).build();
        var r = ServicePortValidator.validate(List.of(bad, good));
        assertEquals(List.of(good), r.accepted());
        assertEquals(1, r.rejected().size());
        String msg = r.rejected().get(0).toString();
        assertTrue(msg.contains("default/bad") && msg.contains("endpoints[0].port") && msg.contains("70000"), msg);
    }

    @Test
    void secondClaimOfTheSameFrontendLosesInNameOrder() {
        ServicePort a = svc("a").clusterIP("10.96.0.1").build();
        ServicePort b = svc("b").clusterIP("10.96.0.1").build();
        var r = ServicePortValidator.validate(List.of(b, a));
        assertEquals(List.of(a), r.accepted());
        assertTrue(r.rejected().get(0).toString().contains("already used by default/a"), r.rejected().toString());
    }

    @Test
    void nameThatCouldBreakOutOfACommentIsRejected() {
        ServicePort evil = svc("x\" -j ACCEPT").clusterIP("10.96.0.3").build();
        var r = ServicePortValidator.validate(List.of(evil));
        assertTrue(r.accepted().isEmpty());
        assertEquals("metadata.name", r.rejected().get(0).field());
    }

    @Test
    void affinityTimeoutBeyondOneDayIsRejected() {
        ServicePort sp = svc("s").clusterIP("10.96.0.4").clientIP(100000).build();
        var r = ServicePortValidator.validate(List.of(sp));
        assertEquals("spec.sessionAffinityConfig.clientIP.timeoutSeconds", r.rejected().get(0).field());
    }
}
