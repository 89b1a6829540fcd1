package dev.ferry.rules.ipvs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether this kernel can do IPVS: the ip_vs module is loaded (listed in /proc/modules) or built in
 * (/proc/net/ip_vs exists). Checked once at start-up of IPVS mode, so a kernel without it fails
 * with a clear message instead of a cryptic ipvsadm error at the first sync. Stateless.
 */
public final class IpvsSupport {
    private IpvsSupport() {}

    /** null when IPVS is usable; otherwise the reason, naming the missing module. */
    public static String check() {
        return check(Path.of("/proc"));
    }

    static String check(Path proc) {
        if (Files.exists(proc.resolve("net/ip_vs"))) {
            return null;
        }
        boolean listed = false;
        try {
            for (String line : Files.readAllLines(proc.resolve("modules"))) {
                if (line.startsWith("ip_vs ")) {
                    listed = true;
                    break;
                }
            }
        } catch (IOException e) {
            // no /proc/modules: a kernel without loadable modules, so ip_vs would have to be built in
        }
        if (listed) {
            return null;
        }
        return "IPVS mode needs the kernel module ip_vs, which this kernel does not have: " + proc.resolve("net/ip_vs")
                + " does not exist and " + proc.resolve("modules") + " lists no ip_vs. Load it (modprobe ip_vs "
                + "ip_vs_rr ip_vs_wrr ip_vs_sh) on the node, or run Ferry with --mode iptables or --mode nftables.";
    }

    /** Throws the start-up failure when IPVS is not usable. */
    public static void require() throws IpvsUnavailableException {
        String reason = check();
        if (reason != null) {
            throw new IpvsUnavailableException(reason);
        }
    }
}
