package dev.ferry.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs a command with a deadline; stdout and stderr together. */
final class Sh {
    private Sh() {}

    record Result(int code, String out) {}

    /** Exit code and output; the process is killed after timeoutSeconds (code -1). */
    static Result exec(Map<String, String> env, int timeoutSeconds, List<String> argv) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(
                new java.io.File("/dev/null")));
        pb.environment().putAll(env);
        Process p = pb.start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "<" + e + ">";
            }
        });
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
            return new Result(-1, out.getNow("") + "\n<killed after " + timeoutSeconds + " s>");
        }
        return new Result(p.exitValue(), out.join());
    }

    /** Output of argv; fails naming the command, its exit code and output when it does not exit 0. */
    static String run(Map<String, String> env, int timeoutSeconds, String... argv) throws IOException, InterruptedException {
        Result r = exec(env, timeoutSeconds, List.of(argv));
        if (r.code() != 0) {
            throw new AssertionError(String.join(" ", argv) + " exited " + r.code() + ":\n" + r.out());
        }
        return r.out();
    }
}
