package dev.ferry.conntrack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Ferry ships Chronicle Map's header class precompiled so that opening a map runs no javac; the
 * build generates and compiles it with Chronicle's own generator (src/build/GenerateChronicleHeader.java,
 * run by conntrack's pom in process-classes). These tests fail when the build stopped doing that.
 */
@Tag("unit")
class PrecompiledChronicleClassTest {
    static final String NAME = "net.openhft.chronicle.hash.VanillaGlobalMutableState$$Native";

    @Test
    void chronicleFindsTheHeaderClassCompiledIntoThisModule() throws Exception {
        Class<?> c = Class.forName(NAME);
        Path where = Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path ours = Path.of(ConntrackState.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertEquals(ours, where, "the header class comes from " + where + ", not from conntrack's build output");
    }

    @Test
    void theCompiledSourceIsWhatThisChronicleVersionGenerates() throws Exception {
        Class<?> valueModel = Class.forName("net.openhft.chronicle.values.ValueModel");
        Object model = valueModel.getMethod("acquire", Class.class)
                .invoke(null, Class.forName("net.openhft.chronicle.hash.VanillaGlobalMutableState"));
        Method generate = Class.forName("net.openhft.chronicle.values.Generators")
                .getDeclaredMethod("generateNativeClass", valueModel, String.class);
        generate.setAccessible(true);
        String expected = (String) generate.invoke(null, model, "VanillaGlobalMutableState$$Native");
        // target/classes -> target/generated-sources/chronicle, whatever -Dferry.target names the folder.
        Path classes = Path.of(ConntrackState.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path generated = classes.resolveSibling("generated-sources/chronicle/net/openhft/chronicle/hash/VanillaGlobalMutableState$$Native.java");
        assertTrue(Files.isRegularFile(generated), "the build did not generate " + generated);
        assertEquals(expected, Files.readString(generated), "the build's generated header class differs from Chronicle's");
    }

    @Test
    void noPastedCopyIsLeftInTheSourceTree() {
        assertFalse(Files.exists(Path.of("src/main/java/net/openhft/chronicle/hash/VanillaGlobalMutableState$$Native.java")),
                "the header class is generated at build time; a copy under src/main/java would hide a Chronicle upgrade's change");
    }
}
