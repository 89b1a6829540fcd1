package dev.ferry.daemon;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** `ferry run`'s start-up milestones and its "starting" health condition, on a clock the test moves. */
@Tag("unit")
class StartupProgressTest {
    final AtomicLong now = new AtomicLong(10_000);
    final StartupProgress progress = new StartupProgress(9_700, now::get);

    @Test
    void milestonesCountFromTheJvmStartAndARepeatedOneKeepsItsFirstTime() {
        progress.mark("main");
        now.set(10_400);
        progress.mark("source read");
        now.set(11_000);
        progress.mark("source read"); // a reload after a bad file: the first read counts
        assertEquals(List.of("main +300", "source read +700"), progress.marks());
    }

    @Test
    void startingFailsUntilServedThenHoldsForGood() {
        assertNotNull(progress.startingFailure());
        assertFalse(progress.isServed());
        now.set(11_200);
        progress.served("listeners bound");
        assertNull(progress.startingFailure());
        assertTrue(progress.isServed());
        assertEquals(List.of("listeners bound +1500"), progress.marks());
        now.set(12_000);
        progress.served("listeners bound");
        assertEquals(List.of("listeners bound +1500"), progress.marks(), "served once");
    }
}
