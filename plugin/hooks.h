/*
 * The binary's ReportHooks, found the way Criterion finds them: by section
 * name in every loaded ELF object.
 *
 * Workers run Criterion's runner once per worker; the whole-run hooks
 * (PRE_ALL, POST_ALL) and the suite hooks must fire once per run, so workers
 * switch them off and the coordinator calls them itself.
 */
#ifndef CRMPI_HOOKS_H_
#define CRMPI_HOOKS_H_

#include <stddef.h>

typedef void (*crmpi_hook_fn)(void *);

struct crmpi_hook_list {
    crmpi_hook_fn **slots;   /* owned; each points into a loaded object */
    size_t count;
};

/*
 * Collects the hook slots of section `section` (e.g. "cr_pra") in every
 * loaded object except the plugin itself.  Returns 0 or a negative errno
 * code.  Release with crmpi_hooks_free().
 */
int crmpi_hooks_collect(const char *section, struct crmpi_hook_list *out);

/* Calls every non-NULL hook with arg, in load order. */
void crmpi_hooks_call(const struct crmpi_hook_list *list, void *arg);

/* Clears every slot, so that Criterion's runner skips them. */
void crmpi_hooks_disable(const struct crmpi_hook_list *list);

void crmpi_hooks_free(struct crmpi_hook_list *list);

/*
 * Calls fn(start, size, arg) for every section named `section` in every
 * loaded object, the plugin included, in load order.  Stops at and returns
 * the first non-zero value fn returns; otherwise 0 (or a negative errno).
 */
int crmpi_sections_foreach(const char *section,
        int (*fn)(void *start, size_t size, void *arg), void *arg);

#endif /* !CRMPI_HOOKS_H_ */
