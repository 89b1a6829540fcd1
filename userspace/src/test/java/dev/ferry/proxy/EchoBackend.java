package dev.ferry.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A test backend: over TCP it greets each connection with "{@code name}\n" and then echoes; with
 * {@code readsProxyHeader} it first reads a PROXY v2 header and greets with "name from ip:port\n".
 * Over UDP it answers each datagram with "name:" + payload. Also usable as a child-process main:
 * {@code EchoBackend NAME IP PORT}.
 */
final class EchoBackend implements AutoCloseable {
    final String name;
    final ServerSocket tcp;
    final DatagramSocket udp;
    final boolean readsProxyHeader;
    final List<Socket> open = new CopyOnWriteArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "echo-backend");
        t.setDaemon(true);
        return t;
    });

    EchoBackend(String name, InetAddress address, int port, boolean readsProxyHeader) throws IOException {
        this.name = name;
        this.readsProxyHeader = readsProxyHeader;
        tcp = new ServerSocket();
        tcp.setReuseAddress(true);
        tcp.bind(new InetSocketAddress(address, port), 512);
        udp = new DatagramSocket(new InetSocketAddress(address, tcp.getLocalPort()));
        pool.execute(this::acceptLoop);
        pool.execute(this::udpLoop);
    }

    static EchoBackend loopback(String name) throws IOException {
        return new EchoBackend(name, InetAddress.getLoopbackAddress(), 0, false);
    }

    int port() {
        return tcp.getLocalPort();
    }

    private void acceptLoop() {
        while (!tcp.isClosed()) {
            try {
                Socket s = tcp.accept();
                open.add(s);
                pool.execute(() -> serve(s));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
            String greeting = name;
            if (readsProxyHeader) {
                greeting = name + " from " + readProxyHeader(in);
            }
            out.write((greeting + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            byte[] buf = new byte[16384];
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // the client went away
        } finally {
            open.remove(s);
        }
    }

    /** Reads a v2 header and returns "ip:port" of the source, or "bad-header:" + why. */
    static String readProxyHeader(InputStream in) throws IOException {
        byte[] fixed = in.readNBytes(16);
        for (int i = 0; i < 12; i++) {
            if (fixed.length < 16 || fixed[i] != ProxyProtocolV2.SIGNATURE[i]) {
                return "bad-header:signature";
            }
        }
        if ((fixed[12] & 0xff) != 0x21) {
            return "bad-header:version " + (fixed[12] & 0xff);
        }
        int len = ((fixed[14] & 0xff) << 8) | (fixed[15] & 0xff);
        byte[] body = in.readNBytes(len);
        if ((fixed[13] & 0xff) == 0x11 && len >= 12) {
            InetAddress src = InetAddress.getByAddress(java.util.Arrays.copyOfRange(body, 0, 4));
            int port = ((body[8] & 0xff) << 8) | (body[9] & 0xff);
            return src.getHostAddress() + ":" + port;
        }
        return "bad-header:family " + (fixed[13] & 0xff);
    }

    private void udpLoop() {
        byte[] buf = new byte[2048];
        while (!udp.isClosed()) {
            try {
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                udp.receive(p);
                byte[] reply = (name + ":" + new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8))
                        .getBytes(StandardCharsets.UTF_8);
                udp.send(new DatagramPacket(reply, reply.length, p.getSocketAddress()));
            } catch (IOException e) {
                return;
            }
        }
    }

    /** Drops every open connection abruptly (a killed backend). */
    void killConnections() {
        for (Socket s : open) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    @Override
    public void close() throws IOException {
        tcp.close();
        udp.close();
        killConnections();
        pool.shutdownNow();
    }

    /**
     * Child-process main for namespace tests: NAME IP PORT [PROXY_HEADER_PORT]: a plain backend on
     * PORT (TCP and UDP) and, when given, one that reads a PROXY v2 header on the second port. Runs
     * until killed.
     */
    public static void main(String[] args) throws Exception {
        InetAddress ip = InetAddress.getByName(args[1]);
        EchoBackend b = new EchoBackend(args[0], ip, Integer.parseInt(args[2]), false);
        if (args.length > 3) {
            new EchoBackend(args[0], ip, Integer.parseInt(args[3]), true);
        }
        System.out.println("ready " + b.port());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
