/*
 * Unit tests for crmpi_json_report (plugin/outputs.c): Criterion's JSON
 * report shape, but valid JSON whatever the assertion messages contain.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/options.h>
#include <json-c/json.h>

#include "outputs.h"

/* ---- a hand-built statistics tree ------------------------------------------------ */

struct t_tree {
    struct criterion_global_stats global;
    struct criterion_suite_stats s1, s2;
    struct criterion_suite suite1, suite2;
    struct criterion_test t_pass, t_fail, t_crash, t_timeout, t_skip, t_skip_default, t_other;
    struct criterion_test_stats st_pass, st_fail, st_crash, st_timeout, st_skip,
            st_skip_default, st_other;
    struct criterion_assert_stats a_ok, a_quotes, a_multi, a_ctrl;
};

#define T_NASTY "say \"hi\" \\ back\\slash \t tab / slash \x01 ctl \xc3\xa9t\xc3\xa9"

static void t_tree_init(struct t_tree *t)
{
    memset(t, 0, sizeof(*t));
    t->suite1 = (struct criterion_suite) { .name = "suite \"one\"" };
    t->suite2 = (struct criterion_suite) { .name = "two\\2" };
    t->t_pass = (struct criterion_test) { .name = "passes", .category = "suite \"one\"" };
    t->t_fail = (struct criterion_test) { .name = "fails \"quoted\"", .category = "suite \"one\"" };
    t->t_crash = (struct criterion_test) { .name = "crashes", .category = "suite \"one\"" };
    t->t_timeout = (struct criterion_test) { .name = "hangs", .category = "suite \"one\"" };
    t->t_skip = (struct criterion_test) { .name = "skipped", .category = "two\\2" };
    t->t_skip_default = (struct criterion_test) { .name = "skipped2", .category = "two\\2" };
    t->t_other = (struct criterion_test) { .name = "newline\nname", .category = "two\\2" };

    /* Criterion keeps asserts newest first. */
    t->a_ctrl = (struct criterion_assert_stats) {
        .message = "bell \a and nul-free\r\nwindows line", .passed = false, .line = 40,
        .file = "src/deep/dir/ctrl.c",
    };
    t->a_multi = (struct criterion_assert_stats) {
        .message = "first line\n  second \"line\"\nthird\\line", .passed = false, .line = 30,
        .file = "src/multi.c", .next = &t->a_ctrl,
    };
    t->a_quotes = (struct criterion_assert_stats) {
        .message = T_NASTY, .passed = false, .line = 20, .file = "src/quo\"tes.c",
        .next = &t->a_multi,
    };
    t->a_ok = (struct criterion_assert_stats) {
        .message = "this one passed", .passed = true, .line = 10, .file = "src/ok.c",
        .next = &t->a_quotes,
    };

    t->st_pass = (struct criterion_test_stats) {
        .test = &t->t_pass, .test_status = CR_STATUS_PASSED, .passed_asserts = 2,
        .next = &t->st_fail,
    };
    t->st_fail = (struct criterion_test_stats) {
        .test = &t->t_fail, .asserts = &t->a_ok, .test_status = CR_STATUS_FAILED,
        .passed_asserts = 1, .failed_asserts = 3, .next = &t->st_crash,
    };
    t->st_crash = (struct criterion_test_stats) {
        .test = &t->t_crash, .test_status = CR_STATUS_FAILED, .crashed = true, .signal = 11,
        .next = &t->st_timeout,
    };
    t->st_timeout = (struct criterion_test_stats) {
        .test = &t->t_timeout, .test_status = CR_STATUS_FAILED, .timed_out = true,
    };
    t->st_skip = (struct criterion_test_stats) {
        .test = &t->t_skip, .test_status = CR_STATUS_SKIPPED,
        .message = "not \"ready\"\\yet", .next = &t->st_skip_default,
    };
    t->st_skip_default = (struct criterion_test_stats) {
        .test = &t->t_skip_default, .test_status = CR_STATUS_SKIPPED, .next = &t->st_other,
    };
    t->st_other = (struct criterion_test_stats) {
        .test = &t->t_other, .test_status = CR_STATUS_PASSED, .passed_asserts = 1,
    };

    t->s1 = (struct criterion_suite_stats) {
        .suite = &t->suite1, .tests = &t->st_pass, .nb_tests = 4, .tests_passed = 1,
        .tests_failed = 3, .tests_crashed = 2, .next = &t->s2,
    };
    t->s2 = (struct criterion_suite_stats) {
        .suite = &t->suite2, .tests = &t->st_skip, .nb_tests = 3, .tests_passed = 1,
        .tests_skipped = 2,
    };
    t->global = (struct criterion_global_stats) {
        .suites = &t->s1, .nb_suites = 2, .nb_tests = 7, .tests_passed = 2, .tests_failed = 3,
        .tests_crashed = 2, .tests_skipped = 2,
    };
}

