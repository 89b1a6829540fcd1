package dev.ferry.bench.fault;

import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The fault harness's client pod, run inside the client namespace by {@link FaultHarness}: one TCP
 * request (connect, "ping\n", read "ok\n"; 1 s timeouts) every interval to the service, and once a
 * second a /healthz probe followed at once by its own request, reported as lines on stdout:
 *
 * <pre>
 * R millis 1|0 reason      one request: start time (epoch ms), ok or failed, why
 * H millis code 1|0        the healthz status (0: no answer) and whether that second's request succeeded
 * </pre>
 *
 * Exits when its stdin closes.
 */
public final class ClientAgent {
    private static final PrintStream OUT = System.out;
    private static final int TIMEOUT_MILLIS = 1_000;

    private ClientAgent() {}

    public static void main(String[] args) throws Exception {
        InetSocketAddress service = address(args[0]);
        InetSocketAddress healthz = address(args[1]);
        long intervalMillis = Long.parseLong(args[2]);
        ExecutorService requests = Executors.newCachedThreadPool(r -> daemon(r, "request"));
        ScheduledExecutorService ticks = Executors.newScheduledThreadPool(2, r -> daemon(r, "tick"));
        ticks.scheduleAtFixedRate(() -> requests.execute(() -> {
            long start = System.currentTimeMillis();
            String error = request(service);
            OUT.println("R " + start + " " + (error == null ? "1 -" : "0 " + error));
        }), 0, intervalMillis, TimeUnit.MILLISECONDS);
        long firstSecond = (System.currentTimeMillis() / 1000 + 1) * 1000;
        ticks.scheduleAtFixedRate(() -> requests.execute(() -> {
            long start = System.currentTimeMillis();
            int code = healthz(healthz);
            String error = request(service);
            OUT.println("H " + start + " " + code + " " + (error == null ? 1 : 0));
        }), firstSecond - System.currentTimeMillis(), 1000, TimeUnit.MILLISECONDS);
        OUT.println("ready");
        // Runs until its stdin closes (the harness quits or dies).
        while (System.in.read() >= 0) {
            // nothing to read: stdin only tells us the harness is still there
        }
        System.exit(0);
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    static InetSocketAddress address(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    /** Null when the service answered "ok", else a one-word reason. */
    static String request(InetSocketAddress service) {
        try (Socket s = new Socket()) {
            s.connect(service, TIMEOUT_MILLIS);
            s.setSoTimeout(TIMEOUT_MILLIS);
            s.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            byte[] b = in.readNBytes(3);
            return new String(b, StandardCharsets.US_ASCII).equals("ok\n") ? null : "bad-answer";
        } catch (java.net.SocketTimeoutException e) {
            return "timeout";
        } catch (java.net.ConnectException e) {
            String m = String.valueOf(e.getMessage()).toLowerCase();
            return m.contains("refused") ? "refused" : m.contains("unreachable") ? "unreachable" : "connect";
        } catch (Exception e) {
            return e.getClass().getSimpleName();
        }
    }

    /** The HTTP status of GET /healthz, 0 when nothing answered. */
    static int healthz(InetSocketAddress at) {
        try (Socket s = new Socket()) {
            s.connect(at, TIMEOUT_MILLIS);
            s.setSoTimeout(TIMEOUT_MILLIS);
            s.getOutputStream().write("GET /healthz HTTP/1.0\r\nHost: ferry\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String status = new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
            return status.startsWith("HTTP/") ? Integer.parseInt(status.substring(9, 12)) : 0;
        } catch (Exception e) {
            return 0;
        }
    }
}
