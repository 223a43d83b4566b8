/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for log recovery (src/log): a partition directory holding whatever bytes a
 * crash, a bad disk or a stray tool may leave, opened as the broker opens it after a kill -9
 * (every segment scanned, indexes rebuilt, the tail cut) or, when the input asks, after a clean
 * stop (the files trusted, as Kafka trusts them when its clean-shutdown marker is there). The
 * input is
 *   u8 flags (bit 0: clean) | u16 index length | .index bytes | u16 time index length |
 *   .timeindex bytes | the rest: segment 0's .log bytes.
 * Once open, the log is read from its start to its high watermark through the offset index,
 * as Fetch reads it, then one record is appended and the log closed. Open may refuse the files
 * (a negative errno); nothing may crash, hang or read outside what it mapped. Build with
 * -Dfuzz=true (clang); see scripts/fuzz. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/log.h"
#include "records/records.h"
#include "util/logging.h"

#define MAX_READS 4096
#define READ_BYTES (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char temp_dir[64];
static char partition_dir[80];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    if (ftw->level > 0)
        remove(path);
    return 0;
}

/* At exit (libFuzzer exits when its time is up): the temporary directory goes. */
static void remove_temp_dir(void)
{
    nftw(temp_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    rmdir(temp_dir);
}

static void write_file(const char *name, const uint8_t *bytes, size_t len)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", partition_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        abort();
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, bytes + done, len - done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
    close(fd);
}

/* Reads every batch from the log start to the high watermark, as consecutive Fetches would. */
static void read_all(rn_log_t *log)
{
    int64_t offset = rn_log_start_offset(log);
    uint8_t *buf = malloc(READ_BYTES);
    if (buf == NULL)
        return;
    for (int i = 0; i < MAX_READS && offset < rn_log_high_watermark(log); i++) {
        rn_log_slice_t slice;
        if (rn_log_read(log, offset, READ_BYTES, &slice) != 0)
            break;
        size_t len = slice.range.len < READ_BYTES ? slice.range.len : READ_BYTES;
        ssize_t got = len ? pread(slice.range.fd, buf, len, slice.range.pos) : 0;
        if (slice.range.release != NULL)
            slice.range.release(slice.range.owner);
        /* The next offset: past the last whole batch the range held. */
        int64_t next = offset;
        size_t pos = 0;
        while (got > 0 && pos < (size_t)got) {
            rn_batch_header_t h;
            if (rn_batch_parse_header(buf + pos, (size_t)got - pos, &h) != RN_DECODE_OK)
                break;
            if (h.base_offset + h.last_offset_delta >= next)
                next = h.base_offset + h.last_offset_delta + 1;
            size_t n = rn_batch_size(&h);
            if (n == 0 || n > (size_t)got - pos)
                break;
            pos += n;
        }
        if (next <= offset)
            break;
        offset = next;
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (partition_dir[0] == '\0') {
        rn_log_set_level(RN_LOG_ERROR); /* recovery logs what it cut, once per input */
        snprintf(temp_dir, sizeof(temp_dir), "/tmp/runnel-fuzz-log-XXXXXX");
        if (mkdtemp(temp_dir) == NULL)
            abort();
        snprintf(partition_dir, sizeof(partition_dir), "%s/t-0", temp_dir);
        atexit(remove_temp_dir);
    }
    if (size < 5)
        return 0;
    bool clean = data[0] & 1;
    size_t pos = 1;
    size_t index_len = (size_t)data[pos] << 8 | data[pos + 1];
    pos += 2;
    if (index_len > size - pos - 2)
        return 0;
    const uint8_t *index = data + pos;
    pos += index_len;
    size_t time_len = (size_t)data[pos] << 8 | data[pos + 1];
    pos += 2;
    if (time_len > size - pos)
        return 0;
    const uint8_t *time_index = data + pos;
    pos += time_len;

    nftw(partition_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    mkdir(partition_dir, 0755);
    write_file("00000000000000000000.log", data + pos, size - pos);
    write_file("00000000000000000000.index", index, index_len);
    write_file("00000000000000000000.timeindex", time_index, time_len);

    rn_log_config_t cfg;
    rn_log_config_defaults(&cfg);
    rn_log_t *log = NULL;
    if (rn_log_open(partition_dir, &cfg, 0, -1, clean, &log) == 0) {
        read_all(log);
        /* One well-formed batch on top of whatever recovery kept. */
        rn_batch_builder_t b;
        rn_batch_builder_init(&b);
        uint8_t *batch = NULL;
        size_t n = 0;
        rn_records_summary_t sum;
        if (rn_batch_builder_add(&b, 1700000000000, (rn_bytes_t){ (const uint8_t *)"k", 1 },
                                 (rn_bytes_t){ (const uint8_t *)"v", 1 }) == 0 &&
            rn_batch_builder_finish(&b, &batch, &n, &sum) == 0) {
            int64_t base;
            bool sync;
            (void)rn_log_append(log, batch, n, &sum, &base, &sync);
            free(batch);
        }
        rn_batch_builder_deinit(&b);
        rn_log_close(log);
    }
    return 0;
}
