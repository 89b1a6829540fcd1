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
 * Follows a packet through an {@code nft -f} payload of Ferry's tables the way the kernel would:
 * the base chains of its hook in priority order (filter before nat at prerouting and output, the
 * post-DNAT filter after), verdict maps, sets and endpoint maps looked up by the concatenated key,
 * {@code numgen} and {@code jhash} explored over every value (see {@link Paths}), then the
 * masquerading chain. It knows exactly the expressions Ferry renders and fails on any other, so a
 * new rule shape cannot slip through untested. A test utility; not thread-safe.
 */
final class NftTracer {
    private final Map<String, Map<String, List<List<String>>>> chains = new HashMap<>(); // family -> chain -> rules
    private final Map<String, Map<String, List<String[]>>> elements = new HashMap<>(); // family:map -> key -> value
    private final NodeNetwork node;

    NftTracer(String payload, NodeNetwork node) {
        this.node = node;
        for (String line : payload.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) continue;
            List<String> w = IptablesTracer.words(line);
            if (w.size() < 4) continue;
            String fam = w.get(2);
            if (line.startsWith("add rule ")) {
                chains.computeIfAbsent(fam, k -> new HashMap<>()).computeIfAbsent(w.get(4), k -> new ArrayList<>())
                        .add(w.subList(5, w.size()));
            } else if (line.startsWith("add chain ")) {
                chains.computeIfAbsent(fam, k -> new HashMap<>()).computeIfAbsent(w.get(4), k -> new ArrayList<>());
            } else if (line.startsWith("flush chain ")) {
                chains.computeIfAbsent(fam, k -> new HashMap<>()).put(w.get(4), new ArrayList<>());
            } else if (line.startsWith("delete chain ")) {
                chains.computeIfAbsent(fam, k -> new HashMap<>()).remove(w.get(4));
            } else if (line.startsWith("add element ")) {
                addElements(fam + ":" + w.get(4), line.substring(line.indexOf('{') + 1, line.lastIndexOf('}')));
            } else if (line.startsWith("delete element ")) {
                String body = line.substring(line.indexOf('{') + 1, line.lastIndexOf('}')).trim();
                elements.getOrDefault(fam + ":" + w.get(4), new HashMap<>()).remove(canonical(body));
            }
        }
    }

    /** "k1 comment "..." : v1, k2" — keys and values are " . "-joined; comments are dropped. */
    private void addElements(String map, String body) {
        Map<String, List<String[]>> m = elements.computeIfAbsent(map, k -> new HashMap<>());
        for (String item : body.split(",")) {
            String it = item.replaceAll("comment \"[^\"]*\"", "").trim();
            if (it.isEmpty()) continue;
            int colon = it.indexOf(" : ");
            String key = canonical(colon < 0 ? it : it.substring(0, colon));
            String value = colon < 0 ? null : it.substring(colon + 3).trim();
            m.put(key, List.<String[]>of(new String[] {value}));
        }
    }

    private static String canonical(String key) {
        return String.join(" . ", List.of(key.trim().split("\\s*\\.\\s+|\\s+\\.\\s*")));
    }

    Outcome trace(Packet p) {
        return Step.fold(p, Paths.all(c -> new Run(p, c).go()));
    }

    private final class Run {
        final Packet p;
        final Paths.Choices choices;
        final String fam;
        InetAddress dst;
        int dport;
        long mark;
        boolean dnat;
        boolean masquerade;
        String verdict;
        final List<String> trace = new ArrayList<>();

        Run(Packet p, Paths.Choices choices) {
            this.p = p;
            this.choices = choices;
            this.fam = p.v6() ? "ip6" : "ip";
            this.dst = p.dst();
            this.dport = p.dport();
        }

        Step go() {
            // the node's own packets pass the output hooks, and then input too when they stay on the node
            List<String> hooks = p.fromNode()
                    ? List.of("filter-output", "nat-output", "filter-output-post-dnat", "LOCAL-INPUT")
                    : List.of("filter-prerouting", "nat-prerouting", "ROUTE");
            for (String h : hooks) {
                if (verdict != null) break;
                if (h.equals("LOCAL-INPUT")) {
                    if (node.isLocal(dst)) base("filter-input");
                } else if (h.equals("ROUTE")) {
                    base(node.isLocal(dst) ? "filter-input" : "filter-forward");
                } else {
                    base(h);
                }
            }
            if ("drop".equals(verdict) || "reject".equals(verdict)) {
                return new Step(verdict.equals("drop") ? Outcome.Kind.DROP : Outcome.Kind.REJECT, null, false, false, trace);
            }
            if (!dnat) {
                return new Step(Outcome.Kind.UNTOUCHED, null, false, false, trace);
            }
            verdict = null;
            base("nat-postrouting");
            return new Step(Outcome.Kind.FORWARD, IpAddresses.hostPort(dst, dport), masquerade, p.src().equals(dst), trace);
        }

        void base(String chain) {
            if (!chains.getOrDefault(fam, Map.of()).containsKey(chain)) return;
            run(chain, 0);
            if ("accept".equals(verdict)) verdict = null; // ends this base chain only
        }

        /** Runs a chain: true when it ended the traversal (a verdict, goto'd chain ended it, or a DNAT). */
        boolean run(String chain, int depth) {
            if (depth > 16) throw new IllegalStateException("jump loop at " + chain);
            List<List<String>> rules = chains.getOrDefault(fam, Map.of()).get(chain);
            if (rules == null) throw new AssertionError("jump to missing chain " + chain);
            for (List<String> r : rules) {
                int end = rule(r, chain, depth);
                if (end == RULE_RETURN) return false;
                if (end == RULE_END) return true;
            }
            return false;
        }

        static final int RULE_CONTINUE = 0, RULE_RETURN = 1, RULE_END = 2;

        int rule(List<String> r, String chain, int depth) {
            Cursor c = new Cursor(r);
            while (c.more()) {
                String w = c.peek();
                switch (w) {
                    case "jump", "goto" -> {
                        c.next();
                        String target = c.next();
                        trace.add(chain + ": " + String.join(" ", r));
                        boolean ended = run(target, depth + 1);
                        if (ended || w.equals("goto")) return ended ? RULE_END : RULE_RETURN;
                        continue;
                    }
                    case "return" -> { trace.add(chain + ": " + String.join(" ", r)); return RULE_RETURN; }
                    case "drop", "reject", "accept" -> {
                        trace.add(chain + ": " + String.join(" ", r));
                        verdict = w;
                        return RULE_END;
                    }
                    case "comment" -> { c.next(); c.next(); continue; }
                    case "counter" -> { c.next(); continue; }
                    case "masquerade" -> { c.next(); if (c.more() && c.peek().equals("fully-random")) c.next(); masquerade = true; continue; }
                    case "update" -> { while (!c.next().equals("}")) { } continue; }
                    case "dnat" -> {
                        trace.add(chain + ": " + String.join(" ", r));
                        return dnat(c) ? RULE_END : RULE_CONTINUE;
                    }
                    default -> { }
                }
                if (w.equals("meta") && c.at(1).equals("mark") && c.at(2).equals("set")) {
                    c.skip(5); // meta mark set meta mark
                    String op = c.next();
                    long v = Long.decode(c.next());
                    mark = op.equals("|") ? mark | v : mark ^ v;
                    continue;
                }
                if (!match(c)) return RULE_CONTINUE;
            }
            return RULE_CONTINUE;
        }

        /** "dnat to A:P" or "dnat ip to SELECTORS map @M". false when the map has no entry (the rule breaks). */
        boolean dnat(Cursor c) {
            c.next();
            if (c.peek().equals("to")) {
                c.next();
                String to = c.next();
                int colon = to.lastIndexOf(':');
                String host = to.substring(0, colon);
                if (host.startsWith("[")) host = host.substring(1, host.length() - 1);
                setDnat(IpAddresses.parse(host), Integer.parseInt(to.substring(colon + 1)));
                return true;
            }
            c.next(); // family
            c.next(); // to
            String key = selectors(c);
            if (!c.next().equals("map")) throw new IllegalArgumentException("dnat without map: " + c);
            String map = c.next().substring(1);
            // the map's data names its protocol's port: nft adds a match on that protocol to the rule
            if (!map.endsWith("-" + p.proto())) return false;
            String v = lookup(map, key);
            if (v == null) return false;
            String[] parts = v.split(" \\. ");
            setDnat(IpAddresses.parse(parts[0].trim()), Integer.parseInt(parts[1].trim()));
            return true;
        }

        void setDnat(InetAddress to, int port) {
            origDst = dst;
            origPort = dport;
            dst = to;
            dport = port;
            dnat = true;
        }

        InetAddress origDst;
        int origPort;

        /** One match: SELECTORS [& MASK] [==|!=] VALUE | SELECTORS vmap @M (which may end the rule). */
        boolean match(Cursor c) {
            String actual = selectors(c);
            if (c.more() && c.peek().equals("vmap")) {
                c.next();
                String map = c.next().substring(1);
                String v = lookup(map, actual);
                if (v == null) return false;
                List<String> stmt = IptablesTracer.words(v);
                c.inject(stmt);
                return true;
            }
            if (c.more() && c.peek().equals("&")) {
                c.next();
                actual = Long.toString(Long.decode(actual) & Long.decode(c.next()));
            }
            boolean negate = false;
            if (c.peek().equals("!=")) { negate = true; c.next(); }
            else if (c.peek().equals("==")) c.next();
            String lit = c.next();
            boolean ok;
            if (lit.startsWith("@")) {
                ok = inSet(lit.substring(1), actual);
            } else if (lit.equals("{")) {
                ok = false;
                while (true) {
                    String x = c.next();
                    if (x.equals("}")) break;
                    if (x.equals(",")) continue;
                    ok |= valueMatches(actual, x.endsWith(",") ? x.substring(0, x.length() - 1) : x);
                }
            } else {
                ok = valueMatches(actual, lit);
            }
            return ok != negate;
        }

        String lookup(String map, String key) {
            List<String[]> v = elements.getOrDefault(fam + ":" + map, Map.of()).get(key);
            return v == null ? null : v.get(0)[0];
        }

        boolean inSet(String set, String actual) {
            Map<String, List<String[]>> m = elements.getOrDefault(fam + ":" + set, Map.of());
            if (m.containsKey(actual)) return true;
            for (String k : m.keySet()) {
                if (k.indexOf('/') > 0 && valueMatches(actual, k)) return true; // an interval set
            }
            return false;
        }

        /** Concatenated selectors: their values joined by " . ". */
        String selectors(Cursor c) {
            StringBuilder sb = new StringBuilder(selector(c));
            while (c.more() && c.peek().equals(".")) {
                c.next();
                sb.append(" . ").append(selector(c));
            }
            return sb.toString();
        }

        String selector(Cursor c) {
            String w = c.next();
            switch (w) {
                case "ip", "ip6" -> {
                    String f = c.next();
                    return IpAddresses.format(f.equals("saddr") ? p.src() : dst);
                }
                case "meta" -> {
                    String f = c.next();
                    if (f.equals("l4proto")) return p.proto();
                    if (f.equals("mark")) return Long.toString(mark);
                    throw new IllegalArgumentException("meta " + f);
                }
                case "th" -> {
                    String f = c.next();
                    if (f.equals("dport")) return Integer.toString(dport);
                    return "40000"; // th sport: any fixed client port
                }
                case "tcp", "udp", "sctp" -> {
                    c.next(); // dport
                    return w.equals(p.proto()) ? Integer.toString(dport) : "none";
                }
                case "fib" -> {
                    String f = c.next();
                    c.next(); // type
                    return node.isLocal(f.equals("saddr") ? p.src() : dst) ? "local" : "unicast";
                }
                case "ct" -> {
                    String f = c.next();
                    if (f.equals("state")) return "new";
                    if (f.equals("original")) {
                        String g = c.next();
                        if (g.equals("proto-dst")) return Integer.toString(dnat ? origPort : dport);
                        c.next(); // daddr
                        return IpAddresses.format(dnat ? origDst : dst);
                    }
                    throw new IllegalArgumentException("ct " + f);
                }
                case "numgen" -> {
                    c.next(); // random
                    c.next(); // mod
                    int n = Integer.parseInt(c.next());
                    return Integer.toString(choices.next(n));
                }
                case "jhash" -> {
                    StringBuilder expr = new StringBuilder();
                    String x;
                    while (!(x = c.next()).equals("mod")) expr.append(x).append(' ');
                    int n = Integer.parseInt(c.next());
                    c.next(); // seed
                    expr.append(c.next());
                    return Integer.toString(choices.keyed(expr.toString(), n));
                }
                default -> throw new IllegalArgumentException("tracer does not know selector " + w);
            }
        }
    }

    static boolean valueMatches(String actual, String lit) {
        if (lit.indexOf('/') > 0) {
            InetAddress a = IpAddresses.parse(actual);
            return a != null && Cidr.parse(lit).contains(a);
        }
        InetAddress x = IpAddresses.parse(lit);
        InetAddress y = IpAddresses.parse(actual);
        if (x != null && y != null) return x.equals(y);
        return actual.equals(lit);
    }

    /** Words of a rule, with set braces split off. */
    private static final class Cursor {
        final List<String> w = new ArrayList<>();
        int i;

        Cursor(List<String> words) {
            for (String s : words) {
                if (s.equals("{") || s.equals("}")) { w.add(s); continue; }
                String t = s;
                if (t.startsWith("{")) { w.add("{"); t = t.substring(1); }
                boolean close = t.endsWith("}");
                if (close) t = t.substring(0, t.length() - 1);
                if (t.endsWith(",")) t = t.substring(0, t.length() - 1);
                if (!t.isEmpty()) w.add(t);
                if (close) w.add("}");
            }
        }

        boolean more() { return i < w.size(); }
        String peek() { return w.get(i); }
        String next() { return w.get(i++); }
        String at(int k) { return i + k < w.size() ? w.get(i + k) : ""; }
        void skip(int n) { i += n; }

        /** Replaces the rest of the rule with a verdict map's value (e.g. "goto pick-cluster-2"). */
        void inject(List<String> stmt) {
            w.subList(i, w.size()).clear();
            w.addAll(stmt);
        }

        @Override
        public String toString() { return String.join(" ", w); }
    }
}
