package dev.ferry.dns;

import static org.junit.jupiter.api.Assertions.fail;

import dev.ferry.testkit.KernelTestPolicy;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real {@code dig} (dnsutils) against a server on loopback and parses what it printed:
 * status, header flags, counts and the records of each section. Missing dig skips the test, or
 * fails it when CI=true.
 */
final class Dig {
    private static final long DEADLINE_SECONDS = 15;

    /** One parsed answer. */
    record Result(String status, List<String> flags, int answerCount, List<String[]> answer, List<String[]> authority,
                  List<String[]> additional, String raw) {
        boolean hasFlag(String f) {
            return flags.contains(f);
        }

        /** The rdata (fields after the type) of answer records of a type, joined by spaces. */
        List<String> answers(String type) {
            List<String> out = new ArrayList<>();
            for (String[] r : answer) {
                if (r[3].equals(type)) out.add(String.join(" ", java.util.Arrays.copyOfRange(r, 4, r.length)));
            }
            return out;
        }

        @Override
        public String toString() {
            return raw;
        }
    }

    private Dig() {}

    static void requireDig() {
        KernelTestPolicy.requireTools("the DNS tests that use dig (apt-get install dnsutils)", "dig");
    }

    static Result query(int port, String name, String type, String... options) {
        List<String> cmd = new ArrayList<>(List.of("dig", "@127.0.0.1", "-p", Integer.toString(port), name, type,
                "+tries=1", "+time=3", "+nostats"));
        cmd.addAll(List.of(options));
        return run(cmd);
    }

    static Result run(List<String> cmd) {
        return parse(output(cmd));
    }

    /** What dig printed, unparsed (for when it may print no answer at all). */
    static String output(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            if (!p.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail("dig did not finish within " + DEADLINE_SECONDS + " s: " + cmd);
            }
            return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AssertionError("cannot run " + cmd + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    static Result parse(String out) {
        String status = null;
        List<String> flags = new ArrayList<>();
        int answers = -1;
        List<String[]> answer = new ArrayList<>(), authority = new ArrayList<>(), additional = new ArrayList<>();
        List<String[]> section = null;
        for (String line : out.split("\n")) {
            if (line.startsWith(";; ->>HEADER<<-")) {
                int s = line.indexOf("status: ");
                status = line.substring(s + 8, line.indexOf(',', s));
            } else if (line.startsWith(";; flags:")) {
                String f = line.substring(9, line.indexOf(';', 9)).trim();
                flags = List.of(f.split(" "));
                int a = line.indexOf("ANSWER: ");
                answers = Integer.parseInt(line.substring(a + 8, line.indexOf(',', a)));
            } else if (line.startsWith(";; ANSWER SECTION:")) {
                section = answer;
            } else if (line.startsWith(";; AUTHORITY SECTION:")) {
                section = authority;
            } else if (line.startsWith(";; ADDITIONAL SECTION:")) {
                section = additional;
            } else if (line.isBlank() || line.startsWith(";")) {
                section = null;
            } else if (section != null) {
                section.add(line.trim().split("\\s+"));
            }
        }
        if (status == null) {
            throw new AssertionError("dig printed no answer header:\n" + out);
        }
        return new Result(status, flags, answers, answer, authority, additional, out);
    }
}
