package dev.ferry.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class ApplyExceptionTest {

    @Test
    void findsTheFailingLineInEachToolsErrorFormat() {
        assertEquals(12, ApplyException.failingLine("iptables-restore v1.8.9 (nf_tables): unknown option\nError occurred at line: 12\n"));
        assertEquals(7, ApplyException.failingLine("iptables-restore: line 7 failed\n"));
        assertEquals(3, ApplyException.failingLine("/dev/stdin:3:1-5: Error: syntax error\n"));
        assertEquals(0, ApplyException.failingLine("Another app is currently holding the xtables lock."));
    }

    @Test
    void messageNamesTheLineAndTheServiceItCameFrom() {
        String payload = "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -m comment --comment \"ns/web:http cluster IP\" -j NOPE\nCOMMIT\n";
        ToolResult r = new ToolResult(List.of("iptables-restore"), 2, "", "Error occurred at line: 3");
        ApplyException e = ApplyException.fromToolFailure(r, payload, line -> "ns/web:http");
        assertEquals(3, e.line());
        assertTrue(e.getMessage().contains("-j NOPE") && e.getMessage().contains("ns/web:http"), e.getMessage());
    }

    @Test
    void backoffDoublesUpToTheCapAndResets() {
        Backoff b = new Backoff(Duration.ofMillis(100), Duration.ofMillis(350));
        assertEquals(100, b.nextDelay().toMillis());
        assertEquals(200, b.nextDelay().toMillis());
        assertEquals(350, b.nextDelay().toMillis());
        assertEquals(350, b.nextDelay().toMillis());
        b.reset();
        assertEquals(100, b.nextDelay().toMillis());
    }
}
