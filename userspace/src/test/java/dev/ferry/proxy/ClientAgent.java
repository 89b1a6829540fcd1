package dev.ferry.proxy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * The client of the namespace tests, run as a child JVM inside the client namespace: reads one
 * command per line on stdin and prints one result line, so that connect errors and their elapsed
 * time are measured on a real socket in that namespace.
 * <pre>
 * tcp IP PORT SRC|-            → ok GREETING | refused MS | reset MS | timeout MS | error TEXT
 * udp IP PORT SRC|- PAYLOAD    → ok REPLY FROM | timeout MS | error TEXT
 * hold ID IP PORT              → ok GREETING (keeps the connection open as ID)
 * ping ID TEXT                 → ok ECHO | error TEXT
 * close ID                     → ok
 * </pre>
 */
public final class ClientAgent {
    private static final int TIMEOUT_MS = 3000;

    private ClientAgent() {}

    public static void main(String[] args) throws IOException {
        Map<String, Socket> held = new HashMap<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("ready");
        String line;
        while ((line = in.readLine()) != null) {
            String[] a = line.trim().split(" ");
            String out;
            try {
                out = switch (a[0]) {
                    case "tcp" -> tcp(a[1], Integer.parseInt(a[2]), a[3]);
                    case "udp" -> udp(a[1], Integer.parseInt(a[2]), a[3], a[4]);
                    case "hold" -> hold(held, a[1], a[2], Integer.parseInt(a[3]));
                    case "ping" -> ping(held.get(a[1]), a[2]);
                    case "close" -> {
                        Socket s = held.remove(a[1]);
                        if (s != null) {
                            s.close();
                        }
                        yield "ok";
                    }
                    default -> "error unknown command " + a[0];
                };
            } catch (Exception e) {
                out = "error " + e;
            }
            System.out.println(out);
            System.out.flush();
        }
    }

    private static String tcp(String ip, int port, String src) {
        long start = System.nanoTime();
        try (Socket s = new Socket()) {
            s.setSoTimeout(TIMEOUT_MS);
            if (!src.equals("-")) {
                s.bind(new InetSocketAddress(InetAddress.getByName(src), 0));
            }
            s.connect(new InetSocketAddress(InetAddress.getByName(ip), port), TIMEOUT_MS);
            String greeting = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
            return greeting == null ? "reset " + ms(start) : "ok " + greeting;
        } catch (ConnectException e) {
            return (e.getMessage() != null && e.getMessage().contains("refused") ? "refused " : "error-connect ")
                    + ms(start) + " " + e.getMessage();
        } catch (SocketTimeoutException e) {
            return "timeout " + ms(start);
        } catch (SocketException e) {
            return "reset " + ms(start) + " " + e.getMessage();
        } catch (IOException e) {
            return "error " + e;
        }
    }

    private static String udp(String ip, int port, String src, String payload) throws IOException {
        long start = System.nanoTime();
        InetSocketAddress local = new InetSocketAddress(src.equals("-") ? null : InetAddress.getByName(src), 0);
        try (DatagramSocket s = new DatagramSocket(local)) {
            s.setSoTimeout(TIMEOUT_MS);
            byte[] q = payload.getBytes(StandardCharsets.UTF_8);
            s.send(new DatagramPacket(q, q.length, new InetSocketAddress(InetAddress.getByName(ip), port)));
            DatagramPacket r = new DatagramPacket(new byte[1500], 1500);
            s.receive(r);
            return "ok " + new String(r.getData(), 0, r.getLength(), StandardCharsets.UTF_8) + " "
                    + r.getAddress().getHostAddress() + ":" + r.getPort();
        } catch (SocketTimeoutException e) {
            return "timeout " + ms(start);
        }
    }

    private static String hold(Map<String, Socket> held, String id, String ip, int port) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(TIMEOUT_MS);
        s.connect(new InetSocketAddress(InetAddress.getByName(ip), port), TIMEOUT_MS);
        held.put(id, s);
        return "ok " + readLine(s);
    }

    private static String ping(Socket s, String text) throws IOException {
        if (s == null) {
            return "error no such connection";
        }
        s.getOutputStream().write((text + "\n").getBytes(StandardCharsets.UTF_8));
        s.getOutputStream().flush();
        String back = readLine(s);
        return back == null ? "error closed" : "ok " + back;
    }

    /** Reads one line byte by byte (no buffering past it, so later reads on the socket see the rest). */
    private static String readLine(Socket s) throws IOException {
        StringBuilder sb = new StringBuilder();
        var in = s.getInputStream();
        for (int i = 0; i < 4096; i++) {
            int c = in.read();
            if (c < 0) {
                return sb.length() == 0 ? null : sb.toString();
            }
            if (c == '\n') {
                return sb.toString();
            }
            sb.append((char) c);
        }
        return sb.toString();
    }

    private static long ms(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }
}
