package dev.ferry.testkit;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

@Tag("unit")
class KernelTestPolicyTest {
    @Test
    void nothingMissingLetsTheTestRunEvenUnderCi() {
        assertNull(KernelTestPolicy.missing("x", true, Set.of("ip")::contains, "ip"));
        assertDoesNotThrow(() -> KernelTestPolicy.enforce(null, true));
        assertDoesNotThrow(() -> KernelTestPolicy.enforce(null, false));
    }

    @Test
    void theMessageNamesTheTestRootAndEveryAbsentTool() {
        String m = KernelTestPolicy.missing("the traffic test", false, Set.of("ip")::contains, "ip", "nft", "socat");
        assertEquals("the traffic test needs root and the 'nft' binary and the 'socat' binary (CI installs them; see .ci/run)", m);
    }

    @Test
    void somethingMissingSkipsOnADeveloperMachine() {
        TestAbortedException e = assertThrows(TestAbortedException.class, () -> KernelTestPolicy.enforce("x needs root", false));
        assertTrue(e.getMessage().contains("x needs root"), e.getMessage());
    }

    @Test
    void somethingMissingFailsUnderCi() {
        AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> KernelTestPolicy.enforce("x needs root", true));
        assertEquals("CI=true, so not skipping: x needs root", e.getMessage());
    }

    @Test
    void theRootCheckAgreesWithTheUserName() {
        // /proc's effective uid and the JVM's user name describe the same process.
        assertEquals("root".equals(System.getProperty("user.name")), KernelTestPolicy.isRoot());
    }

    @Test
    void aShellIsFoundAndANonsenseNameIsNot() {
        assertTrue(KernelTestPolicy.onPath("sh"));
        assertTrue(!KernelTestPolicy.onPath("ferry-no-such-tool-" + System.nanoTime()));
    }
}
