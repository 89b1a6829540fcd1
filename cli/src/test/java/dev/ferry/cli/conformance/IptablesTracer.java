package dev.ferry.cli.conformance;

import dev.ferry.model.Cidr;
import dev.ferry.model.IpAddresses;
import dev.ferry.select.NodeNetwork;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Follows a packet through an iptables-restore payload (filter and nat tables) the way the kernel
 * would for kube-proxy's chain layout: nat PREROUTING (or OUTPUT for the node's own connections) into
 * KUBE-SERVICES, then the filter chains of INPUT, FORWARD or OUTPUT after the DNAT, then the
 * masquerade mark. Understands exactly the matches and targets kube-proxy's rules use, and fails on
 * anything else rather than guessing. Random matches (statistic) branch: see {@link Paths}.
 * A test utility; not thread-safe.
 */
final class IptablesTracer {
    /** The built-in chains' jumps, as kube-proxy installs them (prepended: the last one listed runs first). */
    private static final Map<String, List<String>> FILTER_HOOKS = Map.of(
            "INPUT", List.of("KUBE-FIREWALL", "KUBE-PROXY-FIREWALL", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES"),
            "FORWARD", List.of("KUBE-PROXY-FIREWALL", "KUBE-FORWARD", "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES"),
            "OUTPUT", List.of("KUBE-FIREWALL", "KUBE-PROXY-FIREWALL", "KUBE-SERVICES"));

    private final Map<String, List<List<String>>> filter = new HashMap<>();
    private final Map<String, List<List<String>>> nat = new HashMap<>();
    private final NodeNetwork node;
    private final int mark;

    IptablesTracer(String payload, NodeNetwork node, int markBit) {
        this.node = node;
        this.mark = 1 << markBit;
        Map<String, List<List<String>>> table = null;
        for (String line : payload.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) continue;
            if (line.equals("*filter")) table = filter;
            else if (line.equals("*nat")) table = nat;
            else if (line.equals("COMMIT")) table = null;
            else if (line.startsWith(":")) table.computeIfAbsent(line.substring(1, line.indexOf(' ')), k -> new ArrayList<>());
            else if (line.startsWith("-A ")) {
                List<String> w = words(line);
                table.computeIfAbsent(w.get(1), k -> new ArrayList<>()).add(w.subList(2, w.size()));
            } else if (line.startsWith("-X ")) {
                table.remove(line.substring(3).trim());
            } else {
                throw new IllegalArgumentException("unexpected payload line: " + line);
            }
        }
    }

    Outcome trace(Packet p) {
        return Step.fold(p, Paths.all(c -> new Run(p, c).go()));
    }

    /** One path of one packet. */
    private final class Run {
        final Packet p;
        final Paths.Choices choices;
        InetAddress dst;
        int dport;
        int pktMark;
        boolean dnat;
        String verdict; // ACCEPT, DROP, REJECT or null
        final List<String> trace = new ArrayList<>();

        Run(Packet p, Paths.Choices choices) {
            this.p = p;
            this.choices = choices;
            this.dst = p.dst();
            this.dport = p.dport();
        }

        Step go() {
            chain(nat, "KUBE-SERVICES", 0);
            // the node's own packets pass OUTPUT, and then INPUT too when they stay on the node
            List<String> hooks = p.fromNode() ? (node.isLocal(dst) ? List.of("OUTPUT", "INPUT") : List.of("OUTPUT"))
                    : List.of(node.isLocal(dst) ? "INPUT" : "FORWARD");
            for (String hook : hooks) {
                for (String c : FILTER_HOOKS.get(hook)) {
                    if (verdict != null) break;
                    if (filter.containsKey(c)) chain(filter, c, 0);
                }
                if ("ACCEPT".equals(verdict)) verdict = null; // accepted by this hook; the next still runs
            }
            if ("DROP".equals(verdict) || "REJECT".equals(verdict)) {
                return new Step("DROP".equals(verdict) ? Outcome.Kind.DROP : Outcome.Kind.REJECT, null, false, false, trace);
            }
            if (!dnat) {
                return new Step(Outcome.Kind.UNTOUCHED, null, false, false, trace);
            }
            return new Step(Outcome.Kind.FORWARD, IpAddresses.hostPort(dst, dport), (pktMark & mark) != 0,
                    p.src().equals(dst), trace);
        }