/* Writes the report of stats and parses it strictly; the caller puts the root. */
static json_object *t_report(struct criterion_global_stats *stats, char **text_out)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    crmpi_json_report(f, stats);
    cr_assert_eq(fclose(f), 0);
    cr_assert_not_null(text);
    cr_assert_gt(len, 0);

    json_tokener *tok = json_tokener_new();
    cr_assert_not_null(tok);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *root = json_tokener_parse_ex(tok, text, (int) len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t used = (size_t) json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    cr_assert_not_null(root, "the report is not valid JSON (%s):\n%s",
            json_tokener_error_desc(err), text);
    /* Only whitespace may follow the document. */
    for (size_t i = used; i < len; ++i)
        cr_assert(text[i] == '\n' || text[i] == ' ', "junk after the JSON document: %s",
                text + used);
    if (text_out)
        *text_out = text;
    else
        free(text);
    return root;
}

static json_object *t_get(json_object *o, const char *key, json_type type)
{
    json_object *v = NULL;
    cr_assert(json_object_object_get_ex(o, key, &v), "missing key \"%s\" in %s", key,
            json_object_to_json_string(o));
    cr_assert_eq(json_object_get_type(v), type, "\"%s\" has type %s", key,
            json_type_to_name(json_object_get_type(v)));
    return v;
}

static void t_expect_counts(json_object *o, int passed, int failed, int errored, int skipped)
{
    cr_assert_eq(json_object_get_int(t_get(o, "passed", json_type_int)), passed);
    cr_assert_eq(json_object_get_int(t_get(o, "failed", json_type_int)), failed);
    cr_assert_eq(json_object_get_int(t_get(o, "errored", json_type_int)), errored);
    cr_assert_eq(json_object_get_int(t_get(o, "skipped", json_type_int)), skipped);
}

static json_object *t_test(json_object *root, size_t suite, size_t test)
{
    json_object *suites = t_get(root, "test_suites", json_type_array);
    cr_assert_lt(suite, json_object_array_length(suites));
    json_object *tests = t_get(json_object_array_get_idx(suites, suite), "tests", json_type_array);
    cr_assert_lt(test, json_object_array_length(tests));
    return json_object_array_get_idx(tests, test);
}

static const char *t_str(json_object *o, const char *key)
{
    return json_object_get_string(t_get(o, key, json_type_string));
}

static json_object *t_messages(json_object *test)
{
    return t_get(test, "messages", json_type_array);
}

static const char *t_message(json_object *test, size_t i)
{
    json_object *msgs = t_messages(test);
    cr_assert_lt(i, json_object_array_length(msgs), "message %zu of %s", i,
            json_object_to_json_string(test));
    json_object *m = json_object_array_get_idx(msgs, i);
    cr_assert_eq(json_object_get_type(m), json_type_string);
    return json_object_get_string(m);
}

/* ---- tests ------------------------------------------------------------------------- */

Test(json, hostile_text_is_valid_json)
{
    struct t_tree t;
    t_tree_init(&t);
    criterion_options.short_filename = false;
    json_object *root = t_report(&t.global, NULL);
    json_object_put(root);
}

Test(json, id_is_criterion_s)
{
    struct t_tree t;
    t_tree_init(&t);
    json_object *root = t_report(&t.global, NULL);
    /* Criterion 2.4.1 writes "Criterion v2.4.1"; consumers match on it. */
    cr_assert_str_eq(t_str(root, "id"), "Criterion v" CRMPI_TEST_CRITERION_VERSION);
    json_object_put(root);
}

Test(json, global_and_suite_counts)
{
    struct t_tree t;
    t_tree_init(&t);
    json_object *root = t_report(&t.global, NULL);
    t_expect_counts(root, 2, 3, 2, 2);
    json_object *suites = t_get(root, "test_suites", json_type_array);
    cr_assert_eq(json_object_array_length(suites), 2);
    json_object *s1 = json_object_array_get_idx(suites, 0);
    json_object *s2 = json_object_array_get_idx(suites, 1);
    cr_assert_str_eq(t_str(s1, "name"), "suite \"one\"");
    cr_assert_str_eq(t_str(s2, "name"), "two\\2");
    t_expect_counts(s1, 1, 3, 2, 0);
    t_expect_counts(s2, 1, 0, 0, 2);
    cr_assert_eq(json_object_array_length(t_get(s1, "tests", json_type_array)), 4);
    cr_assert_eq(json_object_array_length(t_get(s2, "tests", json_type_array)), 3);
    json_object_put(root);
}

