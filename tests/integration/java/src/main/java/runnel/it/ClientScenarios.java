// SPDX-License-Identifier: Apache-2.0
package runnel.it;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The command line of the Java client suite (issue 10): runs scenarios of the Apache Kafka Java
 * client (producer, classic-protocol consumer, Admin) against one broker.
 *
 * <pre>
 *   java -cp CLASSPATH runnel.it.ClientScenarios [--timeout SECONDS] BOOTSTRAP SCENARIO...
 *   java -cp CLASSPATH runnel.it.ClientScenarios --list
 * </pre>
 *
 * Each scenario runs in a thread of its own, one after the other, bounded by the timeout (60 s
 * by default), and prints exactly one line on stdout:
 *
 * <pre>
 *   RESULT name PASS millis what it saw
 *   RESULT name FAIL millis why, on one line
 * </pre>
 *
 * Everything else (the client's own log, at WARN unless RUNNEL_JAVA_LOG says otherwise, and
 * stack traces of failures) goes to stderr. The exit status is 0 when every scenario passed,
 * 1 when one failed and 2 for a usage error. Several scenarios share one JVM because starting
 * the JVM and loading the client costs more than most scenarios; each scenario makes its own
 * topics and groups, named after itself, so that they do not see each other.
 */
public final class ClientScenarios {
    private static final long DEFAULT_TIMEOUT_S = 60;

    private ClientScenarios() {
    }

    /** Every scenario by name, in the order --list prints them. */
    static Map<String, Scenario> all() {
        Map<String, Scenario> m = new LinkedHashMap<>();
        RecordScenarios.register(m);
        GroupScenarios.register(m);
        AdminScenarios.register(m);
        return m;
    }

    public static void main(String[] args) {
        // Before any client class exists: slf4j-simple reads these once, when the first logger
        // is made.
        String level = System.getenv().getOrDefault("RUNNEL_JAVA_LOG", "warn");
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        System.exit(run(args, out));
    }

    static int run(String[] args, PrintStream out) {
        Map<String, Scenario> scenarios = all();
        long timeoutS = DEFAULT_TIMEOUT_S;
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--list")) {
                scenarios.keySet().forEach(out::println);
                return 0;
            } else if (args[i].equals("--timeout") && i + 1 < args.length) {
                timeoutS = Long.parseLong(args[++i]);
            } else {
                rest.add(args[i]);
            }
        }
        if (rest.size() < 2) {
            System.err.println("usage: ClientScenarios [--timeout SECONDS] BOOTSTRAP SCENARIO... | --list");
            return 2;
        }
        String bootstrap = rest.get(0);
        List<String> names = rest.subList(1, rest.size());
        for (String name : names) {
            if (!scenarios.containsKey(name)) {
                System.err.println("ClientScenarios: unknown scenario '" + name + "' (--list shows them)");
                return 2;
            }
        }
        boolean allPassed = true;
        for (String name : names) {
            allPassed &= runOne(name, scenarios.get(name), bootstrap, timeoutS, out);
        }
        return allPassed ? 0 : 1;
    }

    /**
     * Runs one scenario in a daemon thread of its own and prints its RESULT line. A scenario
     * still running at the timeout has its stack printed to stderr and is abandoned (its
     * clients stay open until the JVM exits); the next scenario starts anyway.
     */
    private static boolean runOne(String name, Scenario scenario, String bootstrap, long timeoutS,
                                  PrintStream out) {
        System.err.println("==== scenario " + name + " against " + bootstrap + " ====");
        Throwable[] failure = new Throwable[1];
        String[] detail = new String[1];
        long t0 = System.nanoTime();
        Thread t = new Thread(() -> {
            try (Context ctx = new Context(bootstrap, name)) {
                scenario.run(ctx);
                detail[0] = ctx.notes();
            } catch (Throwable e) {
                failure[0] = e;
            }
        }, "scenario-" + name);
        t.setDaemon(true);
        t.start();
        try {
            t.join(timeoutS * 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        if (t.isAlive()) {
            System.err.println("scenario " + name + " still running after " + timeoutS + " s; its stack:");
            for (StackTraceElement el : t.getStackTrace()) {
                System.err.println("    at " + el);
            }
            t.interrupt();
            out.println("RESULT " + name + " FAIL " + ms + " timed out after " + timeoutS
                        + " s in " + where(t.getStackTrace()));
            return false;
        }
        if (failure[0] != null) {
            System.err.println("scenario " + name + " failed:");
            failure[0].printStackTrace();
            out.println("RESULT " + name + " FAIL " + ms + " " + oneLine(failure[0]));
            return false;
        }
        out.println("RESULT " + name + " PASS " + ms + " " + (detail[0] == null ? "" : detail[0]));
        return true;
    }

    /** The first frame of ours in a stack, for a timeout's one line. */
    private static String where(StackTraceElement[] stack) {
        for (StackTraceElement el : stack) {
            if (el.getClassName().startsWith("runnel.it.")) {
                return el.toString();
            }
        }
        return stack.length > 0 ? stack[0].toString() : "?";
    }

    /** An exception and its causes on one line: what the Python side shows for a failure. */
    static String oneLine(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (sb.length() > 0) {
                sb.append(" <- caused by ");
            }
            if (!(c instanceof AssertionError || c instanceof Check.StepFailure)) {
                sb.append(c.getClass().getName()).append(": ");
            }
            sb.append(c.getMessage());
        }
        return sb.toString().replaceAll("\\s*\\n\\s*", " | ");
    }
}
