/*
 * The runner's test list: from the command line, from meson's or CTest's
 * own description of a build directory, and which entries are Criterion
 * binaries.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"

static void rlist_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; ++p)
        free(*p);
    free(v);
}

static void rlist_test_free(struct crmpi_rtest *t)
{
    free(t->name);
    rlist_strv_free(t->argv);
    rlist_strv_free(t->env);
    free(t->cwd);
    rlist_strv_free(t->suites);
}

void crmpi_rlist_free(struct crmpi_rlist *l)
{
    for (size_t i = 0; i < l->n; ++i)
        rlist_test_free(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* A new zeroed entry at the end of l, or NULL on ENOMEM. */
static struct crmpi_rtest *rlist_push(struct crmpi_rlist *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct crmpi_rtest *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    struct crmpi_rtest *t = &l->v[l->n++];
    memset(t, 0, sizeof(*t));
    t->is_parallel = 1;
    t->expected_s = t->took_s = -1;
    return t;
}

/* Drops the last entry of l (a half-built one). */
static void rlist_pop(struct crmpi_rlist *l)
{
    rlist_test_free(&l->v[--l->n]);
}

/* A NULL-terminated array of n empty slots, or NULL. */
static char **rlist_strv_new(size_t n)
{
    return calloc(n + 1, sizeof(char *));
}

int crmpi_rlist_add_paths(struct crmpi_rlist *l, char *const *paths, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        struct crmpi_rtest *t = rlist_push(l);
        if (!t)
            return -ENOMEM;
        t->name = strdup(paths[i]);
        t->argv = rlist_strv_new(1);
        if (!t->name || !t->argv || !(t->argv[0] = strdup(paths[i]))) {
            rlist_pop(l);
            return -ENOMEM;
        }
    }
    return 0;
}

static int rlist_fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int rlist_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/*
 * A JSON array of strings as a NULL-terminated array (owned by the
 * caller); NULL json gives an empty one.  -EINVAL when an element is not a
 * string, -ENOMEM.
 */
static int rlist_json_strv(json_object *arr, char ***out)
{
    size_t n = arr ? json_object_array_length(arr) : 0;
    char **v = rlist_strv_new(n);
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; ++i) {
        json_object *s = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(s, json_type_string)) {
            rlist_strv_free(v);
            return -EINVAL;
        }
        if (!(v[i] = strdup(json_object_get_string(s)))) {
            rlist_strv_free(v);
            return -ENOMEM;
        }
    }
    *out = v;
    return 0;
}

/* Parses json (borrowed) into *root (a new reference) if it is of type want. */
static int rlist_parse(const char *json, json_type want, json_object **root,
        const char *what, char *err, size_t errlen)
{
    enum json_tokener_error jerr;
    *root = json_tokener_parse_verbose(json, &jerr);
    if (!*root)
        return rlist_fail(err, errlen, "%s: not JSON (%s)", what, json_tokener_error_desc(jerr));
    if (!json_object_is_type(*root, want)) {
        json_object_put(*root);
        return rlist_fail(err, errlen, "%s: unexpected JSON document", what);
    }
    return 0;
}

