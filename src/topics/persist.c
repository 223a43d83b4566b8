/* SPDX-License-Identifier: Apache-2.0 */
/* Files the topics room keeps in the log directory, and how they are made durable.
 *
 *   runnel-topics                      our topic file: "runnel-topics 1", then one line per topic:
 *                                      `name id partitions internal key=value...` with the id in
 *                                      Kafka's base64url text and keys and values %XX-escaped
 *   recovery-point-offset-checkpoint   Kafka's OffsetCheckpointFile: "0", the entry count, then
 *   log-start-offset-checkpoint        `topic partition offset` lines
 *   .kafka_cleanshutdown               Kafka's clean-shutdown marker (empty)
 *
 * Every file is replaced atomically (temp file, fsync, rename, fsync of the directory), so a crash
 * leaves either the old file or the new one, never a mix. Everything read back is checked as
 * untrusted input: a damaged file is reported with its line number, never trusted. */
#include "topics/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/fs.h"
#include "util/logging.h"
#include "util/parse.h"
#include "util/xmalloc.h"

static int join(char *out, size_t outlen, const char *dir, const char *name, const char *suffix)
{
    int n = snprintf(out, outlen, "%s/%s%s", dir, name, suffix);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int rn_persist_read(const char *dir, const char *name, char **out, size_t *len)
{
    char path[PATH_MAX];
    int err;
    if ((err = join(path, sizeof path, dir, name, "")) != 0)
        return err;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = -errno;
        goto out_close;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > RN_TOPICS_FILE_MAX_BYTES) {
        err = -EFBIG;
        goto out_close;
    }
    size_t cap = (size_t)st.st_size, got = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        err = RN_ENOMEM;
        goto out_close;
    }
    /* Read what fstat promised and no more: the file is ours and replaced by rename, never
     * rewritten in place, so a short read means it shrank under us (an I/O error). */
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? -errno : -EIO;
            free(buf);
            goto out_close;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
out_close:
    close(fd);
    return err;
}

/* ---- Lines ---- */

/* A cursor over lines of a text; a last line without "\n" is still a line. */
typedef struct lines {
    const char *cur, *end;
    size_t number; /* of the line last returned, from 1 */
} lines_t;

static bool next_line(lines_t *l, const char **line, size_t *len, bool *terminated)
{
    if (l->cur >= l->end)
        return false;
    const char *nl = memchr(l->cur, '\n', (size_t)(l->end - l->cur));
    *line = l->cur;
    *len = nl != NULL ? (size_t)(nl - l->cur) : (size_t)(l->end - l->cur);
    *terminated = nl != NULL;
    l->cur = nl != NULL ? nl + 1 : l->end;
    l->number++;
    return true;
}

/* The next space-separated field of s[*pos..len), or false at the end. */
static bool next_field(const char *s, size_t len, size_t *pos, const char **field, size_t *flen)
{
    if (*pos >= len)
        return false;
    const char *sp = memchr(s + *pos, ' ', len - *pos);
    *field = s + *pos;
    *flen = sp != NULL ? (size_t)(sp - (s + *pos)) : len - *pos;
    *pos = sp != NULL ? (size_t)(sp - s) + 1 : len;
    return true;
}

