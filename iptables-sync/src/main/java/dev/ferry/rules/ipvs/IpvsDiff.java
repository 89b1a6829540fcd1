package dev.ferry.rules.ipvs;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The ipvsadm -R input that turns the kernel's table (as {@code ipvsadm -S -n} prints it) into the
 * desired one: virtual servers that are gone are deleted (-D), changed ones edited (-E), new ones
 * added (-A); real servers likewise (-d / -e / -a). Unchanged entries produce no line, so their
 * connections are untouched. Pure; thread-safe.
 */
final class IpvsDiff {
    private IpvsDiff() {}

    static String between(String current, String desired) {
        Map<String, String> curVs = new LinkedHashMap<>(), wantVs = new LinkedHashMap<>();
        Map<String, String> curRs = new LinkedHashMap<>(), wantRs = new LinkedHashMap<>();
        parse(current, curVs, curRs);
        parse(desired, wantVs, wantRs);
        StringBuilder b = new StringBuilder();
        for (var e : curRs.entrySet()) {
            if (!wantRs.containsKey(e.getKey()) && wantVs.containsKey(vsOf(e.getKey()))) {
                b.append("-d ").append(e.getKey()).append('\n');
            }
        }
        for (var e : curVs.entrySet()) {
            if (!wantVs.containsKey(e.getKey())) {
                b.append("-D ").append(e.getKey()).append('\n'); // takes its real servers with it
            }
        }
        for (var e : wantVs.entrySet()) {
            String have = curVs.get(e.getKey());
            if (have == null) {
                b.append("-A ").append(e.getKey()).append(e.getValue()).append('\n');
            } else if (!have.equals(e.getValue())) {
                b.append("-E ").append(e.getKey()).append(e.getValue()).append('\n');
            }
        }
        for (var e : wantRs.entrySet()) {
            String have = curRs.get(e.getKey());
            if (have == null) {
                b.append("-a ").append(e.getKey()).append(e.getValue()).append('\n');
            } else if (!have.equals(e.getValue())) {
                b.append("-e ").append(e.getKey()).append(e.getValue()).append('\n');
            }
        }
        return b.toString();
    }

    /** Virtual servers keyed "-t vip:port" with their options; real servers keyed "-t vip -r rip". */
    private static void parse(String text, Map<String, String> vs, Map<String, String> rs) {
        for (String line : text.split("\n")) {
            List<String> w = new ArrayList<>(List.of(line.trim().split("\\s+")));
            if (w.size() < 3) continue;
            String op = w.get(0);
            String key = w.get(1) + " " + w.get(2);
            if (op.equals("-A")) {
                vs.put(key, rest(w, 3));
            } else if (op.equals("-a") && w.size() >= 5 && w.get(3).equals("-r")) {
                rs.put(key + " -r " + w.get(4), rest(w, 5));
            }
        }
    }

    private static String vsOf(String rsKey) {
        return rsKey.substring(0, rsKey.indexOf(" -r "));
    }

    private static String rest(List<String> w, int from) {
        StringBuilder b = new StringBuilder();
        for (int i = from; i < w.size(); i++) b.append(' ').append(w.get(i));
        return b.toString();
    }
}
