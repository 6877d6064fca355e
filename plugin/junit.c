#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/xmlwriter.h>

#include "crit.h"
#include "diag.h"
#include "dlsyms.h"
#include "junit.h"
#include "utf8.h"

enum crmpi_junit_kind crmpi_junit_kind_of(const Crmp__Result *res)
{
    const Crmp__TestStats *f = res->final;
    if (!f || res->disabled || f->status == CR_STATUS_SKIPPED)
        return CRMPI_JUNIT_SKIP;
    if (f->crashed || f->timed_out)
        return CRMPI_JUNIT_ERROR;
    return f->status == CR_STATUS_FAILED ? CRMPI_JUNIT_FAIL : CRMPI_JUNIT_PASS;
}

/* ---- text ---------------------------------------------------------------------- */

/* A growing string; on ENOMEM it stays what it was and oom is set. */
struct junit_buf {
    char *s;
    size_t len, cap;
    int oom;
};

static void junit_add(struct junit_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void junit_add(struct junit_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || b->oom)
        return;
    if (b->len + (size_t) n + 1 > b->cap) {
        size_t cap = (b->len + (size_t) n + 1) * 2;
        char *grown = realloc(b->s, cap);
        if (!grown) {
            b->oom = 1;
            return;
        }
        b->s = grown;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

/*
 * What a test prints is bytes, XML is characters: each ill-formed UTF-8
 * sequence, and each character XML 1.0 forbids (C0 controls but tab, line
 * feed and carriage return; U+FFFE, U+FFFF), becomes U+FFFD, so the report
 * always parses.  Returns an owned string, or NULL on ENOMEM.
 */
static char *junit_clean(const void *data, size_t len)
{
    const unsigned char *in = data;
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        const unsigned char *u = in + i;
        size_t skip = 1, need = crmpi_utf8_seq(u, len - i, &skip);
        int allowed = need > 0;
        if (allowed && need == 1)
            allowed = u[0] >= 0x20 || u[0] == '\t' || u[0] == '\n' || u[0] == '\r';
        if (allowed && need == 3)
            allowed = !(u[0] == 0xef && u[1] == 0xbf && (u[2] == 0xbe || u[2] == 0xbf));
        if (allowed) {
            memcpy(out + o, u, need);
            o += need;
            i += need;
        } else {
            memcpy(out + o, CRMPI_UTF8_REPLACEMENT, sizeof(CRMPI_UTF8_REPLACEMENT) - 1);
            o += sizeof(CRMPI_UTF8_REPLACEMENT) - 1;
            i += need ? need : skip;    /* a forbidden character is replaced whole */
        }
    }
    out[o] = '\0';
    return out;
}

static const char *junit_base(const char *file)
{
    const char *slash = file ? strrchr(file, '/') : NULL;
    return slash ? slash + 1 : file ? file : "unknown";
}

/* How one try ended, in words: message (its first line goes in an attribute) and details. */
struct junit_outcome {
    enum crmpi_junit_kind kind;
    const char *type;
    char message[256];
    struct junit_buf details;
};

static void junit_outcome_of(const struct crmpi_report_unit *u, const Crmp__Result *res,
        struct junit_outcome *o)
{
    *o = (struct junit_outcome) { .kind = crmpi_junit_kind_of(res) };
    const Crmp__TestStats *f = res->final;
    if (o->kind == CRMPI_JUNIT_SKIP) {
        snprintf(o->message, sizeof(o->message), "%s", res->disabled ? "disabled"
                : f && f->message && *f->message ? f->message : "skipped");
        return;
    }
    if (o->kind == CRMPI_JUNIT_ERROR && f->timed_out) {
        o->type = "timeout";
        snprintf(o->message, sizeof(o->message), "timed out after %g s",
                crmpi_crit_timeout_of(&u->suite->suite, u->test));
    } else if (o->kind == CRMPI_JUNIT_ERROR && f->signal) {
        o->type = "crash";
        snprintf(o->message, sizeof(o->message), "crashed: signal %d (%s)", f->signal,
                strsignal(f->signal));
    } else if (o->kind == CRMPI_JUNIT_ERROR) {
        /* Criterion keeps no signal for a crash outside the test's body. */
        o->type = "crash";
        snprintf(o->message, sizeof(o->message), "crashed during its setup or teardown");
    }
    /* Failed assertions, oldest first (the list is newest first), then what else was said. */
    const char *first = NULL;
    for (size_t i = res->n_asserts; i-- > 0;) {
        const Crmp__AssertStats *a = res->asserts[i];
        if (a->passed)
            continue;
        const char *msg = a->message && *a->message ? a->message : "Assertion Failed";
        if (!first)
            first = msg;
        junit_add(&o->details, "%s:%u: %s\n", junit_base(a->file), a->line, msg);
    }
    const char *abort_msg = NULL;
    for (size_t i = 0; i < res->n_events; ++i) {
        const Crmp__Event *e = res->events[i];
        if (e->kind == CRMP__EVENT__KIND__THEORY_FAIL && e->text)
            junit_add(&o->details, "Theory %s::%s failed with the parameters: (%s)\n",
                    u->test->category, u->test->name, e->text);
        if (e->kind == CRMP__EVENT__KIND__TEST_ABORT && e->text && *e->text)
            abort_msg = e->text;
    }
    if (abort_msg)
        junit_add(&o->details, "aborted: %s\n", abort_msg);
    if (o->kind == CRMPI_JUNIT_ERROR) {
        junit_add(&o->details, "%s\n", o->message);
        return;
    }
    o->type = first ? "assertion" : f->exit_code ? "exit" : "failure";
    if (first)
        snprintf(o->message, sizeof(o->message), "%.*s", (int) strcspn(first, "\n"), first);
    else if (abort_msg)
        snprintf(o->message, sizeof(o->message), "%s", abort_msg);
    else if (f->exit_code)
        snprintf(o->message, sizeof(o->message), "exited with status %d", f->exit_code);
    else
        snprintf(o->message, sizeof(o->message), "failed");
    if (!first && f->exit_code)
        junit_add(&o->details, "exited with status %d\n", f->exit_code);
}

void crmpi_junit_message(const struct crmpi_report_unit *u, const Crmp__Result *res, char *buf,
        size_t size)
{
    struct junit_outcome o;
    junit_outcome_of(u, res, &o);
    snprintf(buf, size, "%s", o.message);
    free(o.details.s);
}

/* ---- writing ------------------------------------------------------------------- */

/*
 * libxml2 is loaded when a JUnit report is written, not linked: linked, it
 * and the ICU data it pulls in (30 MB of mappings) would be loaded into
 * every worker and every test process of every run, and a binary under a
 * tight `ulimit -v` could no longer even start.
 */
static struct {
    xmlTextWriterPtr (*new_filename)(const char *uri, int compression);
    void (*free_writer)(xmlTextWriterPtr writer);
    int (*set_indent)(xmlTextWriterPtr writer, int indent);
    int (*start_document)(xmlTextWriterPtr writer, const char *version, const char *encoding,
            const char *standalone);
    int (*end_document)(xmlTextWriterPtr writer);
    int (*start_element)(xmlTextWriterPtr writer, const xmlChar *name);
    int (*end_element)(xmlTextWriterPtr writer);
    int (*write_element)(xmlTextWriterPtr writer, const xmlChar *name, const xmlChar *content);
    int (*write_attribute)(xmlTextWriterPtr writer, const xmlChar *name, const xmlChar *content);
    int (*write_string)(xmlTextWriterPtr writer, const xmlChar *content);
} junit_xml;

/* 0 once libxml2's writer is loaded, or -ENOENT after saying why. */
static int junit_xml_load(void)
{
    static int state;
    static const struct crmpi_dlsym syms[] = {
        CRMPI_DLSYM(junit_xml, xmlNewTextWriterFilename, new_filename),
        CRMPI_DLSYM(junit_xml, xmlFreeTextWriter, free_writer),
        CRMPI_DLSYM(junit_xml, xmlTextWriterSetIndent, set_indent),
        CRMPI_DLSYM(junit_xml, xmlTextWriterStartDocument, start_document),
        CRMPI_DLSYM(junit_xml, xmlTextWriterEndDocument, end_document),
        CRMPI_DLSYM(junit_xml, xmlTextWriterStartElement, start_element),
        CRMPI_DLSYM(junit_xml, xmlTextWriterEndElement, end_element),
        CRMPI_DLSYM(junit_xml, xmlTextWriterWriteElement, write_element),
        CRMPI_DLSYM(junit_xml, xmlTextWriterWriteAttribute, write_attribute),
        CRMPI_DLSYM(junit_xml, xmlTextWriterWriteString, write_string),
    };
    return crmpi_dlsyms(&state, "--mproc-junit", "libxml2.so.2", syms,
            sizeof(syms) / sizeof(syms[0]), &junit_xml);
}

/* Every libxml2 call returns < 0 on failure: the first one sticks. */
struct junit_w {
    xmlTextWriterPtr w;
    int err;
};

#define JUNIT_X(jw, call)                      \
    do {                                       \
        if (!(jw)->err && (call) < 0)          \
            (jw)->err = -EIO;                  \
    } while (0)

static void junit_attr(struct junit_w *jw, const char *name, const char *value)
{
    char *clean = junit_clean(value, strlen(value));
    if (!clean) {
        jw->err = jw->err ? jw->err : -ENOMEM;
        return;
    }
    JUNIT_X(jw, junit_xml.write_attribute(jw->w, BAD_CAST name, BAD_CAST clean));
    free(clean);
}

static void junit_attrf(struct junit_w *jw, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void junit_attrf(struct junit_w *jw, const char *name, const char *fmt, ...)
{
    char v[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    junit_attr(jw, name, v);
}

/* <name>text</name>, text being bytes of any kind; nothing when empty and optional. */
static void junit_text_element(struct junit_w *jw, const char *name, const void *data,
        size_t len, int optional)
{
    if (!len && optional)
        return;
    char *clean = junit_clean(data ? data : "", len);
    if (!clean) {
        jw->err = jw->err ? jw->err : -ENOMEM;
        return;
    }
    JUNIT_X(jw, junit_xml.write_element(jw->w, BAD_CAST name, BAD_CAST clean));
    free(clean);
}

static void junit_output(struct junit_w *jw, const Crmp__Result *res)
{
    junit_text_element(jw, "system-out", res->out.data, res->has_out ? res->out.len : 0, 1);
    junit_text_element(jw, "system-err", res->err.data, res->has_err ? res->err.len : 0, 1);
}

/* <failure>/<error>: the final try's verdict, its details as text. */
static void junit_verdict(struct junit_w *jw, const char *element, const struct junit_outcome *o)
{
    JUNIT_X(jw, junit_xml.start_element(jw->w, BAD_CAST element));
    junit_attr(jw, "message", o->message);
    junit_attr(jw, "type", o->type);
    if (o->details.len) {
        char *clean = junit_clean(o->details.s, o->details.len);
        if (clean)
            JUNIT_X(jw, junit_xml.write_string(jw->w, BAD_CAST clean));
        free(clean);
    }
    JUNIT_X(jw, junit_xml.end_element(jw->w));
}

/* Surefire's rerun/flaky elements for the earlier tries that ended as kind. */
static void junit_tries(struct junit_w *jw, const struct crmpi_junit_unit *ju, const char *element,
        enum crmpi_junit_kind kind)
{
    for (size_t i = 0; i < ju->n_tries && !jw->err; ++i) {
        struct junit_outcome o;
        const Crmp__Result *res = ju->tries[i]->result;
        junit_outcome_of(ju->r, res, &o);
        if (o.kind == kind) {
            JUNIT_X(jw, junit_xml.start_element(jw->w, BAD_CAST element));
            junit_attr(jw, "message", o.message);
            junit_attr(jw, "type", o.type);
            junit_text_element(jw, "stackTrace", o.details.s, o.details.len, 0);
            junit_output(jw, res);
            JUNIT_X(jw, junit_xml.end_element(jw->w));
        }
        free(o.details.s);
    }
}

static double junit_seconds(const Crmp__Result *res)
{
    return (double) res->wall_ns / 1e9;
}

static void junit_testcase(struct junit_w *jw, const struct crmpi_junit_unit *ju)
{
    const struct crmpi_report_unit *u = ju->r;
    struct junit_outcome o;
    junit_outcome_of(u, u->result, &o);
    int flaky = o.kind == CRMPI_JUNIT_PASS;

    JUNIT_X(jw, junit_xml.start_element(jw->w, BAD_CAST "testcase"));
    if (u->param >= 0)      /* each parameter its own case: "name[2]" */
        junit_attrf(jw, "name", "%s[%d]", u->test->name, u->param);
    else
        junit_attr(jw, "name", u->test->name);
    junit_attr(jw, "classname", u->test->category);
    junit_attrf(jw, "time", "%.3f", junit_seconds(u->result));
    /* Surefire's order: failure, rerunFailure, flakyFailure, skipped, error, rerunError, flakyError. */
    if (o.kind == CRMPI_JUNIT_FAIL)
        junit_verdict(jw, "failure", &o);
    junit_tries(jw, ju, flaky ? "flakyFailure" : "rerunFailure", CRMPI_JUNIT_FAIL);
    if (o.kind == CRMPI_JUNIT_SKIP) {
        JUNIT_X(jw, junit_xml.start_element(jw->w, BAD_CAST "skipped"));
        junit_attr(jw, "message", o.message);
        JUNIT_X(jw, junit_xml.end_element(jw->w));
    }
    if (o.kind == CRMPI_JUNIT_ERROR)
        junit_verdict(jw, "error", &o);
    junit_tries(jw, ju, flaky ? "flakyError" : "rerunError", CRMPI_JUNIT_ERROR);
    junit_output(jw, u->result);
    JUNIT_X(jw, junit_xml.end_element(jw->w));
    free(o.details.s);
}

/* One <testsuite> over units[0..n), all of one suite and run. */
static void junit_testsuite(struct junit_w *jw, const struct crmpi_junit_unit *units, size_t n,
        unsigned id, const char *stamp, const char *host)
{
    unsigned counts[4] = { 0 };
    double time = 0;
    for (size_t i = 0; i < n; ++i) {
        ++counts[crmpi_junit_kind_of(units[i].r->result)];
        time += junit_seconds(units[i].r->result);
    }
    const char *name = units[0].r->test->category;
    JUNIT_X(jw, junit_xml.start_element(jw->w, BAD_CAST "testsuite"));
    junit_attr(jw, "name", name);
    junit_attrf(jw, "tests", "%zu", n);
    junit_attrf(jw, "failures", "%u", counts[CRMPI_JUNIT_FAIL]);
    junit_attrf(jw, "errors", "%u", counts[CRMPI_JUNIT_ERROR]);
    junit_attrf(jw, "skipped", "%u", counts[CRMPI_JUNIT_SKIP]);
    junit_attrf(jw, "time", "%.3f", time);
    junit_attr(jw, "timestamp", stamp);
    junit_attr(jw, "hostname", host);
    /* The aggregated form of Ant's schema (Jenkins reads it): package and id. */
    junit_attr(jw, "package", name);
    junit_attrf(jw, "id", "%u", id);
    JUNIT_X(jw, junit_xml.start_element(jw->w, BAD_CAST "properties"));
    JUNIT_X(jw, junit_xml.end_element(jw->w));
    for (size_t i = 0; i < n && !jw->err; ++i)
        junit_testcase(jw, &units[i]);
    /* A test's output is in its own case: the suite's are there because the schema wants them. */
    JUNIT_X(jw, junit_xml.write_element(jw->w, BAD_CAST "system-out", BAD_CAST ""));
    JUNIT_X(jw, junit_xml.write_element(jw->w, BAD_CAST "system-err", BAD_CAST ""));
    JUNIT_X(jw, junit_xml.end_element(jw->w));
}

int crmpi_junit_write(const char *path, const struct crmpi_junit_unit *units, size_t n,
        time_t started)
{
    char stamp[32], host[256] = "localhost";
    struct tm tm;
    gmtime_r(&started, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    if (gethostname(host, sizeof(host) - 1) || !*host)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';

    /* Units that never ran are left out: no suite is opened for them. */
    struct crmpi_junit_unit *ran = calloc(n ? n : 1, sizeof(*ran));
    if (!ran)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; ++i)
        if (units[i].r->result)
            ran[k++] = units[i];

    int rc = junit_xml_load();
    if (rc) {
        free(ran);
        return rc;
    }
    struct junit_w jw = { .w = junit_xml.new_filename(path, 0) };
    if (!jw.w) {
        int err = errno ? -errno : -EIO;
        free(ran);
        return err;
    }
    JUNIT_X(&jw, junit_xml.set_indent(jw.w, 1));
    JUNIT_X(&jw, junit_xml.start_document(jw.w, NULL, "UTF-8", NULL));
    JUNIT_X(&jw, junit_xml.start_element(jw.w, BAD_CAST "testsuites"));
    unsigned id = 0;
    for (size_t i = 0; i < k && !jw.err;) {
        size_t end = i + 1;
        while (end < k && ran[end].r->suite == ran[i].r->suite)
            ++end;
        junit_testsuite(&jw, ran + i, end - i, id++, stamp, host);
        i = end;
    }
    JUNIT_X(&jw, junit_xml.end_document(jw.w));
    junit_xml.free_writer(jw.w);
    free(ran);
    return jw.err;
}