Test(json, statuses_and_assertion_counts)
{
    struct t_tree t;
    t_tree_init(&t);
    json_object *root = t_report(&t.global, NULL);
    static const struct { size_t s, t; const char *name, *status; int asserts; } want[] = {
        { 0, 0, "passes", "PASSED", 2 },
        { 0, 1, "fails \"quoted\"", "FAILED", 4 },
        { 0, 2, "crashes", "ERRORED", 0 },
        { 0, 3, "hangs", "ERRORED", 0 },
        { 1, 0, "skipped", "SKIPPED", 0 },
        { 1, 1, "skipped2", "SKIPPED", 0 },
        { 1, 2, "newline\nname", "PASSED", 1 },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); ++i) {
        json_object *test = t_test(root, want[i].s, want[i].t);
        cr_assert_str_eq(t_str(test, "name"), want[i].name);
        cr_assert_str_eq(t_str(test, "status"), want[i].status, "%s", want[i].name);
        cr_assert_eq(json_object_get_int(t_get(test, "assertions", json_type_int)),
                want[i].asserts, "%s", want[i].name);
    }
    /* A passing test has no messages at all. */
    cr_assert_not(json_object_object_get_ex(t_test(root, 0, 0), "messages", NULL));
    json_object_put(root);
}

Test(json, failed_assertion_messages_round_trip)
{
    struct t_tree t;
    t_tree_init(&t);
    criterion_options.short_filename = false;
    json_object *root = t_report(&t.global, NULL);
    json_object *fail = t_test(root, 0, 1);

    /* Failed asserts only, in list order; continuation lines indented. */
    cr_assert_str_eq(t_message(fail, 0), "src/quo\"tes.c:20: " T_NASTY);
    cr_assert_str_eq(t_message(fail, 1), "src/multi.c:30: first line");
    cr_assert_str_eq(t_message(fail, 2), "    second \"line\"");
    cr_assert_str_eq(t_message(fail, 3), "  third\\line");
    const char *ctrl = t_message(fail, 4);
    cr_assert_not_null(strstr(ctrl, "src/deep/dir/ctrl.c:40: bell \a and nul-free"), "%s", ctrl);
    for (size_t i = 0; i < json_object_array_length(t_messages(fail)); ++i)
        cr_assert_null(strstr(t_message(fail, i), "this one passed"));
    json_object_put(root);
}

Test(json, crash_timeout_and_skip_messages)
{
    struct t_tree t;
    t_tree_init(&t);
    json_object *root = t_report(&t.global, NULL);
    cr_assert_str_eq(t_message(t_test(root, 0, 2), 0), "The test crashed.");
    cr_assert_str_eq(t_message(t_test(root, 0, 3), 0), "The test timed out.");
    cr_assert_str_eq(t_message(t_test(root, 1, 0), 0), "not \"ready\"\\yet");
    cr_assert_str_eq(t_message(t_test(root, 1, 1), 0), "The test was skipped.");
    json_object_put(root);
}

Test(json, short_filename_keeps_the_base_name)
{
    struct t_tree t;
    t_tree_init(&t);
    criterion_options.short_filename = true;
    json_object *root = t_report(&t.global, NULL);
    criterion_options.short_filename = false;
    json_object *fail = t_test(root, 0, 1);
    cr_assert_str_eq(t_message(fail, 1), "multi.c:30: first line");
    cr_assert_not_null(strstr(t_message(fail, 4), "ctrl.c:40: "));
    cr_assert_null(strstr(t_message(fail, 4), "deep/"));
    json_object_put(root);
}

Test(json, assertion_without_message_or_file)
{
    struct t_tree t;
    t_tree_init(&t);
    t.a_ctrl.message = NULL;
    t.a_ctrl.file = NULL;
    json_object *root = t_report(&t.global, NULL);
    json_object *fail = t_test(root, 0, 1);
    size_t n = json_object_array_length(t_messages(fail));
    cr_assert_eq(n, 5, "%zu messages", n);
    json_object_put(root);
}

Test(json, empty_run)
{
    struct criterion_global_stats empty = { 0 };
    json_object *root = t_report(&empty, NULL);
    t_expect_counts(root, 0, 0, 0, 0);
    cr_assert_eq(json_object_array_length(t_get(root, "test_suites", json_type_array)), 0);
    json_object_put(root);
}

Test(json, suite_without_tests)
{
    struct criterion_suite s = { .name = "lonely" };
    struct criterion_suite_stats ss = { .suite = &s };
    struct criterion_global_stats g = { .suites = &ss, .nb_suites = 1 };
    json_object *root = t_report(&g, NULL);
    json_object *suites = t_get(root, "test_suites", json_type_array);
    cr_assert_eq(json_object_array_length(suites), 1);
    json_object *tests = t_get(json_object_array_get_idx(suites, 0), "tests", json_type_array);
    cr_assert_eq(json_object_array_length(tests), 0);
    json_object_put(root);
}
