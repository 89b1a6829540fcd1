package dev.ferry.rules;

import com.sun.jna.Library;
import com.sun.jna.Native;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Reads the nf_tables ruleset generation of one network namespace: a number the kernel increments
 * with every committed nf_tables transaction (any table, any process: {@code nft -f}, iptables-nft,
 * a CNI plugin), asked with one {@code NFT_MSG_GETGEN} netlink request, a few microseconds and no
 * process. While it stays equal to the value read right after Ferry's last apply, nothing in the
 * namespace's nf_tables rules changed, so the periodic check needs no listing of the rules (which
 * takes 0.5–2 s of CPU at 10 000 services). It says nothing about iptables-legacy's tables.
 *
 * <p>The netlink socket is opened once, in the namespace of the {@link KernelTool} (the process's
 * own, or the named one of an {@code ip netns exec NAME} prefix, entered with setns(2) on a
 * short-lived thread: a socket keeps the namespace it was created in). JNA (already on the class
 * path through Chronicle) calls libc. Not thread-safe: one sync loop owns an instance.
 */
public final class RulesetGeneration implements AutoCloseable {
    private static final int AF_NETLINK = 16;
    private static final int SOCK_RAW = 3;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int NETLINK_NETFILTER = 12;
    private static final int NFT_MSG_GETGEN = (10 << 8) | 16;
    private static final int NFT_MSG_NEWGEN = (10 << 8) | 15;
    private static final int NLMSG_ERROR = 2;
    private static final int NLM_F_REQUEST = 1;
    private static final int NFTA_GEN_ID = 1;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int O_RDONLY_CLOEXEC = 0x80000;
    private static final int CLONE_NEWNET = 0x40000000;

    /** The libc calls used; JNA maps size_t/ssize_t to long on the 64-bit Linux Ferry runs on. */
    interface LibC extends Library {
        int socket(int domain, int type, int protocol);

        long send(int fd, byte[] buf, long len, int flags);

        long recv(int fd, byte[] buf, long len, int flags);

        int open(String path, int flags);

        int setns(int fd, int nstype);

        int close(int fd);
    }

    private static LibC libc;

    private final int fd;
    private final String where;
    private final byte[] reply = new byte[8192];
    private int seq;

    private RulesetGeneration(int fd, String where) {
        this.fd = fd;
        this.where = where;
    }

    private static synchronized LibC libc() {
        if (libc == null) {
            libc = Native.load("c", LibC.class);
        }
        return libc;
    }

    /**
     * A reader for the namespace tool runs its tools in: its own when the prefix is empty, NAME for
     * {@code ip netns exec NAME}. Throws (with the reason) when the socket cannot be opened or the
     * prefix names no namespace this can enter; the caller then checks the kernel the slow way.
     */
    public static RulesetGeneration forTool(KernelTool tool) throws IOException {
        List<String> p = tool.prefix();
        if (p.isEmpty()) {
            return open(null);
        }
        if (p.size() == 4 && p.get(0).equals("ip") && p.get(1).equals("netns") && p.get(2).equals("exec")) {
            return open(p.get(3));
        }
        throw new IOException("cannot read the nf_tables generation where " + String.join(" ", p) + " runs the tools");
    }

    /** A reader for the named network namespace (/run/netns/NAME), or for this process's when null. */
    public static RulesetGeneration open(String netns) throws IOException {
        LibC c;
        try {
            c = libc();
        } catch (LinkageError | RuntimeException e) {
            throw new IOException("cannot call libc through JNA: " + e, e);
        }
        String where = netns == null ? "this network namespace" : "network namespace " + netns;
        if (netns == null) {
            return new RulesetGeneration(socket(c, where), where);
        }
        int ns = c.open("/run/netns/" + netns, O_RDONLY_CLOEXEC);
        if (ns < 0) {
            throw new IOException("cannot open /run/netns/" + netns + " (errno " + Native.getLastError() + ")");
        }
        try {
            AtomicReference<Object> out = new AtomicReference<>();
            // setns changes only the calling thread's namespace: a thread of its own, which then ends.
            Thread t = new Thread(() -> {
                if (c.setns(ns, CLONE_NEWNET) != 0) {
                    out.set(new IOException("setns into " + netns + " failed (errno " + Native.getLastError() + ")"));
                    return;
                }
                try {
                    out.set(socket(c, where));
                } catch (IOException e) {
                    out.set(e);
                }
            }, "ferry-netns-" + netns);
            t.start();
            t.join();
            if (out.get() instanceof IOException e) {
                throw e;
            }
            return new RulesetGeneration((Integer) out.get(), where);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted entering " + netns, e);
        } finally {
            c.close(ns);
        }
    }

    private static int socket(LibC c, String where) throws IOException {
        int fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (fd < 0) {
            throw new IOException("cannot open a netfilter netlink socket in " + where + " (errno " + Native.getLastError() + ")");
        }
        return fd;
    }

    /** The current generation (an unsigned 32-bit counter, as a long). */
    public long read() throws IOException {
        LibC c = libc();
        int s = ++seq;
        ByteBuffer req = ByteBuffer.allocate(20).order(ByteOrder.nativeOrder());
        req.putInt(20).putShort((short) NFT_MSG_GETGEN).putShort((short) NLM_F_REQUEST).putInt(s).putInt(0);
        req.put((byte) 0).put((byte) 0).putShort((short) 0); // nfgenmsg: AF_UNSPEC, NFNETLINK_V0, res_id 0
        if (c.send(fd, req.array(), 20, 0) != 20) {
            throw new IOException("netlink GETGEN request failed in " + where + " (errno " + Native.getLastError() + ")");
        }
        // The kernel answers within send(); a few retries cover a reply still being queued.
        for (int attempt = 0; attempt < 200; attempt++) {
            long n = c.recv(fd, reply, reply.length, MSG_DONTWAIT);
            if (n < 0) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted reading the nf_tables generation", e);
                }
                continue;
            }
            ByteBuffer b = ByteBuffer.wrap(reply, 0, (int) n).order(ByteOrder.nativeOrder());
            int off = 0;
            while (off + 16 <= n) {
                int len = b.getInt(off);
                int type = b.getShort(off + 4) & 0xffff;
                int gotSeq = b.getInt(off + 8);
                if (len < 16 || off + len > n) {
                    break;
                }
                if (gotSeq == s && type == NLMSG_ERROR) {
                    throw new IOException("netlink GETGEN refused in " + where + " (error " + b.getInt(off + 16) + ")");
                }
                if (gotSeq == s && type == NFT_MSG_NEWGEN) {
                    int a = off + 20;
                    while (a + 4 <= off + len) {
                        int alen = b.getShort(a) & 0xffff;
                        int atype = b.getShort(a + 2) & 0x3fff;
                        if (alen < 4) {
                            break;
                        }
                        if (atype == NFTA_GEN_ID && alen >= 8) {
                            return Integer.toUnsignedLong(ByteBuffer.wrap(reply, a + 4, 4).order(ByteOrder.BIG_ENDIAN).getInt());
                        }
                        a += (alen + 3) & ~3;
                    }
                    throw new IOException("netlink GETGEN answer without a generation in " + where);
                }
                off += (len + 3) & ~3;
            }
        }
        throw new IOException("no answer to netlink GETGEN in " + where);
    }

    @Override
    public void close() {
        libc().close(fd);
    }
}
