package dev.ferry.bench.fault;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The fault harness's backend pod, run inside the backend namespace: a TCP server that answers
 * every request line with "ok\n" and closes, and a UDP echo server (the flood's target). Runs
 * until killed.
 *
 * <p>Usage: {@code Backend ADDRESS TCP_PORT UDP_PORT}
 */
public final class Backend {
    private Backend() {}

    public static void main(String[] args) throws Exception {
        String address = args[0];
        int tcpPort = Integer.parseInt(args[1]);
        int udpPort = Integer.parseInt(args[2]);
        Thread udp = new Thread(() -> echo(new InetSocketAddress(address, udpPort)), "udp-echo");
        udp.setDaemon(true);
        udp.start();
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try (ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(address, tcpPort), 1024);
            System.out.println("backend listening on " + address + ":" + tcpPort + "/tcp and :" + udpPort + "/udp");
            System.out.flush();
            while (true) {
                Socket s = server.accept();
                pool.execute(() -> answer(s));
            }
        }
    }

    private static void answer(Socket s) {
        try (s) {
            s.setSoTimeout(5_000);
            InputStream in = s.getInputStream();
            for (int b = in.read(), n = 0; b >= 0 && b != '\n' && n < 1024; b = in.read(), n++) {
                // read one request line
            }
            OutputStream out = s.getOutputStream();
            out.write("ok\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        } catch (Exception e) {
            // a client that went away: nothing to answer
        }
    }

    private static void echo(InetSocketAddress at) {
        try (DatagramChannel ch = DatagramChannel.open()) {
            ch.bind(at);
            ByteBuffer buf = ByteBuffer.allocate(2048);
            while (true) {
                buf.clear();
                var from = ch.receive(buf);
                buf.flip();
                ch.send(buf, from);
            }
        } catch (Exception e) {
            System.err.println("udp echo stopped: " + e);
        }
    }
}
