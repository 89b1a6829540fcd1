package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The io_uring/epoll/NIO choice is made by {@link Transport} alone: no other main source asks Netty
 * what the kernel offers or builds an event loop group of its own, so the proxy and the DNS
 * responder cannot disagree or log different fallbacks.
 */
class TransportChoiceInOnePlaceTest {
    private static final Pattern ASKS_NETTY = Pattern.compile(
            "\\b(Epoll|IoUring|KQueue)\\.(isAvailable|ensureAvailability|unavailabilityCause)\\b"
                    + "|\\b(EpollIoHandler|IoUringIoHandler|NioIoHandler)\\.newFactory\\b|new MultiThreadIoEventLoopGroup\\b");

    @Test
    void noMainSourceOutsideTransportChoosesATransport() throws IOException {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.exists(root.resolve("pom.xml")) || Files.exists(root.getParent().resolve("pom.xml"))) {
            root = root.getParent();
        }
        List<String> offenders = new ArrayList<>();
        int scanned = 0;
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))
                    .filter(p -> p.toString().contains("/src/main/java/"))::iterator) {
                scanned++;
                if (f.getFileName().toString().equals("Transport.java")) {
                    continue;
                }
                List<String> lines = Files.readAllLines(f);
                for (int i = 0; i < lines.size(); i++) {
                    if (ASKS_NETTY.matcher(lines.get(i)).find()) {
                        offenders.add(root.relativize(f) + ":" + (i + 1) + ": " + lines.get(i).strip());
                    }
                }
            }
        }
        assertTrue(scanned > 100, "scanned the reactor's main sources from " + root + " (" + scanned + " files)");
        assertEquals(List.of(), offenders, "ask dev.ferry.proxy.Transport instead");
    }
}
