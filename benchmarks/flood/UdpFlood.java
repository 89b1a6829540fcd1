// UDP flood against `ferry run --mode userspace` (issue 13, finding 2): RATE new client flows per
// second (each datagram from a fresh source port, spread over CLIENTS client addresses) toward a UDP
// ClusterIP for SECONDS, while a TCP ClusterIP of the same daemon is requested every 50 ms and
// /healthz is asked every second. Reports the daemon's peak RSS and descriptors (from /proc/PID),
// the TCP requests sent/failed and the longest gap, /healthz answers, then whether descriptors come
// back down once the flows idle out (30 s). Starts the daemon itself; run it through run.sh, which
// puts all of it in a network namespace of its own. JDK only (single-file source launch).
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

public class UdpFlood {
    static final String UDP_IP = "10.96.0.10";
    static final String TCP_IP = "10.96.0.20";

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        Path work = Path.of(args[1]);
        int rate = Integer.parseInt(args[2]);
        int seconds = Integer.parseInt(args[3]);
        int clients = Integer.parseInt(args[4]);
        String transport = args[5];
        Files.createDirectories(work);
        startBackends();
        Path src = work.resolve("services.yaml");
        Files.writeString(src, services());
        List<String> cmd = new ArrayList<>(List.of(root.resolve("ferry").toString(), "run", "--mode", "userspace",
                "--source", src.toString(), "--state-dir", work.resolve("state").toString(), "--node-name", "bench",
                "--proxy-transport", transport, "--healthz-bind-address", "127.0.0.1:10256",
                "--metrics-bind-address", "127.0.0.1:10249"));
        Process ferry = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(work.resolve("ferry.log").toFile()).start();
        long pid = ferry.pid();
        try {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!tcpOk() && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            if (!tcpOk()) {
                throw new IllegalStateException("the daemon does not serve " + TCP_IP + ":80; see " + work.resolve("ferry.log"));
            }
            Thread.sleep(2000);
            System.out.printf("daemon %d on %s, fd limit %s; baseline RSS %d MB, fds %d%n", pid, transport,
                    fdLimit(pid), rssKb(pid) / 1024, fds(pid));
            Stats s = new Stats();
            Thread sampler = new Thread(() -> sample(pid, s), "sampler");
            sampler.setDaemon(true);
            sampler.start();
            Thread tcp = new Thread(() -> probeTcp(s), "tcp-probe");
            tcp.setDaemon(true);
            tcp.start();
            AtomicLong sent = new AtomicLong();
            AtomicLong sendErrors = new AtomicLong();
            List<Thread> floods = new ArrayList<>();
            long start = System.nanoTime();
            for (int c = 0; c < clients; c++) {
                InetAddress from = InetAddress.getByName("127.0.1." + (c + 1));
                double perThread = (double) rate / clients;
                Thread t = new Thread(() -> flood(from, perThread, seconds, start, sent, sendErrors), "flood-" + c);
                t.start();
                floods.add(t);
            }
            for (Thread t : floods) {
                t.join();
            }
            double took = (System.nanoTime() - start) / 1e9;
            System.out.printf("flood: %d datagrams from fresh ports in %.1f s (%.0f/s), %d send errors%n", sent.get(), took,
                    sent.get() / took, sendErrors.get());
            synchronized (s) {
                System.out.printf("during the flood: peak RSS %d MB, peak fds %d (%.1f%% of the limit), healthz %d x 200, %d other;"
                        + " TCP %d ok / %d failed, longest gap %d ms%n", s.peakRssKb / 1024, s.peakFds,
                        100.0 * s.peakFds / fdLimit(pid), s.health200, s.healthOther, s.tcpOk, s.tcpFailed, s.longestGapMs);
                s.reset();
            }
            Thread.sleep(45_000);
            synchronized (s) {
                System.out.printf("45 s after it: fds %d, RSS %d MB, healthz %d x 200, %d other; TCP %d ok / %d failed%n",
                        fds(pid), rssKb(pid) / 1024, s.health200, s.healthOther, s.tcpOk, s.tcpFailed);
            }
            System.out.println(metrics());
        } finally {
            ferry.destroy();
            ferry.waitFor();
        }
    }

    static final class Stats {
        long peakRssKb;
        int peakFds;
        int health200;
        int healthOther;
        long tcpOk;
        long tcpFailed;
        long longestGapMs;
        long lastOk = System.nanoTime();

        void reset() {
            peakRssKb = 0;
            peakFds = 0;
            health200 = 0;
            healthOther = 0;
            tcpOk = 0;
            tcpFailed = 0;
            longestGapMs = 0;
        }
    }

    static void flood(InetAddress from, double perSecond, int seconds, long start, AtomicLong sent, AtomicLong errors) {
        ByteBuffer q = ByteBuffer.wrap("flood".getBytes(StandardCharsets.UTF_8));
        InetSocketAddress to = new InetSocketAddress(UDP_IP, 53);
        long end = start + seconds * 1_000_000_000L;
        long n = 0;
        while (true) {
            long due = start + (long) (n / perSecond * 1e9);
            if (due >= end) {
                return;
            }
            long wait = due - System.nanoTime();
            if (wait > 200_000) {
                java.util.concurrent.locks.LockSupport.parkNanos(wait);
            }
            try (DatagramChannel ch = DatagramChannel.open()) {
                ch.bind(new InetSocketAddress(from, 0));
                ch.send(q.rewind(), to);
                sent.incrementAndGet();
            } catch (Exception e) {
                errors.incrementAndGet();
            }
            n++;
        }
    }

    static void sample(long pid, Stats s) {
        while (true) {
            long rss = rssKb(pid);
            int fds = fds(pid);
            int code = healthz();
            synchronized (s) {
                s.peakRssKb = Math.max(s.peakRssKb, rss);
                s.peakFds = Math.max(s.peakFds, fds);
                if (code == 200) {
                    s.health200++;
                } else {
                    s.healthOther++;
                }
            }
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    static void probeTcp(Stats s) {
        while (true) {
            boolean ok = tcpOk();
            long now = System.nanoTime();
            synchronized (s) {
                if (ok) {
                    s.tcpOk++;
                    s.longestGapMs = Math.max(s.longestGapMs, (now - s.lastOk) / 1_000_000);
                    s.lastOk = now;
                } else {
                    s.tcpFailed++;
                }
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    static boolean tcpOk() {
        try (Socket c = new Socket()) {
            c.connect(new InetSocketAddress(TCP_IP, 80), 2000);
            c.setSoTimeout(2000);
            return "ok".equals(new BufferedReader(new InputStreamReader(c.getInputStream(), StandardCharsets.UTF_8)).readLine());
        } catch (Exception e) {
            return false;
        }
    }

    static int healthz() {
        try {
            HttpURLConnection c = (HttpURLConnection) new URL("http://127.0.0.1:10256/healthz").openConnection();
            c.setConnectTimeout(2000);
            c.setReadTimeout(2000);
            int code = c.getResponseCode();
            c.disconnect();
            return code;
        } catch (Exception e) {
            return -1;
        }
    }

    static String metrics() {
        try (var in = new URL("http://127.0.0.1:10249/metrics").openStream()) {
            StringBuilder b = new StringBuilder();
            for (String l : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (l.startsWith("ferry_userspace_") || l.startsWith("ferry_process_")) {
                    b.append(l).append('\n');
                }
            }
            return b.length() == 0 ? "(no ferry_userspace_* metrics)" : b.toString();
        } catch (Exception e) {
            return "(no metrics: " + e + ")";
        }
    }

    static long rssKb(long pid) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (l.startsWith("VmRSS:")) {
                    return Long.parseLong(l.replaceAll("[^0-9]", ""));
                }
            }
        } catch (Exception e) {
            // gone
        }
        return 0;
    }

    static int fds(long pid) {
        String[] l = new java.io.File("/proc/" + pid + "/fd").list();
        return l == null ? 0 : l.length;
    }

    static long fdLimit(long pid) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/limits"))) {
                if (l.startsWith("Max open files")) {
                    return Long.parseLong(l.split("\\s+")[3]);
                }
            }
        } catch (Exception e) {
            // gone
        }
        return -1;
    }

    /** A UDP echo on 127.0.0.1:9053 and a TCP server on 127.0.0.1:9080 that says "ok". */
    static void startBackends() throws Exception {
        DatagramChannel udp = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 9053));
        Thread u = new Thread(() -> {
            ByteBuffer b = ByteBuffer.allocate(2048);
            while (true) {
                try {
                    b.clear();
                    var from = udp.receive(b);
                    b.flip();
                    udp.send(b, from);
                } catch (Exception e) {
                    return;
                }
            }
        }, "udp-echo");
        u.setDaemon(true);
        u.start();
        ServerSocket tcp = new ServerSocket();
        tcp.bind(new InetSocketAddress("127.0.0.1", 9080), 1024);
        Thread t = new Thread(() -> {
            while (true) {
                try (Socket s = tcp.accept()) {
                    s.getOutputStream().write("ok\n".getBytes(StandardCharsets.UTF_8));
                } catch (Exception e) {
                    return;
                }
            }
        }, "tcp-ok");
        t.setDaemon(true);
        t.start();
    }

    static String services() {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: dns, namespace: bench}
                spec:
                  clusterIP: %s
                  ports: [{name: dns, port: 53, protocol: UDP, targetPort: 9053}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: dns-1, namespace: bench, labels: {kubernetes.io/service-name: dns}}
                addressType: IPv4
                ports: [{name: dns, port: 9053, protocol: UDP}]
                endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: bench}
                spec:
                  clusterIP: %s
                  ports: [{name: http, port: 80, protocol: TCP, targetPort: 9080}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-1, namespace: bench, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 9080, protocol: TCP}]
                endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
                """.formatted(UDP_IP, TCP_IP);
    }
}