/* Fills t from one element of `meson introspect --tests`. */
static int rlist_meson_test(struct crmpi_rtest *t, json_object *o, char *err, size_t errlen)
{
    json_object *name, *cmd, *env, *workdir, *timeout, *suite, *parallel;
    if (!json_object_is_type(o, json_type_object)
            || !json_object_object_get_ex(o, "name", &name)
            || !json_object_is_type(name, json_type_string)
            || !json_object_object_get_ex(o, "cmd", &cmd)
            || !json_object_is_type(cmd, json_type_array)
            || json_object_array_length(cmd) == 0)
        return rlist_fail(err, errlen, "meson introspect: a test without a name or command");

    int rc = -ENOMEM;
    if (!(t->name = strdup(json_object_get_string(name))))
        return -ENOMEM;
    if ((rc = rlist_json_strv(cmd, &t->argv)))
        goto bad;

    size_t n_env = 0;
    if (json_object_object_get_ex(o, "env", &env) && json_object_is_type(env, json_type_object))
        n_env = (size_t) json_object_object_length(env);
    if (!(t->env = rlist_strv_new(n_env)))
        return -ENOMEM;
    size_t i = 0;
    if (n_env) {
        json_object_object_foreach(env, key, val) {
            if (asprintf(&t->env[i++], "%s=%s", key, json_object_get_string(val)) < 0) {
                t->env[i - 1] = NULL;
                return -ENOMEM;
            }
        }
    }

    if (json_object_object_get_ex(o, "workdir", &workdir)
            && json_object_is_type(workdir, json_type_string)
            && !(t->cwd = strdup(json_object_get_string(workdir))))
        return -ENOMEM;
    if (json_object_object_get_ex(o, "timeout", &timeout))
        t->timeout_s = json_object_get_double(timeout);
    json_object *suites = NULL;
    if (json_object_object_get_ex(o, "suite", &suite) && json_object_is_type(suite, json_type_array))
        suites = suite;
    if ((rc = rlist_json_strv(suites, &t->suites)))
        goto bad;
    if (json_object_object_get_ex(o, "is_parallel", &parallel))
        t->is_parallel = json_object_get_boolean(parallel);
    return 0;
bad:
    if (rc == -EINVAL)
        return rlist_fail(err, errlen, "meson introspect: test %s: a non-string in a list", t->name);
    return rc;
}

int crmpi_rlist_add_meson(struct crmpi_rlist *l, const char *json, char *err, size_t errlen)
{
    json_object *root;
    int rc = rlist_parse(json, json_type_array, &root, "meson introspect --tests", err, errlen);
    if (rc)
        return rc;
    for (size_t i = 0; i < json_object_array_length(root); ++i) {
        struct crmpi_rtest *t = rlist_push(l);
        if (!t) {
            rc = -ENOMEM;
            break;
        }
        if ((rc = rlist_meson_test(t, json_object_array_get_idx(root, i), err, errlen))) {
            rlist_pop(l);
            break;
        }
    }
    json_object_put(root);
    return rc;
}

/* The value of CTest property `name` in props (an array of {name, value}). */
static json_object *rlist_ctest_prop(json_object *props, const char *name)
{
    size_t n = props ? json_object_array_length(props) : 0;
    for (size_t i = 0; i < n; ++i) {
        json_object *p = json_object_array_get_idx(props, i), *pn, *pv;
        if (json_object_object_get_ex(p, "name", &pn) && json_object_object_get_ex(p, "value", &pv)
                && !strcmp(json_object_get_string(pn), name))
            return pv;
    }
    return NULL;
}

/* Fills t from one element of ctest's "tests" array. */
static int rlist_ctest_test(struct crmpi_rtest *t, json_object *o, char *err, size_t errlen)
{
    json_object *name, *cmd, *props = NULL, *v;
    if (!json_object_object_get_ex(o, "name", &name)
            || !json_object_is_type(name, json_type_string))
        return rlist_fail(err, errlen, "ctest: a test without a name");
    if (!(t->name = strdup(json_object_get_string(name))))
        return -ENOMEM;
    /* A test whose executable CTest could not find has no command. */
    if (!json_object_object_get_ex(o, "command", &cmd) || !json_object_is_type(cmd, json_type_array)
            || json_object_array_length(cmd) == 0)
        return rlist_fail(err, errlen, "ctest: test %s has no command (is its target built?)",
                t->name);
    json_object_object_get_ex(o, "properties", &props);

    int rc;
    if ((rc = rlist_json_strv(cmd, &t->argv)))
        goto bad;
    json_object *env = rlist_ctest_prop(props, "ENVIRONMENT");
    if ((rc = rlist_json_strv(env && json_object_is_type(env, json_type_array) ? env : NULL,
                 &t->env)))
        goto bad;
    json_object *labels = rlist_ctest_prop(props, "LABELS");
    if ((rc = rlist_json_strv(labels && json_object_is_type(labels, json_type_array) ? labels : NULL,
                 &t->suites)))
        goto bad;
    if ((v = rlist_ctest_prop(props, "WORKING_DIRECTORY"))
            && !(t->cwd = strdup(json_object_get_string(v))))
        return -ENOMEM;
    if ((v = rlist_ctest_prop(props, "TIMEOUT")))
        t->timeout_s = json_object_get_double(v);
    if ((v = rlist_ctest_prop(props, "RUN_SERIAL")))
        t->is_parallel = !json_object_get_boolean(v);
    return 0;
bad:
    if (rc == -EINVAL)
        return rlist_fail(err, errlen, "ctest: test %s: a non-string in a list", t->name);
    return rc;
}