/* A decimal integer of plain digits (an optional '-' where `sign`), within [min, max]. */
static bool parse_decimal(const char *s, size_t len, bool sign, int64_t min, int64_t max,
                          int64_t *out)
{
    char buf[24];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (!sign && buf[0] == '-')
        return false;
    if (buf[0] == '+')
        return false;
    int64_t v;
    if (rn_parse_int64(buf, &v) != 0 || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* ---- The topic file ---- */

void rn_topics_file_encode(const rn_topic_line_t *lines, size_t n, rn_text_t *out)
{
    rn_text_printf(out, "%s %d\n", RN_TOPICS_FILE_MAGIC, RN_TOPICS_FILE_VERSION);
    for (size_t i = 0; i < n; i++) {
        const rn_topic_line_t *t = &lines[i];
        char id[23];
        rn_uuid_format(&t->id, id);
        /* Names hold only [a-zA-Z0-9._-]: nothing to escape. */
        rn_text_printf(out, "%s %s %d %d", t->name, id, t->npartitions, t->internal ? 1 : 0);
        for (size_t j = 0; j < t->noverrides; j++) {
            rn_text_append(out, " ", 1);
            rn_text_escape(out, t->overrides[j].key);
            rn_text_append(out, "=", 1);
            rn_text_escape(out, t->overrides[j].value);
        }
        rn_text_append(out, "\n", 1);
    }
}

void rn_topic_lines_free(rn_topic_line_t *lines, size_t n)
{
    if (lines == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(lines[i].name);
        rn_overrides_free(lines[i].overrides, lines[i].noverrides);
    }
    free(lines);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp((*(const rn_topic_line_t *const *)a)->name,
                  (*(const rn_topic_line_t *const *)b)->name);
}

static int compare_ids(const void *a, const void *b)
{
    return memcmp((*(const rn_topic_line_t *const *)a)->id.b,
                  (*(const rn_topic_line_t *const *)b)->id.b, 16);
}

/* Two topics with one name or one id would make every later lookup ambiguous. */
static int check_unique(rn_topic_line_t *lines, size_t n, char *why, size_t whylen)
{
    if (n < 2)
        return 0;
    rn_topic_line_t **sorted = malloc(n * sizeof *sorted);
    if (sorted == NULL)
        return RN_ENOMEM;
    for (size_t i = 0; i < n; i++)
        sorted[i] = &lines[i];
    int err = 0;
    qsort(sorted, n, sizeof *sorted, compare_names);
    for (size_t i = 1; i < n && err == 0; i++)
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
            snprintf(why, whylen, "topic %s is listed twice", sorted[i]->name);
            err = RN_EINVAL;
        }
    qsort(sorted, n, sizeof *sorted, compare_ids);
    for (size_t i = 1; i < n && err == 0; i++)
        if (memcmp(sorted[i - 1]->id.b, sorted[i]->id.b, 16) == 0) {
            snprintf(why, whylen, "topics %s and %s have the same id", sorted[i - 1]->name,
                     sorted[i]->name);
            err = RN_EINVAL;
        }
    free(sorted);
    return err;
}

/* Parses one `key=value` field into `t`'s overrides. */
static int decode_override(rn_topic_line_t *t, const char *f, size_t flen, char *why, size_t whylen)
{
    const char *eq = memchr(f, '=', flen);
    if (eq == NULL) {
        snprintf(why, whylen, "expected key=value");
        return RN_EINVAL;
    }
    char *key = rn_unescape(f, (size_t)(eq - f));
    char *value = rn_unescape(eq + 1, flen - (size_t)(eq + 1 - f));
    rn_topics_result_t res = { 0 };
    int err = 0;
    if (key == NULL || value == NULL) {
        snprintf(why, whylen, "bad escape in a config");
        err = RN_EINVAL;
    } else if (rn_topic_config_removed(key)) {
        /* Written by an earlier release; Kafka 4 has no such key. The next write of the topic
         * file leaves it out. */
        rn_log(RN_LOG_WARN, "topics", "topic %s: config %s dropped: Kafka 4 removed it", t->name,
               key);
        free(key);
        free(value);
        return 0;
    } else if (rn_overrides_get(t->overrides, t->noverrides, key) != NULL) {
        snprintf(why, whylen, "config %s given twice", key);
        err = RN_EINVAL;
    } else if (rn_topic_config_check(key, value, &res) != 0) {
        snprintf(why, whylen, "%.120s", res.message); /* the start says which key and why */
        err = RN_EINVAL;
    }
    if (err != 0) {
        free(key);
        free(value);
        return err;
    }
    t->overrides = rn_xrealloc(t->overrides, (t->noverrides + 1) * sizeof *t->overrides);
    t->overrides[t->noverrides++] = (rn_topic_override_t){ .key = key, .value = value };
    return 0;
}

static int decode_topic(const char *s, size_t len, rn_topic_line_t *t, char *why, size_t whylen)
{
    size_t pos = 0, flen;
    const char *f;
    int64_t v;
    if (!next_field(s, len, &pos, &f, &flen)) {
        snprintf(why, whylen, "empty line");
        return RN_EINVAL;
    }
    if (!rn_topic_name_valid((rn_str_t){ f, flen }, why, whylen))
        return RN_EINVAL;
    if ((t->name = strndup(f, flen)) == NULL)
        return RN_ENOMEM;
    if (!next_field(s, len, &pos, &f, &flen) || !rn_uuid_parse(f, flen, &t->id) ||
        rn_uuid_is_zero(&t->id)) {
        snprintf(why, whylen, "topic %s: bad topic id", t->name);
        return RN_EINVAL;
    }
    if (!next_field(s, len, &pos, &f, &flen) ||
        !parse_decimal(f, flen, false, 1, RN_TOPICS_MAX_PARTITIONS, &v)) {
        snprintf(why, whylen, "topic %s: bad partition count", t->name);
        return RN_EINVAL;
    }
    t->npartitions = (int32_t)v;
    if (!next_field(s, len, &pos, &f, &flen) || flen != 1 || (f[0] != '0' && f[0] != '1')) {
        snprintf(why, whylen, "topic %s: bad internal flag", t->name);
        return RN_EINVAL;
    }
    t->internal = f[0] == '1';
    while (next_field(s, len, &pos, &f, &flen)) {
        char sub[160];
        int err = decode_override(t, f, flen, sub, sizeof sub);
        if (err != 0) {
            snprintf(why, whylen, "topic %s: %s", t->name, sub);
            return err;
        }
    }
    /* A trailing space would leave an empty last field that next_field never returns. */
    if (len > 0 && s[len - 1] == ' ') {
        snprintf(why, whylen, "topic %s: trailing space", t->name);
        return RN_EINVAL;
    }
    return 0;
}

int rn_topics_file_decode(const char *text, size_t len, rn_topic_line_t **out, size_t *n, char *why,
                          size_t whylen)
{
    lines_t l = { .cur = text, .end = text + len };
    const char *line;
    size_t llen;
    bool terminated;
    char header[64], sub[200];
    *out = NULL;
    *n = 0;
    snprintf(header, sizeof header, "%s %d", RN_TOPICS_FILE_MAGIC, RN_TOPICS_FILE_VERSION);
    if (!next_line(&l, &line, &llen, &terminated) || !terminated) {
        snprintf(why, whylen, "line 1: not a topic file");
        return RN_EINVAL;
    }
    size_t magic = strlen(RN_TOPICS_FILE_MAGIC);
    if (llen != strlen(header) || memcmp(line, header, llen) != 0) {
        if (llen > magic && memcmp(line, RN_TOPICS_FILE_MAGIC " ", magic + 1) == 0)
            snprintf(why, whylen,
                     "line 1: unsupported version '%.*s' (this Runnel reads version %d)",
                     (int)(llen - magic - 1 > 20 ? 20 : llen - magic - 1), line + magic + 1,
                     RN_TOPICS_FILE_VERSION);
        else
            snprintf(why, whylen, "line 1: not a topic file");
        return RN_EINVAL;
    }
    rn_topic_line_t *lines = NULL;
    size_t count = 0;
    int err = 0;
    while (err == 0 && next_line(&l, &line, &llen, &terminated)) {
        if (memchr(line, '\0', llen) != NULL || !terminated) {
            snprintf(why, whylen, "line %zu: %s", l.number,
                     terminated ? "NUL byte" : "no end of line (file cut short?)");
            err = RN_EINVAL;
            break;
        }
        lines = rn_xrealloc(lines, (count + 1) * sizeof *lines);
        lines[count] = (rn_topic_line_t){ 0 };
        err = decode_topic(line, llen, &lines[count], sub, sizeof sub);
        count++;
        if (err == RN_EINVAL)
            snprintf(why, whylen, "line %zu: %s", l.number, sub);
    }
    if (err == 0)
        err = check_unique(lines, count, why, whylen);
    if (err != 0) {
        if (err == RN_ENOMEM)
            snprintf(why, whylen, "out of memory");
        rn_topic_lines_free(lines, count);
        return err;
    }
    *out = lines;
    *n = count;
    return 0;
}

/* ---- Checkpoints ---- */

void rn_checkpoint_encode(const rn_checkpoint_entry_t *entries, size_t n, rn_text_t *out)
{
    rn_text_printf(out, "0\n%zu\n", n);
    for (size_t i = 0; i < n; i++)
        rn_text_printf(out, "%s %d %lld\n", entries[i].topic, entries[i].partition,
                       (long long)entries[i].offset);
}

static int compare_entries(const void *a, const void *b)
{
    const rn_checkpoint_entry_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c != 0 ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

void rn_checkpoint_sort(rn_checkpoint_entry_t *entries, size_t n)
{
    if (n > 1)
        qsort(entries, n, sizeof *entries, compare_entries);
}

void rn_checkpoint_entries_free(rn_checkpoint_entry_t *entries, size_t n)
{
    if (entries == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(entries[i].topic);
    free(entries);
}

/* Kafka's CheckpointFile reader splits each entry on whitespace and wants exactly three fields;
 * we read what Kafka writes: single spaces. */
static int decode_entry(const char *s, size_t len, rn_checkpoint_entry_t *e)
{
    size_t pos = 0, flen;
    const char *f;
    int64_t v;
    char why[8];
    if (!next_field(s, len, &pos, &f, &flen) ||
        !rn_topic_name_valid((rn_str_t){ f, flen }, why, sizeof why))
        return RN_EINVAL;
    const char *name = f;
    size_t name_len = flen;
    if (!next_field(s, len, &pos, &f, &flen) || !parse_decimal(f, flen, false, 0, INT32_MAX, &v))
        return RN_EINVAL;
    e->partition = (int32_t)v;
    if (!next_field(s, len, &pos, &f, &flen) ||
        !parse_decimal(f, flen, true, INT64_MIN, INT64_MAX, &v))
        return RN_EINVAL;
    e->offset = v;
    if (pos < len || s[len - 1] == ' ')
        return RN_EINVAL;
    if ((e->topic = strndup(name, name_len)) == NULL)
        return RN_ENOMEM;
    return 0;
}

int rn_checkpoint_decode(const char *text, size_t len, rn_checkpoint_entry_t **out, size_t *n,
                         char *why, size_t whylen)
{
    lines_t l = { .cur = text, .end = text + len };
    const char *line;
    size_t llen;
    bool terminated;
    int64_t count;
    *out = NULL;
    *n = 0;
    if (!next_line(&l, &line, &llen, &terminated) || llen != 1 || line[0] != '0') {
        snprintf(why, whylen, "line 1: expected version 0");
        return RN_EINVAL;
    }
    if (!next_line(&l, &line, &llen, &terminated) ||
        !parse_decimal(line, llen, false, 0, INT32_MAX, &count)) {
        snprintf(why, whylen, "line 2: bad entry count");
        return RN_EINVAL;
    }
    /* The array grows with the entries actually present, never with what the count claims. */
    rn_checkpoint_entry_t *entries = NULL;
    size_t got = 0, cap = 0;
    int err = 0;
    while (err == 0 && got < (size_t)count && next_line(&l, &line, &llen, &terminated)) {
        if (got == cap) {
            cap = cap ? cap * 2 : 64;
            rn_checkpoint_entry_t *bigger = realloc(entries, cap * sizeof *entries);
            if (bigger == NULL) {
                err = RN_ENOMEM;
                break;
            }
            entries = bigger;
        }
        if ((err = decode_entry(line, llen, &entries[got])) == 0)
            got++;
        else if (err == RN_EINVAL)
            snprintf(why, whylen, "line %zu: malformed entry", l.number);
    }
    if (err == 0 && got < (size_t)count) {
        snprintf(why, whylen, "expected %lld entries, found %zu", (long long)count, got);
        err = RN_EINVAL;
    }
    if (err == 0 && next_line(&l, &line, &llen, &terminated)) {
        snprintf(why, whylen, "line %zu: more entries than the count says", l.number);
        err = RN_EINVAL;
    }
    if (err != 0) {
        if (err == RN_ENOMEM)
            snprintf(why, whylen, "out of memory");
        rn_checkpoint_entries_free(entries, got);
        return err;
    }
    rn_checkpoint_sort(entries, got);
    *out = entries;
    *n = got;
    return 0;
}

int64_t rn_checkpoint_find(const rn_checkpoint_entry_t *entries, size_t n, const char *topic,
                           int32_t partition, int64_t missing)
{
    rn_checkpoint_entry_t key = { .topic = (char *)topic, .partition = partition };
    const rn_checkpoint_entry_t *e =
        n > 0 ? bsearch(&key, entries, n, sizeof *entries, compare_entries) : NULL;
    return e != NULL ? e->offset : missing;
}

/* ---- The clean-shutdown marker ---- */

int rn_clean_marker_write(const char *dir)
{
    return rn_fs_write_atomic(dir, RN_CLEAN_SHUTDOWN_FILE, "", 0);
}

bool rn_clean_marker_exists(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    /* Any doubt (a path too long, a stat error) means "not clean": recovery is always safe. */
    return join(path, sizeof path, dir, RN_CLEAN_SHUTDOWN_FILE, "") == 0 && stat(path, &st) == 0 &&
           S_ISREG(st.st_mode);
}

int rn_clean_marker_remove(const char *dir)
{
    char path[PATH_MAX];
    int err = join(path, sizeof path, dir, RN_CLEAN_SHUTDOWN_FILE, "");
    if (err != 0)
        return err;
    if (unlink(path) != 0)
        return errno == ENOENT ? 0 : -errno;
    /* Until the unlink is durable, a crash could bring the marker back and skip recovery. */
    return rn_fsync_dir(dir);
}

/* ---- Partition directories ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int rn_persist_remove_tree(const char *path)
{
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return errno == ENOENT ? 0 : (errno != 0 ? -errno : -EIO);
    return 0;
}

/* Splits `<topic>-<partition>` at its last '-'. */
static bool partition_dir_name(const char *name, size_t len, char *topic, int32_t *partition)
{
    const char *dash = NULL;
    for (const char *p = name; p < name + len; p++)
        if (*p == '-')
            dash = p;
    int64_t v;
    char why[8];
    if (dash == NULL || dash == name ||
        !parse_decimal(dash + 1, len - (size_t)(dash + 1 - name), false, 0, INT32_MAX, &v))
        return false;
    size_t tlen = (size_t)(dash - name);
    if (!rn_topic_name_valid((rn_str_t){ name, tlen }, why, sizeof why))
        return false;
    memcpy(topic, name, tlen);
    topic[tlen] = '\0';
    *partition = (int32_t)v;
    return true;
}

int rn_persist_sweep_partition_dirs(const char *dir,
                                    bool (*keep)(const char *topic, int32_t partition, void *arg),
                                    void *arg, size_t *found)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -errno;
    int err = 0;
    struct dirent *de;
    *found = 0;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX], topic[RN_TOPIC_NAME_MAX + 1];
        int32_t partition;
        struct stat st;
        size_t len = strlen(de->d_name);
        if (join(path, sizeof path, dir, de->d_name, "") != 0 || lstat(path, &st) != 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        /* Kafka renames a deleted partition to `<topic>-<partition>.<id>-delete` and removes it
         * later; one left behind by a crash is garbage. */
        static const char suffix[] = "-delete";
        size_t slen = sizeof suffix - 1;
        const char *dot = len > slen ? memrchr(de->d_name, '.', len - slen) : NULL;
        bool deleted =
            len > slen && memcmp(de->d_name + len - slen, suffix, slen) == 0 && dot != NULL &&
            partition_dir_name(de->d_name, (size_t)(dot - de->d_name), topic, &partition);
        if (!deleted && !partition_dir_name(de->d_name, len, topic, &partition))
            continue;
        (*found)++;
        if (!deleted && keep(topic, partition, arg))
            continue;
        rn_log(RN_LOG_INFO, "topics", "removing %s: a partition of a deleted topic", path);
        int rc = rn_persist_remove_tree(path);
        if (rc != 0 && err == 0)
            err = rc;
    }
    closedir(d);
    return err;
}
