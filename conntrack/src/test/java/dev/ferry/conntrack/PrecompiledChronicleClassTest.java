package dev.ferry.conntrack;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Ferry ships Chronicle Map's header class precompiled so that opening a map runs no javac
 * (see the comment in that file). The checked-in source must be exactly what this Chronicle
 * version generates; a Chronicle upgrade that changes it fails here with the new source.
 */
@Tag("unit")
class PrecompiledChronicleClassTest {
    static final Path SOURCE = Path.of("src/main/java/net/openhft/chronicle/hash/VanillaGlobalMutableState$$Native.java");

    @Test
    void checkedInHeaderClassIsWhatThisChronicleVersionGenerates() throws Exception {
        Class<?> valueModel = Class.forName("net.openhft.chronicle.values.ValueModel");
        Object model = valueModel.getMethod("acquire", Class.class)
                .invoke(null, Class.forName("net.openhft.chronicle.hash.VanillaGlobalMutableState"));
        Method generate = Class.forName("net.openhft.chronicle.values.Generators")
                .getDeclaredMethod("generateNativeClass", valueModel, String.class);
        generate.setAccessible(true);
        String expected = (String) generate.invoke(null, model, "VanillaGlobalMutableState$$Native");
        String checkedIn = Files.readAllLines(SOURCE).stream()
                .filter(l -> !l.startsWith("//"))
                .collect(Collectors.joining("\n", "", "\n"));
        assertEquals(expected.strip(), checkedIn.strip(),
                "Chronicle now generates a different header class: replace the code in " + SOURCE + " with:\n" + expected);
    }

    @Test
    void chronicleUsesThePrecompiledClass() throws Exception {
        Class<?> c = Class.forName("net.openhft.chronicle.hash.VanillaGlobalMutableState$$Native");
        String where = c.getProtectionDomain().getCodeSource().getLocation().toString();
        assertEquals(true, where.contains("conntrack"), "loaded from " + where);
    }
}