int crmpi_rlist_add_ctest(struct crmpi_rlist *l, const char *json, char *err, size_t errlen)
{
    json_object *root, *tests;
    int rc = rlist_parse(json, json_type_object, &root, "ctest --show-only=json-v1", err, errlen);
    if (rc)
        return rc;
    if (!json_object_object_get_ex(root, "tests", &tests)
            || !json_object_is_type(tests, json_type_array)) {
        json_object_put(root);
        return rlist_fail(err, errlen, "ctest --show-only=json-v1: no \"tests\" array");
    }
    for (size_t i = 0; i < json_object_array_length(tests); ++i) {
        struct crmpi_rtest *t = rlist_push(l);
        if (!t) {
            rc = -ENOMEM;
            break;
        }
        if ((rc = rlist_ctest_test(t, json_object_array_get_idx(tests, i), err, errlen))) {
            rlist_pop(l);
            break;
        }
    }
    json_object_put(root);
    return rc;
}

static int rlist_suite_matches(const char *suite, const char *want)
{
    if (!strcmp(suite, want))
        return 1;
    const char *colon = strchr(suite, ':');
    return colon && !strcmp(colon + 1, want);
}

static int rlist_in_any(char **suites, char *const *names, size_t n)
{
    for (char **s = suites; s && *s; ++s)
        for (size_t i = 0; i < n; ++i)
            if (rlist_suite_matches(*s, names[i]))
                return 1;
    return 0;
}

void crmpi_rlist_select(struct crmpi_rlist *l, char *const *only, size_t n_only,
        char *const *exclude, size_t n_exclude)
{
    size_t kept = 0;
    for (size_t i = 0; i < l->n; ++i) {
        struct crmpi_rtest *t = &l->v[i];
        if ((n_only && !rlist_in_any(t->suites, only, n_only))
                || rlist_in_any(t->suites, exclude, n_exclude)) {
            rlist_test_free(t);
            continue;
        }
        l->v[kept++] = *t;
    }
    l->n = kept;
}

/* Reads len bytes at off of fd into buf: 0, or -EINVAL when short. */
static int rlist_pread(int fd, void *buf, size_t len, off_t off)
{
    ssize_t got = pread(fd, buf, len, off);
    if (got < 0)
        return -errno;
    return (size_t) got == len ? 0 : -EINVAL;
}

/* The file offset of virtual address va, through the PT_LOAD segments. */
static int rlist_elf_offset(const Elf64_Phdr *ph, size_t n, Elf64_Addr va, off_t *off)
{
    for (size_t i = 0; i < n; ++i) {
        if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr
                && va < ph[i].p_vaddr + ph[i].p_filesz) {
            *off = (off_t) (ph[i].p_offset + (va - ph[i].p_vaddr));
            return 0;
        }
    }
    return -EINVAL;
}

