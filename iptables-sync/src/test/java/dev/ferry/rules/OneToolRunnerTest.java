package dev.ferry.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every run-to-completion call of a kernel tool in Ferry's main code goes through {@link KernelTool}
 * (bounded output, a deadline, errors naming the command). The one other process is
 * {@code InterfaceWatch}'s {@code ip monitor}, which streams for the daemon's lifetime and never
 * completes. Benchmarks, end-to-end harnesses and the test kit (namespace helpers for tests) are not
 * what Ferry runs and are not scanned.
 */
class OneToolRunnerTest {
    private static final Set<String> ALLOWED = Set.of("KernelTool.java", "InterfaceWatch.java");
    private static final Set<String> NOT_FERRY = Set.of("benchmarks", "e2e", "test-kit");

    @Test
    void noMainSourceStartsAProcessOutsideKernelTool() throws IOException {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.exists(root.resolve("pom.xml")) || Files.exists(root.getParent().resolve("pom.xml"))) {
            root = root.getParent();
        }
        Path reactor = root;
        List<String> offenders = new ArrayList<>();
        int scanned = 0;
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))
                    .filter(p -> p.toString().contains("/src/main/java/"))
                    .filter(p -> !NOT_FERRY.contains(reactor.relativize(p).getName(0).toString()))::iterator) {
                scanned++;
                if (ALLOWED.contains(f.getFileName().toString())) {
                    continue;
                }
                List<String> lines = Files.readAllLines(f);
                for (int i = 0; i < lines.size(); i++) {
                    String l = lines.get(i);
                    if (l.contains("new ProcessBuilder(") || l.contains("Runtime.getRuntime().exec(")) {
                        offenders.add(root.relativize(f) + ":" + (i + 1) + ": " + l.strip());
                    }
                }
            }
        }
        assertTrue(scanned > 100, "scanned the reactor's main sources from " + root + " (" + scanned + " files)");
        assertEquals(List.of(), offenders, "run kernel tools through dev.ferry.rules.KernelTool");
    }
}
