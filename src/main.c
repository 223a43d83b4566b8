/* SPDX-License-Identifier: Apache-2.0 */
/* The runnel command line: a thin layer over include/runnel/runnel.h and nothing else.
 *
 * Exit status: 0 after a clean stop on SIGINT or SIGTERM; 1 when the broker cannot start (the
 * port is taken, the data directory is unusable); 2 for a usage or configuration error, in
 * which case nothing has been started. */
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ephemeral.h"
#include "runnel/runnel.h"

#define EXIT_USAGE 2

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: runnel [-c|--config FILE] [--ephemeral] [--override KEY=VALUE]...\n"
            "              [--version] [--help]\n"
            "\n"
            "A single-node Kafka-protocol broker.\n"
            "\n"
            "  -c, --config FILE        read a Java-properties file (see conf/runnel.properties)\n"
            "      --ephemeral          a test fixture: listeners and the control plane on\n"
            "                           127.0.0.1 port 0, a fresh data directory removed at\n"
            "                           exit, group.initial.rebalance.delay.ms=0; the first line\n"
            "                           on stdout is JSON with the addresses; exits when stdin\n"
            "                           closes (the overrides still apply, after these)\n"
            "      --override KEY=VALUE set a key, winning over the file; may repeat\n"
            "      --version            print the version and exit\n"
            "      --help               print this help and exit\n"
            "\n"
            "Without a file every key takes its default. SIGINT or SIGTERM stops the broker\n"
            "cleanly; a second one while it stops ends the process at once.\n");
}

/* Error codes from runnel.h are negative errno values, or Runnel's own below -4095. */
static const char *describe(int rc)
{
    return rc < 0 && rc > -4096 ? strerror(-rc) : "internal error";
}

int main(int argc, char **argv)
{
    enum { OPT_OVERRIDE = 256, OPT_VERSION, OPT_HELP, OPT_EPHEMERAL };
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "override", required_argument, NULL, OPT_OVERRIDE },
        { "ephemeral", no_argument, NULL, OPT_EPHEMERAL },
        { "version", no_argument, NULL, OPT_VERSION },
        { "help", no_argument, NULL, OPT_HELP },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL;
    bool ephemeral = false;
    char ephemeral_dir[PATH_MAX] = "";
    runnel_config_t *config = NULL;
    runnel_t *rn = NULL;
    int status = EXIT_USAGE, rc;
    char err[512];
    /* Overrides are applied after the file whatever their position on the command line, so they
     * are remembered (pointers into argv) until then; there are fewer than argc of them. */
    const char **overrides = calloc((size_t)argc, sizeof *overrides);
    int noverrides = 0, opt;
    if (overrides == NULL) {
        fprintf(stderr, "runnel: out of memory\n");
        return 1;
    }
    /* '+': stop at the first operand instead of permuting argv. ':': report a missing argument
     * as ':' and print nothing, so every message starts with "runnel:". */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:c:", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case OPT_OVERRIDE: {
            const char *eq = strchr(optarg, '=');
            if (eq == NULL || eq == optarg) {
                fprintf(stderr, "runnel: --override needs KEY=VALUE, got '%s'\n", optarg);
                usage(stderr);
                goto out;
            }
            overrides[noverrides++] = optarg;
            break;
        }
        case OPT_EPHEMERAL:
            ephemeral = true;
            break;
        case OPT_VERSION:
            printf("runnel %s\n", RUNNEL_VERSION);
            status = 0;
            goto out;
        case OPT_HELP:
            usage(stdout);
            status = 0;
            goto out;
        case ':':
            fprintf(stderr, "runnel: option '%s' needs an argument\n", argv[optind - 1]);
            usage(stderr);
            goto out;
        default:
            /* optopt holds the character of a bad short option; a bad long one is in argv. */
            if (strncmp(argv[optind - 1], "--", 2) == 0)
                fprintf(stderr, "runnel: invalid option '%s'\n", argv[optind - 1]);
            else
                fprintf(stderr, "runnel: invalid option '-%c'\n", optopt);
            usage(stderr);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "runnel: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        goto out;
    }

    if ((config = runnel_config_new()) == NULL) {
        fprintf(stderr, "runnel: out of memory\n");
        status = 1;
        goto out;
    }
    if (config_path != NULL && runnel_config_load(config, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "runnel: %s\n", err);
        goto out;
    }
    if (ephemeral && rn_ephemeral_prepare(config, ephemeral_dir, sizeof ephemeral_dir) != 0) {
        status = 1;
        goto out;
    }
    for (int i = 0; i < noverrides; i++) {
        const char *eq = strchr(overrides[i], '='); /* checked while parsing options */
        char *key = strndup(overrides[i], (size_t)(eq - overrides[i]));
        if (key == NULL) {
            fprintf(stderr, "runnel: out of memory\n");
            status = 1;
            goto out;
        }
        rc = runnel_config_set(config, key, eq + 1);
        free(key);
        if (rc != 0) {
            fprintf(stderr, "runnel: --override %s: %s\n", overrides[i], describe(rc));
            status = 1;
            goto out;
        }
    }

    /* Block the stop signals before any broker thread exists: threads inherit the mask, so the
     * signals can only be taken by sigwait below, never run a handler on a loop thread. */
    sigset_t stop_signals, old_mask;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    if ((rc = pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask)) != 0) {
        fprintf(stderr, "runnel: pthread_sigmask: %s\n", strerror(rc));
        status = 1;
        goto out;
    }

    if ((rn = runnel_new(config, err, sizeof err)) == NULL) {
        fprintf(stderr, "runnel: %s\n", err);
        goto out;
    }
    runnel_config_free(config);
    config = NULL;
    if ((rc = runnel_start(rn)) != 0) {
        fprintf(stderr, "runnel: cannot start: %s\n", describe(rc));
        status = 1;
        goto out;
    }
    if (ephemeral) {
        rn_ephemeral_announce(rn, ephemeral_dir);
        /* After the mask above: the thread's SIGTERM waits for sigwait below. */
        if ((rc = rn_ephemeral_watch_stdin()) != 0) {
            fprintf(stderr, "runnel: --ephemeral: cannot watch stdin: %s\n", strerror(rc));
            status = 1;
            goto out;
        }
    }

    int sig = 0;
    if ((rc = sigwait(&stop_signals, &sig)) != 0) {
        fprintf(stderr, "runnel: sigwait: %s\n", strerror(rc));
        status = 1;
        goto out;
    }
    if (!ephemeral)
        fprintf(stderr, "runnel: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    /* Only this thread has the signals unblocked again, so a second Ctrl-C during a slow stop
     * takes the default action and ends the process, which is what someone pressing it twice
     * wants. */
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    runnel_stop(rn);
    status = 0;
out:
    runnel_free(rn);
    runnel_config_free(config);
    if (ephemeral_dir[0] != '\0')
        rn_ephemeral_cleanup(ephemeral_dir);
    free(overrides);
    return status;
}