static int rlist_elf_scan(int fd)
{
    Elf64_Ehdr eh;
    if (rlist_pread(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG)
            || eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)
            || eh.e_phnum == 0 || eh.e_phnum > 256)
        return 0;
    Elf64_Phdr ph[256];
    if (rlist_pread(fd, ph, eh.e_phnum * sizeof(*ph), (off_t) eh.e_phoff))
        return 0;

    const Elf64_Phdr *dyn = NULL;
    for (size_t i = 0; i < eh.e_phnum; ++i)
        if (ph[i].p_type == PT_DYNAMIC)
            dyn = &ph[i];
    if (!dyn || dyn->p_filesz > (1u << 20))
        return 0;     /* static: Criterion cannot be interposed there anyway */

    size_t n_dyn = dyn->p_filesz / sizeof(Elf64_Dyn);
    Elf64_Dyn *d = malloc(n_dyn * sizeof(*d));
    if (!d)
        return -ENOMEM;
    int found = 0;
    Elf64_Addr strtab = 0;
    off_t stroff;
    if (rlist_pread(fd, d, n_dyn * sizeof(*d), (off_t) dyn->p_offset))
        goto out;
    for (size_t i = 0; i < n_dyn && d[i].d_tag != DT_NULL; ++i)
        if (d[i].d_tag == DT_STRTAB)
            strtab = d[i].d_un.d_ptr;
    if (!strtab || rlist_elf_offset(ph, eh.e_phnum, strtab, &stroff))
        goto out;
    for (size_t i = 0; i < n_dyn && d[i].d_tag != DT_NULL && !found; ++i) {
        char name[64] = { 0 };
        if (d[i].d_tag != DT_NEEDED)
            continue;
        if (pread(fd, name, sizeof(name) - 1, stroff + (off_t) d[i].d_un.d_val) < 0)
            break;
        found = !strncmp(name, "libcriterion.so", strlen("libcriterion.so"));
    }
out:
    free(d);
    return found;
}

int crmpi_elf_needs_criterion(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = rlist_elf_scan(fd);
    close(fd);
    return rc;
}

size_t crmpi_rlist_classify(struct crmpi_rlist *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; ++i) {
        l->v[i].is_criterion = crmpi_elf_needs_criterion(l->v[i].argv[0]) == 1;
        n += (size_t) l->v[i].is_criterion;
    }
    return n;
}

/* ---- history ------------------------------------------------------------------------ */

static struct crmpi_rtest *rlist_find(const struct crmpi_rlist *l, const char *name)
{
    for (size_t i = 0; i < l->n; ++i)
        if (!strcmp(l->v[i].name, name))
            return &l->v[i];
    return NULL;
}

int crmpi_rlist_history_load(struct crmpi_rlist *l, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        char *end;
        double s = strtod(line, &end);
        struct crmpi_rtest *t;
        if (end != line && *end == ' ' && s >= 0 && (t = rlist_find(l, end + 1)))
            t->expected_s = s;
    }
    free(line);
    fclose(f);
    return 0;
}

int crmpi_rlist_history_save(const struct crmpi_rlist *l, const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp))
        return -ENAMETOOLONG;
    FILE *out = fopen(tmp, "we");
    if (!out)
        return -errno;
    /* The lines of programs not in this run stay. */
    FILE *in = fopen(path, "re");
    if (in) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, in)) > 0) {
            char *sp = strchr(line, ' ');
            if (line[len - 1] == '\n')
                line[len - 1] = '\0';
            const struct crmpi_rtest *t = sp ? rlist_find(l, sp + 1) : NULL;
            if (sp && (!t || t->took_s < 0))
                fprintf(out, "%s\n", line);
        }
        free(line);
        fclose(in);
    }
    for (size_t i = 0; i < l->n; ++i)
        if (l->v[i].took_s >= 0 && !strchr(l->v[i].name, '\n'))
            fprintf(out, "%.3f %s\n", l->v[i].took_s, l->v[i].name);
    if (fclose(out) || rename(tmp, path)) {
        int rc = -errno;
        unlink(tmp);
        return rc;
    }
    return 0;
}
