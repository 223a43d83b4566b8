/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/topics/names.c: Kafka's topic name rules, topic ids and their base64url text,
 * and the %XX escapes of the topic file. */
#include <criterion/criterion.h>

#include <string.h>

#include "topics/internal.h"

static bool valid(const char *name)
{
    char why[160];
    return rn_topic_name_valid(rn_str_from_cstr(name), why, sizeof why);
}

Test(names, legal_names_are_accepted)
{
    char longest[RN_TOPIC_NAME_MAX + 1];
    memset(longest, 'a', RN_TOPIC_NAME_MAX);
    longest[RN_TOPIC_NAME_MAX] = '\0';
    static const char *ok[] = { "a",   "test",     "my-topic",           "my_topic", "my.topic",
                                "...", "_schemas", "__consumer_offsets", "A-Z.0_9",  "-" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_assert(valid(ok[i]), "'%s'", ok[i]);
    cr_assert(valid(longest));
}

Test(names, illegal_names_get_kafkas_messages)
{
    char why[160], toolong[RN_TOPIC_NAME_MAX + 2];
    memset(toolong, 'a', RN_TOPIC_NAME_MAX + 1);
    toolong[RN_TOPIC_NAME_MAX + 1] = '\0';
    cr_assert_not(rn_topic_name_valid(rn_str_from_cstr(""), why, sizeof why));
    cr_assert_str_eq(why, "Topic name is illegal, it can't be empty");
    cr_assert_not(rn_topic_name_valid((rn_str_t){ NULL, 0 }, why, sizeof why));
    cr_assert_not(rn_topic_name_valid(rn_str_from_cstr("."), why, sizeof why));
    cr_assert_str_eq(why, "Topic name cannot be \".\" or \"..\"");
    cr_assert_not(rn_topic_name_valid(rn_str_from_cstr(".."), why, sizeof why));
    cr_assert_not(rn_topic_name_valid(rn_str_from_cstr(toolong), why, sizeof why));
    cr_assert_str_eq(why, "Topic name is illegal, it can't be longer than 249 characters");
    static const char *bad[] = { "a b", "a/b", "a:b", "ä", "a\nb", "a*", "topic!", "a\\b", "a,b" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_not(rn_topic_name_valid(rn_str_from_cstr(bad[i]), why, sizeof why), "'%s'",
                      bad[i]);
        cr_assert_str_eq(why, "Topic name is illegal, it contains a character other than ASCII "
                              "alphanumerics, '.', '_' and '-'");
    }
    /* A NUL inside the view is a character like any other. */
    cr_assert_not(rn_topic_name_valid((rn_str_t){ "a\0b", 3 }, why, sizeof why));
}

Test(names, collision_key_confuses_dot_and_underscore)
{
    char a[RN_TOPIC_NAME_MAX + 1], b[RN_TOPIC_NAME_MAX + 1];
    rn_topic_name_collision_key(rn_str_from_cstr("my.topic"), a);
    rn_topic_name_collision_key(rn_str_from_cstr("my_topic"), b);
    cr_assert_str_eq(a, "my_topic");
    cr_assert_str_eq(a, b);
}

Test(names, uuid_text_matches_kafkas)
{
    /* Kafka: new Uuid(0, 1).toString() is "AAAAAAAAAAAAAAAAAAAAAQ"; Uuid.ZERO_UUID is all 'A'. */
    rn_uuid_t id = { { 0 } };
    char text[23];
    rn_uuid_format(&id, text);
    cr_assert_str_eq(text, "AAAAAAAAAAAAAAAAAAAAAA");
    id.b[15] = 1;
    rn_uuid_format(&id, text);
    cr_assert_str_eq(text, "AAAAAAAAAAAAAAAAAAAAAQ");
    memset(id.b, 0xff, sizeof id.b);
    rn_uuid_format(&id, text);
    cr_assert_str_eq(text, "_____________________w");
    rn_uuid_t back;
    cr_assert(rn_uuid_parse(text, strlen(text), &back));
    cr_assert_eq(memcmp(back.b, id.b, 16), 0);
}

Test(names, uuid_parse_rejects_anything_else)
{
    rn_uuid_t id;
    cr_assert_not(rn_uuid_parse("AAAA", 4, &id));
    cr_assert_not(rn_uuid_parse("AAAAAAAAAAAAAAAAAAAAAAA", 23, &id));
    cr_assert_not(rn_uuid_parse("AAAAAAAAAAAAAAAAAAAAA=", 22, &id), "no padding");
    cr_assert_not(rn_uuid_parse("AAAAAAAAAAAAAAAAAAAA+A", 22, &id), "not the standard alphabet");
    cr_assert_not(rn_uuid_parse("AAAAAAAAAAAAAAAAAAAAAB", 22, &id), "unused low bits must be zero");
    cr_assert_not(rn_uuid_parse("AAAAAAAAAAAAAAAAAAAA\0A", 22, &id));
}

Test(names, new_ids_are_version_4_unique_and_safe_to_print)
{
    rn_uuid_t ids[500];
    for (size_t i = 0; i < 500; i++) {
        cr_assert_eq(rn_topic_id_make(&ids[i]), 0);
        cr_assert_not(rn_uuid_is_zero(&ids[i]));
        cr_assert_eq(ids[i].b[6] >> 4, 4, "version 4");
        cr_assert_eq(ids[i].b[8] >> 6, 2, "IETF variant");
        char text[23];
        rn_uuid_format(&ids[i], text);
        cr_assert_neq(text[0], '-', "Kafka never makes an id whose text starts with '-'");
        rn_uuid_t back;
        cr_assert(rn_uuid_parse(text, 22, &back));
        cr_assert_eq(memcmp(back.b, ids[i].b, 16), 0);
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(memcmp(ids[i].b, ids[j].b, 16), 0);
    }
}

Test(names, escapes_round_trip_every_byte)
{
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    rn_text_t t = { 0 };
    rn_text_escape(&t, all);
    for (size_t i = 0; i < t.len; i++)
        cr_assert(t.ptr[i] > ' ' && t.ptr[i] < 0x7f && t.ptr[i] != '=',
                  "escaped text is one printable token");
    char *back = rn_unescape(t.ptr, t.len);
    cr_assert_not_null(back);
    cr_assert_str_eq(back, all);
    free(back);
    rn_text_free(&t);

    rn_text_escape(&t, "a b=c%d");
    cr_assert_str_eq(t.ptr, "a%20b%3Dc%25d");
    rn_text_free(&t);
}

Test(names, unescape_rejects_bad_text)
{
    static const char *bad[] = { "%", "%4", "%4G", "%00", "a b", "a=b", "\x01", "\xc3\xa4" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_null(rn_unescape(bad[i], strlen(bad[i])), "'%s'", bad[i]);
    char *ok = rn_unescape("%41%62c", 7);
    cr_assert_str_eq(ok, "Abc");
    free(ok);
    ok = rn_unescape("", 0);
    cr_assert_str_eq(ok, "");
    free(ok);
}
