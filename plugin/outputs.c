#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/logging.h>
#include <criterion/options.h>
#include <json-c/json.h>

#include "crit.h"
#include "crit_release.h"
#include "diag.h"
#include "dlsyms.h"
#include "outputs.h"
#include "utf8.h"

struct outputs_provider {
    char *name;
    criterion_reporter *fn;
    int builtin;
};

struct outputs_request {
    char *provider;
    const char *path;
};

static struct outputs_provider *providers;
static size_t n_providers;
static struct outputs_request *requests;
static size_t n_requests;
static const char *outputs_incomplete;

void crmpi_outputs_mark_incomplete(const char *why)
{
    outputs_incomplete = why;
}

int crmpi_outputs_register(const char *name, criterion_reporter *fn, int builtin)
{
    for (size_t i = 0; i < n_providers; ++i) {
        if (!strcmp(providers[i].name, name)) {
            providers[i].fn = fn;
            providers[i].builtin = builtin;
            return 0;
        }
    }
    struct outputs_provider *grown = realloc(providers, (n_providers + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    providers = grown;
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    providers[n_providers++] = (struct outputs_provider) { copy, fn, builtin };
    return 0;
}

int crmpi_outputs_add(const char *provider, const char *path)
{
    struct outputs_request *grown = realloc(requests, (n_requests + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    requests = grown;
    char *copy = strdup(provider);
    if (!copy)
        return -ENOMEM;
    requests[n_requests++] = (struct outputs_request) { copy, path };
    return 0;
}

int crmpi_outputs_requested(void)
{
    return n_requests > 0;
}

void crmpi_outputs_free(void)
{
    for (size_t i = 0; i < n_providers; ++i)
        free(providers[i].name);
    for (size_t i = 0; i < n_requests; ++i)
        free(requests[i].provider);
    free(providers);
    free(requests);
    providers = NULL;
    requests = NULL;
    n_providers = n_requests = 0;
}

/* Criterion's own line prefix; its table is not exported. */
static const struct criterion_prefix_data outputs_dashes = { "----", "\33[0;34m" };

/* "<dir>/<exe>.<ext>", or "<dir>/<exe>_<n>.<ext>" when taken: as Criterion. */
static char *outputs_unique_name(const char *dir, const char *ext)
{
    char *exe = strdup(crmpi_crit_executable_name() ? crmpi_crit_executable_name() : "tests");
    if (!exe)
        return NULL;
    const char *base = basename(exe);
    char *path = NULL;
    for (unsigned n = 0; n < 100000; ++n) {
        int rc = n ? asprintf(&path, "%s/%s_%u.%s", dir, base, n, ext)
                   : asprintf(&path, "%s/%s.%s", dir, base, ext);
        if (rc < 0) {
            path = NULL;
            break;
        }
        if (access(path, F_OK))
            break;
        free(path);
        path = NULL;
    }
    free(exe);
    return path;
}

static void outputs_write_one(const struct outputs_provider *p, const char *path,
        struct criterion_global_stats *stats)
{
    FILE *f;
    char *generated = NULL;
    struct stat st;
    /* 2.3.3 writes "-" to stderr and opens a directory as it would a file. */
    const struct crmpi_release *rel = crmpi_release_loaded();
    int paths_24 = !rel || rel->output_paths_24;

    if (!strcmp(path, "-")) {
        f = paths_24 ? stdout : stderr;
    } else if (!strcmp(path, "/dev/stderr")) {
        f = stderr;
    } else if (paths_24 && !stat(path, &st) && S_ISDIR(st.st_mode)) {
        generated = outputs_unique_name(path, p->name);
        f = generated ? fopen(generated, "w") : NULL;
    } else {
        f = fopen(path, "w");
    }
    const char *shown = generated ? generated : path;
    if (!f) {
        fprintf(stderr, "[ERR ] Could not open the file @ `%s` for %s reporting: %s.\n",
                shown, p->name, strerror(errno));
        free(generated);
        return;
    }
    criterion_plog(CRITERION_INFO, &outputs_dashes, "Writing %s report in `%s`.\n",
            p->name, path);

    criterion_reporter *fn = p->fn;
    if (p->builtin && !strcmp(p->name, "json"))
        fn = crmpi_json_report;
    fn(f, stats);
    if (outputs_incomplete && p->builtin && !strcmp(p->name, "tap"))
        fprintf(f, "Bail out! %s\n", outputs_incomplete);
    else if (outputs_incomplete && p->builtin && !strcmp(p->name, "xml"))
        fprintf(f, "<!-- incomplete run: %s -->\n", outputs_incomplete);

    if (f != stdout && f != stderr)
        fclose(f);
    else
        fflush(f);
    free(generated);
}

void crmpi_outputs_write(struct criterion_global_stats *stats)
{
    /* Criterion walks providers, then each provider's paths. */
    for (size_t i = 0; i < n_providers; ++i)
        for (size_t k = 0; k < n_requests; ++k)
            if (!strcmp(providers[i].name, requests[k].provider))
                outputs_write_one(&providers[i], requests[k].path, stats);
}

/* ---- JSON ------------------------------------------------------------------ */

/*
 * json-c, loaded when a JSON report is first written (see dlsyms.h): the
 * functions below are json-c's, called through this table.
 */
static struct {
    __typeof__(&json_object_new_object) new_object;
    __typeof__(&json_object_new_array) new_array;
    __typeof__(&json_object_new_string) new_string;
    __typeof__(&json_object_new_int64) new_int64;
    __typeof__(&json_object_object_add) object_add;
    __typeof__(&json_object_array_add) array_add;
    __typeof__(&json_object_to_json_string_ext) to_json_string_ext;
    __typeof__(&json_object_put) put;
} outputs_jc;

/* 0 once json-c is loaded, or -ENOENT after saying why. */
static int outputs_jc_load(void)
{
    static int state;
    static const struct crmpi_dlsym syms[] = {
        CRMPI_DLSYM(outputs_jc, json_object_new_object, new_object),
        CRMPI_DLSYM(outputs_jc, json_object_new_array, new_array),
        CRMPI_DLSYM(outputs_jc, json_object_new_string, new_string),
        CRMPI_DLSYM(outputs_jc, json_object_new_int64, new_int64),
        CRMPI_DLSYM(outputs_jc, json_object_object_add, object_add),
        CRMPI_DLSYM(outputs_jc, json_object_array_add, array_add),
        CRMPI_DLSYM(outputs_jc, json_object_to_json_string_ext, to_json_string_ext),
        CRMPI_DLSYM(outputs_jc, json_object_put, put),
    };
    /* The soname of the json-c this was built against (json-c 0.15 to 0.17). */
    return crmpi_dlsyms(&state, "JSON report", "libjson-c.so.5", syms,
            sizeof(syms) / sizeof(syms[0]), &outputs_jc);
}

static const char *json_status(const struct criterion_test_stats *ts)
{
    return (ts->crashed || ts->timed_out) ? "ERRORED"
        : ts->test_status == CR_STATUS_FAILED ? "FAILED"
        : ts->test_status == CR_STATUS_SKIPPED ? "SKIPPED"
        : "PASSED";
}

static const char *json_path(const char *file)
{
    if (!criterion_options.short_filename || !file)
        return file ? file : "unknown";
    const char *slash = strrchr(file, '/');
    return slash ? slash + 1 : file;
}

/*
 * Criterion writes these strings unchecked: text that is not UTF-8 would make
 * the report unparseable.  Each ill-formed sequence (its maximal valid
 * prefix, or one byte) becomes U+FFFD, as JSON writers and decoders do.
 * Returns an owned string, or NULL on ENOMEM.
 */
static char *json_valid_utf8(const char *in)
{
    size_t len = strlen(in);
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t skip, need = crmpi_utf8_seq((const unsigned char *) in + i, len - i, &skip);
        if (need) {
            memcpy(out + o, in + i, need);
            o += need;
            i += need;
        } else {
            memcpy(out + o, CRMPI_UTF8_REPLACEMENT, sizeof(CRMPI_UTF8_REPLACEMENT) - 1);
            o += sizeof(CRMPI_UTF8_REPLACEMENT) - 1;
            i += skip;
        }
    }
    out[o] = '\0';
    return out;
}

/*
 * 2.4.2 and later escape a message byte by byte with a signed char: a byte
 * >= 0x80 is printed as "\u%04x" of a negative int, "\uffffffc3", which a
 * JSON reader takes as U+FFFF followed by the text "ffc3".  The same content,
 * written by json-c.  Returns an owned string, or NULL on ENOMEM.
 */
static char *json_sign_extended(const char *in)
{
    size_t len = strlen(in);
    char *out = malloc(len * 7 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (const unsigned char *u = (const unsigned char *) in; *u; ++u) {
        if (*u < 0x80)
            out[o++] = (char) *u;
        else
            o += (size_t) sprintf(out + o, "\xef\xbf\xbf" "ff%02x", *u);
    }
    out[o] = '\0';
    return out;
}

/* Adds text (borrowed) to arr as the loaded release would write it. */
static void json_add_text(json_object *arr, const char *text, int escaped)
{
    char *valid = escaped ? json_sign_extended(text) : json_valid_utf8(text);
    if (valid)
        outputs_jc.array_add(arr, outputs_jc.new_string(valid));
    free(valid);
}

static json_object *json_string(const char *text)
{
    char *valid = json_valid_utf8(text);
    json_object *o = outputs_jc.new_string(valid ? valid : "");
    free(valid);
    return o;
}

static void json_add_assert(json_object *msgs, const struct criterion_assert_stats *a,
        enum crmpi_json_style style)
{
    const char *file = json_path(a->file);
    char *entry = NULL;
    if (style == CRMPI_JSON_ESCAPED) {
        const char *msg = a->message && *a->message ? a->message : "(no message)";
        if (asprintf(&entry, "%s:%u: %s", file, a->line, msg) >= 0)
            json_add_text(msgs, entry, 1);
        free(entry);
        return;
    }
    /* One entry per message line, continuation lines indented. */
    char *dup = strdup(a->message ? a->message : "");
    char *save = NULL;
    char *line = dup ? strtok_r(dup, "\n", &save) : NULL;
    /* A message with no line at all prints as Criterion's does (printf of NULL). */
    if (asprintf(&entry, "%s:%u: %s", file, a->line, line ? line : "(null)") >= 0)
        json_add_text(msgs, entry, 0);
    free(entry);
    while (line && (line = strtok_r(NULL, "\n", &save))) {
        char *more = NULL;
        if (asprintf(&more, "  %s", line) >= 0)
            json_add_text(msgs, more, 0);
        free(more);
    }
    free(dup);
}

static json_object *json_messages(const struct criterion_test_stats *ts,
        enum crmpi_json_style style)
{
    json_object *msgs = outputs_jc.new_array();
    if (ts->test_status == CR_STATUS_SKIPPED) {
        json_add_text(msgs, ts->message ? ts->message : "The test was skipped.",
                style == CRMPI_JSON_ESCAPED && ts->message);
    } else if (ts->crashed) {
        outputs_jc.array_add(msgs, outputs_jc.new_string("The test crashed."));
    } else if (ts->timed_out) {
        outputs_jc.array_add(msgs, outputs_jc.new_string("The test timed out."));
    } else {
        for (const struct criterion_assert_stats *a = ts->asserts; a; a = a->next)
            if (!a->passed)
                json_add_assert(msgs, a, style);
    }
    return msgs;
}

static json_object *json_counts(const char *name, size_t passed, size_t failed,
        size_t errored, size_t skipped)
{
    json_object *o = outputs_jc.new_object();
    if (name) {
        outputs_jc.object_add(o, "name", json_string(name));
    } else {
        /* The loaded library's release, which its own writer prints. */
        const struct crmpi_release *r = crmpi_release_loaded();
        char id[64];
        snprintf(id, sizeof(id), "Criterion v%s", r ? r->name : CRMPI_CRITERION_VERSION);
        outputs_jc.object_add(o, "id", outputs_jc.new_string(id));
    }
    outputs_jc.object_add(o, "passed", outputs_jc.new_int64((int64_t) passed));
    outputs_jc.object_add(o, "failed", outputs_jc.new_int64((int64_t) failed));
    outputs_jc.object_add(o, "errored", outputs_jc.new_int64((int64_t) errored));
    outputs_jc.object_add(o, "skipped", outputs_jc.new_int64((int64_t) skipped));
    return o;
}

void crmpi_json_report(FILE *f, struct criterion_global_stats *stats)
{
    if (outputs_jc_load())
        return;
    json_object *root = json_counts(NULL, stats->tests_passed, stats->tests_failed,
            stats->tests_crashed, stats->tests_skipped);
    const struct crmpi_release *r = crmpi_release_loaded();
    enum crmpi_json_style style = r ? r->json : CRMPI_JSON_RAW_LINES;
    json_object *suites = outputs_jc.new_array();
    for (struct criterion_suite_stats *ss = stats->suites; ss; ss = ss->next) {
        json_object *suite = json_counts(ss->suite->name, ss->tests_passed,
                ss->tests_failed, ss->tests_crashed, ss->tests_skipped);
        json_object *tests = outputs_jc.new_array();
        for (struct criterion_test_stats *ts = ss->tests; ts; ts = ts->next) {
            json_object *test = outputs_jc.new_object();
            outputs_jc.object_add(test, "name", json_string(ts->test->name));
            outputs_jc.object_add(test, "assertions",
                    outputs_jc.new_int64(ts->passed_asserts + ts->failed_asserts));
            outputs_jc.object_add(test, "status", outputs_jc.new_string(json_status(ts)));
            if (ts->test_status != CR_STATUS_PASSED || ts->crashed || ts->timed_out)
                outputs_jc.object_add(test, "messages", json_messages(ts, style));
            outputs_jc.array_add(tests, test);
        }
        outputs_jc.object_add(suite, "tests", tests);
        outputs_jc.array_add(suites, suite);
    }
    outputs_jc.object_add(root, "test_suites", suites);
    if (outputs_incomplete)
        outputs_jc.object_add(root, "interrupted", outputs_jc.new_string(outputs_incomplete));
    fprintf(f, "%s\n", outputs_jc.to_json_string_ext(root,
            JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
    outputs_jc.put(root);
}
