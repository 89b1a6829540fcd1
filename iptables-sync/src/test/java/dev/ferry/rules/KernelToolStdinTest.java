package dev.ferry.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** A payload reaches the tool's stdin byte for byte, however it falls across the writer's chunks. */
@Tag("unit")
class KernelToolStdinTest {
    @Test
    void aPayloadLargerThanOneChunkArrivesWholeIncludingCharactersSplitAcrossChunks() throws Exception {
        StringBuilder b = new StringBuilder();
        b.append("x".repeat(64 * 1024 - 1)).append("\uD83D\uDE00"); // a surrogate pair across the first chunk's end
        for (int i = 0; b.length() < 300_000; i++) {
            b.append("add element ip ferry services { 10.96.").append(i % 256).append(".1 . tcp . 80 : goto s").append(i)
                    .append(" } # é\n");
        }
        String payload = b.toString();
        ToolResult r = new KernelTool(List.of(), Duration.ofSeconds(30)).run(List.of("cat"), payload);
        assertEquals(0, r.exitCode(), r.stderr());
        assertEquals(payload, r.stdout());
    }
}
