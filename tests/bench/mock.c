/* SPDX-License-Identifier: Apache-2.0 */
/* runnel-mock: librdkafka's built-in mock cluster (one broker) as a process of its own, so the
 * benchmark can drive it over loopback exactly as it drives Runnel and read its CPU time and RSS
 * from /proc. It prints "listening on HOST:PORT" on stderr, the line Runnel prints, and runs
 * until SIGTERM or SIGINT.
 *
 * The mock has no CreateTopics (librdkafka 2.0.2 answers it from no handler), so the topics a
 * run needs are created here, from `--topic NAME:PARTITIONS` arguments, before it listens.
 *
 * The mock keeps every partition in memory and drops its oldest batches beyond 5 MiB or
 * 100,000 batches per partition (rdkafka_mock.c, rd_kafka_mock_partition_init), so a consumer
 * reading "from the beginning" of a large topic starts at a log start offset above 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static void usage(void)
{
    fprintf(stderr, "Usage: runnel-mock [--topic NAME:PARTITIONS]...\n"
                    "Starts librdkafka's mock cluster with one broker on 127.0.0.1, creates the\n"
                    "topics, prints 'listening on HOST:PORT' on stderr and runs until SIGTERM or "
                    "SIGINT.\n");
}

int main(int argc, char **argv)
{
    char errstr[512];
    for (int i = 1; i < argc; i += 2) {
        const char *colon = i + 1 < argc ? strrchr(argv[i + 1], ':') : NULL;
        if (strcmp(argv[i], "--topic") != 0 || colon == NULL || colon == argv[i + 1] ||
            atoi(colon + 1) < 1) {
            usage();
            return 2;
        }
    }

    /* Block the signals before librdkafka starts its threads, so they inherit the mask and the
     * signal is left for sigwait() below. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    /* The mock cluster needs a handle to hang off; it is never used to produce. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "runnel-mock: %s\n", errstr);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        fprintf(stderr, "runnel-mock: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mcluster = rd_kafka_mock_cluster_new(rk, 1);
    if (mcluster == NULL) {
        fprintf(stderr, "runnel-mock: cannot start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 2; i < argc; i += 2) {
        char *spec = argv[i], *colon = strrchr(spec, ':');
        *colon = '\0';
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, spec, atoi(colon + 1), 1);
        if (err) {
            fprintf(stderr, "runnel-mock: cannot create topic %s: %s\n", spec,
                    rd_kafka_err2str(err));
            return 1;
        }
    }
    fprintf(stderr, "runnel-mock: listening on %s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
    fflush(stderr);

    int sig = 0;
    sigwait(&stop, &sig);
    rd_kafka_mock_cluster_destroy(mcluster);
    rd_kafka_destroy(rk);
    return 0;
}
