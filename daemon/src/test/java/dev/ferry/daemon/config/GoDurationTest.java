package dev.ferry.daemon.config;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

@Tag("unit")
class GoDurationTest {
    @ParameterizedTest
    @CsvSource({
            "1s, 1000000000", "500ms, 500000000", "1m30s, 90000000000", "1h, 3600000000000", "1.5s, 1500000000",
            "300us, 300000", "300µs, 300000", "7ns, 7", "0, 0", "0s, 0", "-1s, -1000000000", "2h45m, 9900000000000",
            ".5s, 500000000", "1h0m0.25s, 3600250000000"})
    void goSyntaxParsesToTheSameDurationAsGo(String text, long nanos) {
        assertEquals(Duration.ofNanos(nanos), GoDuration.parse(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "30", "1x", "s", "1.2.3s", "ms", "1 s", "--1s", "1e3s"})
    void anythingElseIsRejectedQuotingTheText(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GoDuration.parse(text));
        assertTrue(e.getMessage().contains("duration"), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"1m30s, 1m30s", "500ms, 500ms", "0, 0s", "30s, 30s", "1h, 1h0m0s", "1.5s, 1.5s"})
    void formatsAsGoPrintsDurations(String text, String printed) {
        assertEquals(printed, GoDuration.format(GoDuration.parse(text)));
    }
}
