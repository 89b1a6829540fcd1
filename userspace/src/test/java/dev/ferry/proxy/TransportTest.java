package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** How a transport choice resolves, including the fallback when the native one is unavailable. */
class TransportTest {

    @Test
    void nioIsUsedWhenAskedFor() {
        Transport t = Transport.pick("nio");
        assertEquals("nio", t.name());
        assertEquals("asked for nio", t.why());
    }

    @Test
    void autoAndIoUringPickIoUringWhereTheKernelOffersIt() {
        String expected = io.netty.channel.uring.IoUring.isAvailable() ? "io_uring"
                : io.netty.channel.epoll.Epoll.isAvailable() ? "epoll" : "nio";
        assertEquals(expected, Transport.pick("auto").name());
        assertEquals(expected, Transport.pick("io_uring").name());
    }

    @Test
    void askingForIoUringWithoutNativeTransportsFallsBackAndSaysWhy() throws Exception {
        // Netty's switch that disables its native libraries makes io_uring (and epoll) unavailable in
        // a fresh JVM, as a kernel without io_uring would.
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(List.of(java.toString(), "-Dio.netty.transport.noNative=true",
                "-Xmx64m", "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                Probe.class.getName(), "io_uring", "auto"))
                .redirectErrorStream(true).start();
        String out;
        try {
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "probe JVM did not exit");
        } finally {
            p.destroyForcibly();
        }
        assertEquals(0, p.exitValue(), out);
        List<String> lines = out.lines().filter(l -> l.startsWith("transport ")).toList();
        assertEquals(2, lines.size(), out);
        for (String line : lines) {
            assertTrue(line.startsWith("transport nio io_uring unavailable: "), line);
            assertTrue(line.contains("epoll unavailable: "), line);
        }
    }

    @Test
    void anUnknownTransportIsRejectedByName() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> ProxyOptions.defaults().withTransport("uring"));
        assertTrue(e.getMessage().contains("got uring") && e.getMessage().contains("io_uring"), e.getMessage());
    }

    /** Prints the transport each choice resolves to in this JVM: "transport NAME WHY". */
    public static final class Probe {
        public static void main(String[] args) {
            for (String choice : args) {
                Transport t = Transport.pick(choice);
                System.out.println("transport " + t.name() + " " + t.why());
            }
        }
    }
}
