package dev.ferry.cli;

import dev.ferry.daemon.ShutdownWatchdog;

import java.util.concurrent.locks.LockSupport;

/**
 * For {@link ShutdownWatchdogTest}, in its own JVM: arms a watchdog (args[0] ms) and then hangs the
 * way a shutdown can — a non-daemon thread that never ends — so only the watchdog can end the JVM.
 */
public final class StuckShutdownMain {
    private StuckShutdownMain() {}

    public static void main(String[] args) throws InterruptedException {
        Logging.configure();
        ShutdownWatchdog watchdog = new ShutdownWatchdog(Long.parseLong(args[0]));
        watchdog.step("closing something that never returns");
        watchdog.arm();
        Thread stuck = new Thread(() -> {
            while (true) {
                LockSupport.park();
            }
        }, "stuck-non-daemon");
        stuck.start();
        stuck.join();
    }
}
