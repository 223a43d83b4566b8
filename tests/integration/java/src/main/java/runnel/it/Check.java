// SPDX-License-Identifier: Apache-2.0
package runnel.it;

import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

import org.apache.kafka.common.KafkaFuture;

/**
 * Assertions for the scenarios. Every failure message says what was asked, so that a RESULT
 * line alone tells which call went wrong (for a broker, the request behind it) and how.
 */
final class Check {
    /** The longest a scenario waits for one client call to complete. */
    static final long WAIT_S = 30;

    private Check() {
    }

    static void that(boolean cond, String fmt, Object... args) {
        if (!cond) {
            throw new AssertionError(String.format(fmt, args));
        }
    }

    static void equal(Object expected, Object actual, String fmt, Object... args) {
        if (!Objects.equals(expected, actual)) {
            throw new AssertionError(String.format(fmt, args) + ": expected " + expected + ", got " + actual);
        }
    }

    /**
     * The value of a future of the Admin client, waiting at most WAIT_S. A failure becomes a
     * StepFailure that names the call, with the client's exception as its cause.
     */
    static <T> T get(KafkaFuture<T> f, String what) throws InterruptedException {
        try {
            return f.get(WAIT_S, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new StepFailure(what, e.getCause());
        } catch (TimeoutException e) {
            throw new StepFailure(what, new AssertionError("no answer within " + WAIT_S + " s"));
        }
    }

    /** Same for a plain java.util.concurrent.Future (the producer's send). */
    static <T> T get(java.util.concurrent.Future<T> f, String what) throws InterruptedException {
        try {
            return f.get(WAIT_S, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new StepFailure(what, e.getCause());
        } catch (TimeoutException e) {
            throw new StepFailure(what, new AssertionError("no answer within " + WAIT_S + " s"));
        }
    }

    /**
     * Asserts that a future fails with an exception of `type` (the error code the broker
     * answered, as the client maps it) and returns it.
     */
    static <E extends Throwable> E fails(Class<E> type, KafkaFuture<?> f, String what)
            throws InterruptedException {
        Object value;
        try {
            value = f.get(WAIT_S, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (type.isInstance(cause)) {
                return type.cast(cause);
            }
            throw new StepFailure(what + ": expected " + type.getSimpleName() + ", got another error", cause);
        } catch (TimeoutException e) {
            throw new AssertionError(what + ": expected " + type.getSimpleName() + ", got no answer within "
                                     + WAIT_S + " s");
        }
        throw new AssertionError(what + ": expected " + type.getSimpleName() + ", but it succeeded with " + value);
    }

    /** Waits, polling every 100 ms, until `cond` holds; fails after `seconds` naming `what`. */
    static void eventually(long seconds, String what, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": not true within " + seconds + " s");
            }
            Thread.sleep(100);
        }
    }

    /** A deadline for loops that poll a consumer. */
    static final class Deadline {
        private final long end;
        private final long seconds;

        Deadline(long seconds) {
            this.seconds = seconds;
            this.end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        }

        boolean passed() {
            return System.nanoTime() > end;
        }

        /** Throws, naming what was being waited for, once the deadline has passed. */
        void check(String fmt, Object... args) {
            if (passed()) {
                throw new AssertionError(String.format(fmt, args) + " (gave up after " + seconds + " s)");
            }
        }
    }

    /** A step of a scenario that failed, with the client's exception as its cause. */
    static final class StepFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StepFailure(String what, Throwable cause) {
            super(what, cause);
        }
    }
}