        /** Runs a chain; returns true when a terminal verdict or DNAT ended the traversal. */
        boolean chain(Map<String, List<List<String>>> table, String name, int depth) {
            if (depth > 16) throw new IllegalStateException("jump loop at " + name);
            List<List<String>> rules = table.get(name);
            if (rules == null) throw new AssertionError("jump to missing chain " + name);
            for (List<String> r : rules) {
                if (!matches(r)) continue;
                String target = target(r);
                if (target == null) continue;
                trace.add(name + ": " + String.join(" ", r));
                switch (target) {
                    case "RETURN" -> { return false; }
                    case "ACCEPT", "DROP", "REJECT" -> { verdict = target; return true; }
                    case "DNAT" -> {
                        String to = option(r, "--to-destination");
                        int colon = to.lastIndexOf(':');
                        String host = to.substring(0, colon);
                        if (host.startsWith("[")) host = host.substring(1, host.length() - 1);
                        dst = IpAddresses.parse(host);
                        dport = Integer.parseInt(to.substring(colon + 1));
                        dnat = true;
                        return true;
                    }
                    case "MARK" -> {
                        String or = option(r, "--or-mark");
                        if (or != null) pktMark |= Integer.decode(or);
                        String xor = option(r, "--xor-mark");
                        if (xor != null) pktMark ^= Integer.decode(xor);
                    }
                    case "MASQUERADE" -> { }
                    default -> {
                        if (chain(table, target, depth + 1)) return true;
                    }
                }
            }
            return false;
        }

        boolean matches(List<String> r) {
            boolean neg = false;
            for (int i = 0; i < r.size(); i++) {
                String w = r.get(i);
                boolean ok;
                switch (w) {
                    case "!" -> { neg = true; continue; }
                    case "-j" -> { return true; }
                    case "-m" -> {
                        String module = r.get(++i);
                        if (module.equals("statistic")) {
                            // --mode random --probability P: both outcomes are explored
                            i += 4;
                            ok = choices.next(2) == 0;
                        } else {
                            continue; // the module's options follow and are checked one by one
                        }
                    }
                    case "--comment" -> { i++; continue; }
                    case "-p" -> ok = r.get(++i).equals(p.proto());
                    case "-d" -> ok = cidr(r.get(++i)).contains(dst);
                    case "-s" -> ok = cidr(r.get(++i)).contains(p.src());
                    case "--dport" -> ok = Integer.parseInt(r.get(++i)) == dport;
                    case "--dst-type" -> ok = typeMatches(r.get(++i), dst);
                    case "--src-type" -> ok = typeMatches(r.get(++i), p.src());
                    case "--mark" -> {
                        String[] vm = r.get(++i).split("/");
                        int v = Integer.decode(vm[0]);
                        int m = vm.length > 1 ? Integer.decode(vm[1]) : -1;
                        ok = (pktMark & m) == v;
                    }
                    case "--ctstate" -> {
                        ok = false;
                        for (String s : r.get(++i).split(",")) {
                            ok |= s.equals("NEW") || (s.equals("DNAT") && dnat);
                        }
                    }
                    case "--nfacct-name" -> { i++; continue; }
                    case "--name" -> {
                        // recent: --rcheck finds no entry for a first connection; --set only records
                        i++;
                        boolean rcheck = r.contains("--rcheck");
                        if (rcheck) return false;
                        continue;
                    }
                    case "--set", "--rcheck", "--reap" -> { continue; }
                    case "--seconds" -> { i++; continue; }
                    default -> throw new IllegalArgumentException("tracer does not know match " + w + " in " + r);
                }
                if (ok == neg) return false;
                neg = false;
            }
            return true;
        }

        boolean typeMatches(String type, InetAddress a) {
            if (!type.equals("LOCAL")) throw new IllegalArgumentException("addrtype " + type);
            return node.isLocal(a);
        }
    }

    static String target(List<String> r) {
        int j = r.indexOf("-j");
        return j < 0 ? null : r.get(j + 1);
    }

    static String option(List<String> r, String name) {
        int j = r.indexOf(name);
        return j < 0 ? null : r.get(j + 1);
    }

    static Cidr cidr(String s) {
        return Cidr.parse(s.indexOf('/') < 0 ? s + (s.indexOf(':') < 0 ? "/32" : "/128") : s);
    }

    /** iptables-save words: spaces separate, double quotes group. */
    static List<String> words(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false, any = false;
        for (char ch : line.toCharArray()) {
            if (ch == '"') { quoted = !quoted; any = true; continue; }
            if (ch == ' ' && !quoted) {
                if (any) out.add(cur.toString());
                cur.setLength(0);
                any = false;
                continue;
            }
            cur.append(ch);
            any = true;
        }
        if (any) out.add(cur.toString());
        return out;
    }
}
