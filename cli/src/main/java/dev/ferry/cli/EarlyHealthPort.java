package dev.ferry.cli;

import dev.ferry.daemon.config.BindAddress;
import dev.ferry.daemon.config.KubeProxyConfigReader;
import dev.ferry.daemon.config.ProxyConfig;
import dev.ferry.daemon.config.ProxyMode;
import dev.ferry.daemon.http.HealthServer;
import dev.ferry.daemon.http.ProxierHealth;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * `ferry run`'s health port, bound before anything else of the daemon: from the process's first
 * milliseconds a probe is answered instead of refused while the JVM builds its command line
 * (~0.2-1 s) — in the rule modes the previous run's rules serve all that time. Until the daemon
 * hands over its own health, probes get what it would answer at that point of its start: in a rule
 * mode 200 (nothing is pending yet; the previous run's rules serve), in userspace mode 503
 * "starting". The address and the mode are found from the raw arguments as picocli would
 * (--healthz-bind-address / --mode, --demo, else the --config file's, else the defaults);
 * {@link dev.ferry.daemon.http.StatusServers} takes the server over only when the full configuration
 * names the same address, and closes it otherwise. Anything unusual (help, an @argument file, a
 * config that does not read, an unknown mode) binds nothing early: start-up then binds as before.
 *
 * <p>Thread-safe: {@link #open} runs once, from main; {@link #take} from the run command.
 */
final class EarlyHealthPort {
    /** How long `run` waits for the early bind to finish (it is done in a few ms unless the machine is swamped). */
    private static final long TAKE_WAIT_MILLIS = 2_000;
    private static volatile CompletableFuture<HealthServer> early;

    private EarlyHealthPort() {}

    /** For {@code ferry run ...}: starts binding the health port on a thread of its own; otherwise nothing. */
    static void open(String[] args) {
        Guess guess = guess(args);
        if (guess == null) {
            return;
        }
        CompletableFuture<HealthServer> f = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                Plan p = guess.resolve();
                f.complete(HealthServer.bindEarly(p.address(), p.provisionalHealth()));
            } catch (Exception | Error e) {
                f.complete(null); // e.g. the port is taken: start-up binds it (and logs, and retries) as before
            }
        }, "ferry-healthz-early");
        t.setDaemon(true);
        t.start();
        early = f;
    }

    /** The early server (once: later calls get null), or null when there is none. */
    static HealthServer take() {
        CompletableFuture<HealthServer> f = early;
        early = null;
        if (f == null) {
            return null;
        }
        try {
            return f.get(TAKE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // Too slow to matter now: a late bind is closed as soon as it completes, start-up binds its own.
            f.thenAccept(s -> {
                if (s != null) {
                    s.close();
                }
            });
            return null;
        }
    }

    /** Where `run` will serve /healthz and in which mode, as far as the raw arguments tell. */
    record Plan(BindAddress address, ProxyMode mode, boolean demo, Duration healthTimeout) {
        boolean userspace() {
            return dev.ferry.daemon.NodeAgent.kindOf(mode, demo) == dev.ferry.daemon.plane.DataPlane.Kind.USERSPACE;
        }

        /** What the daemon's health says at the start: fresh, and for the userspace proxy "starting" (as RunCommand sets it). */
        ProxierHealth provisionalHealth() {
            ProxierHealth h = new ProxierHealth(healthTimeout, System::currentTimeMillis);
            if (userspace()) {
                h.requireForServing("starting", () -> "the userspace proxy binds its listeners after the source's first"
                        + " table write; the daemon is still reading its configuration");
            }
            return h;
        }
    }

    /** Resolved on the early thread (it may read the --config file). */
    interface Guess {
        Plan resolve() throws Exception;
    }

    /** Null when {@code args} is not a plain `ferry run` whose health address and mode the raw arguments settle. */
    static Guess guess(String[] args) {
        if (args.length == 0 || !args[0].equals("run")) {
            return null;
        }
        String flag = null;
        String config = null;
        String modeFlag = null;
        boolean demo = false;
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (a.startsWith("@") || a.equals("-h") || a.equals("--help") || a.equals("-V") || a.equals("--version")
                    || a.equals("--")) {
                return null;
            }
            String[] kv = a.split("=", 2);
            String value = kv.length == 2 ? kv[1] : i + 1 < args.length ? args[i + 1] : null;
            switch (kv[0]) {
                case "--healthz-bind-address" -> flag = value;
                case "--config" -> config = value;
                case "--mode" -> modeFlag = value;
                case "--demo" -> demo = kv.length == 1 || Boolean.parseBoolean(kv[1]);
                default -> { }
            }
        }
        String f = flag;
        String c = config;
        String m = modeFlag;
        boolean d = demo;
        return () -> {
            ProxyConfig cfg = ProxyConfig.defaults();
            if (c != null) {
                cfg = KubeProxyConfigReader.read(Path.of(c)).config();
            }
            ProxyMode mode = m != null ? ProxyMode.named(m) : cfg.mode();
            BindAddress address = f != null ? BindAddress.parse(f, ProxyConfig.HEALTHZ_PORT)
                    : d ? BindAddress.parse("127.0.0.1:" + ProxyConfig.HEALTHZ_PORT, ProxyConfig.HEALTHZ_PORT)
                    : cfg.healthzBindAddress();
            return new Plan(address, mode, d, cfg.healthTimeout());
        };
    }
}
