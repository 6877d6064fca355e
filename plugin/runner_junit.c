/*
 * The runner's JUnit report: every program's tests in one file.  The
 * plugin writes each Criterion binary's report (plugin/junit.c); this only
 * gathers them, with libxml2's tree API, and adds a testsuite for each
 * program judged by its exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "diag.h"
#include "runner.h"

/* Renames name="X" (and the testcases' classname="X") to "PROGRAM/X". */
static int rjunit_qualify(xmlNodePtr suite, const char *program)
{
    int rc = 0;
    for (xmlNodePtr n = suite; n && !rc; n = n == suite ? n->children : n->next) {
        const char *attr = n == suite ? "name" : "classname";
        if (n->type != XML_ELEMENT_NODE || (n != suite && xmlStrcmp(n->name, BAD_CAST "testcase")))
            continue;
        xmlChar *old = xmlGetProp(n, BAD_CAST attr);
        char *qualified = NULL;
        if (old && asprintf(&qualified, "%s/%s", program, (const char *) old) < 0)
            qualified = NULL;
        if (old && (!qualified || !xmlSetProp(n, BAD_CAST attr, BAD_CAST qualified)))
            rc = -ENOMEM;
        free(qualified);
        xmlFree(old);
    }
    return rc;
}

/* Moves the testsuites of the report at file under root.  -ENOENT when there is none. */
static int rjunit_take(xmlNodePtr root, const char *file, const char *program)
{
    if (access(file, R_OK))
        return -ENOENT;
    xmlDocPtr doc = xmlReadFile(file, NULL, XML_PARSE_NONET | XML_PARSE_HUGE);
    if (!doc) {
        crmpi_error("--mproc-junit: the report of %s does not parse", program);
        return -EINVAL;
    }
    int rc = 0;
    xmlNodePtr top = xmlDocGetRootElement(doc), next;
    for (xmlNodePtr n = top ? top->children : NULL; n && !rc; n = next) {
        next = n->next;
        if (n->type != XML_ELEMENT_NODE || xmlStrcmp(n->name, BAD_CAST "testsuite"))
            continue;
        xmlNodePtr copy = xmlDocCopyNode(n, root->doc, 1);
        if (!copy || !xmlAddChild(root, copy))
            rc = -ENOMEM;
        else
            rc = rjunit_qualify(copy, program);
    }
    xmlFreeDoc(doc);
    return rc;
}

/* One testsuite of one testcase for a program its exit status judged. */
static int rjunit_program(xmlNodePtr root, const struct crmpi_rtest *t, const char *host)
{
    char n_fail[4], n_skip[4], took[32];
    snprintf(n_fail, sizeof(n_fail), "%d", !t->skipped && t->failed);
    snprintf(n_skip, sizeof(n_skip), "%d", t->skipped);
    snprintf(took, sizeof(took), "%.3f", t->took_s > 0 ? t->took_s : 0.0);
    xmlNodePtr suite = xmlNewChild(root, NULL, BAD_CAST "testsuite", NULL);
    xmlNodePtr tc = suite ? xmlNewChild(suite, NULL, BAD_CAST "testcase", NULL) : NULL;
    if (!tc || !xmlSetProp(suite, BAD_CAST "name", BAD_CAST t->name)
            || !xmlSetProp(suite, BAD_CAST "tests", BAD_CAST "1")
            || !xmlSetProp(suite, BAD_CAST "failures", BAD_CAST n_fail)
            || !xmlSetProp(suite, BAD_CAST "errors", BAD_CAST "0")
            || !xmlSetProp(suite, BAD_CAST "skipped", BAD_CAST n_skip)
            || !xmlSetProp(suite, BAD_CAST "time", BAD_CAST took)
            || !xmlSetProp(suite, BAD_CAST "hostname", BAD_CAST host)
            || !xmlSetProp(tc, BAD_CAST "name", BAD_CAST t->name)
            || !xmlSetProp(tc, BAD_CAST "classname", BAD_CAST t->name)
            || !xmlSetProp(tc, BAD_CAST "time", BAD_CAST took))
        return -ENOMEM;
    xmlNodePtr why = NULL;
    if (t->skipped)
        why = xmlNewChild(tc, NULL, BAD_CAST "skipped", NULL);
    else if (t->failed)
        why = xmlNewChild(tc, NULL, BAD_CAST "failure", BAD_CAST t->verdict);
    else
        return 0;
    if (!why || !xmlSetProp(why, BAD_CAST "message",
                BAD_CAST (t->skipped ? "exit status 77" : t->verdict)))
        return -ENOMEM;
    return 0;
}

int crmpi_runner_junit_write(const struct crmpi_rlist *l, const char *junit_dir, const char *path)
{
    char host[256] = "localhost";
    if (gethostname(host, sizeof(host) - 1) || !*host)
        snprintf(host, sizeof(host), "localhost");
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = doc ? xmlNewNode(NULL, BAD_CAST "testsuites") : NULL;
    int rc = root ? 0 : -ENOMEM;
    if (root)
        xmlDocSetRootElement(doc, root);
    for (size_t i = 0; i < l->n && !rc; ++i) {
        const struct crmpi_rtest *t = &l->v[i];
        if (t->took_s < 0)
            continue;       /* did not run */
        char file[4096];
        snprintf(file, sizeof(file), "%s/junit.%zu.xml", junit_dir, i);
        rc = t->judged ? rjunit_program(root, t, host) : rjunit_take(root, file, t->name);
        if (rc == -ENOENT)  /* a Criterion binary whose plugin wrote nothing */
            rc = rjunit_program(root, t, host);
    }
    if (!rc && xmlSaveFormatFileEnc(path, doc, "UTF-8", 1) < 0) {
        crmpi_error("--mproc-junit: cannot write %s", path);
        rc = -EIO;
    } else if (rc == -ENOMEM) {
        crmpi_error("--mproc-junit: out of memory");
    }
    xmlFreeDoc(doc);
    return rc;
}
