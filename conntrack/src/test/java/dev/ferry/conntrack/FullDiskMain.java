package dev.ferry.conntrack;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.stream.Stream;

/**
 * For {@link FullDiskTest}, in a child JVM on a small filesystem mounted at args[0]: creates
 * conntrack state in {@code used}, fills the filesystem, then opens {@code used} again and a new
 * state in {@code fresh}, printing for each "NAME opened: N flows" or "NAME refused: MESSAGE",
 * then the entries of {@code used}, one per line.
 */
public final class FullDiskMain {
    private FullDiskMain() {}

    static final ConntrackConfig SMALL = new ConntrackConfig(1024, 1024, 1024, Duration.ofSeconds(30), Duration.ofDays(5),
            Duration.ofSeconds(600), Duration.ofMillis(AffinityTable.DEFAULT_TIMEOUT_MILLIS));

    public static void main(String[] args) throws IOException {
        Path root = Path.of(args[0]);
        Path used = root.resolve("used");
        try (ConntrackState s = ConntrackState.open(used, SMALL)) {
            FillStateDir.fill(s, 100, System.currentTimeMillis());
        }
        byte[] chunk = new byte[4096];
        try (OutputStream out = Files.newOutputStream(root.resolve("filler"), StandardOpenOption.CREATE_NEW)) {
            while (true) {
                out.write(chunk);
                out.flush();
            }
        } catch (IOException full) {
            System.out.println("filled: " + full.getMessage());
        }
        open("used", used);
        open("fresh", root.resolve("fresh"));
        try (Stream<Path> l = Files.list(used)) {
            l.map(p -> p.getFileName().toString()).sorted().forEach(System.out::println);
        }
    }

    private static void open(String name, Path dir) {
        try (ConntrackState s = ConntrackState.open(dir, SMALL)) {
            System.out.println(name + " opened: " + s.flows().entries() + " flows");
        } catch (UncheckedIOException e) {
            System.out.println(name + " refused: " + e.getCause().getMessage());
        }
    }
}
