package dev.ferry.daemon.config;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.function.Function;

/**
 * Which node this daemon serves, decided as kube-proxy decides it: {@code --node-name}, else the
 * {@code NODE_NAME} environment variable (the DaemonSet sets it from the downward API), else the
 * config's {@code hostnameOverride}, else the host name; trimmed and lower-cased like kube-proxy's
 * GetHostname. Stateless.
 */
public final class NodeName {
    private NodeName() {}

    public static String resolve(String flag, Function<String, String> env, ProxyConfig config) {
        for (String candidate : new String[] {flag, env.apply("NODE_NAME"), config.hostnameOverride()}) {
            if (candidate != null && !candidate.isBlank()) {
                return candidate.trim().toLowerCase(Locale.ROOT);
            }
        }
        return hostname();
    }

    static String hostname() {
        try {
            return InetAddress.getLocalHost().getHostName().trim().toLowerCase(Locale.ROOT);
        } catch (UnknownHostException e) {
            String h = System.getenv("HOSTNAME");
            return h == null ? "localhost" : h.trim().toLowerCase(Locale.ROOT);
        }
    }
}
