/*
 * Unit tests for plugin/hooks.c: the binary's ReportHooks are found by
 * section name in the loaded objects, can be called, and can be switched off
 * so that Criterion's runner skips them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stddef.h>
#include <stdint.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include "hooks.h"

static int t_pre_all_calls;
static void *t_pre_all_arg;

/* Criterion calls this once in the runner; the tests below call it themselves. */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    ++t_pre_all_calls;
    t_pre_all_arg = set;
}

static int t_post_all_calls;

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void) stats;
    ++t_post_all_calls;
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void) stats;
    t_post_all_calls += 100;
}

/*
 * Slots that hold a hook of this binary.  libcriterion has a do-nothing hook
 * of its own in each section, which the plugin collects as well.
 */
static size_t t_live(const struct crmpi_hook_list *list)
{
    Dl_info self, info;
    cr_assert(dladdr((void *) t_live, &self));
    size_t n = 0;
    for (size_t i = 0; i < list->count; ++i)
        n += *list->slots[i] && dladdr((void *) *list->slots[i], &info)
            && info.dli_fbase == self.dli_fbase;
    return n;
}

static void t_collect(const char *section, struct crmpi_hook_list *list)
{
    int rc = crmpi_hooks_collect(section, list);
    cr_assert_eq(rc, 0, "crmpi_hooks_collect(%s): %d", section, rc);
}

Test(hooks, pre_all_hook_of_the_binary_is_found_and_called)
{
    struct crmpi_hook_list list;
    t_collect("cr_pra", &list);
    cr_assert_eq(t_live(&list), 1, "%zu PRE_ALL hooks found", t_live(&list));
    cr_assert_not_null(list.slots);

    t_pre_all_calls = 0;
    t_pre_all_arg = NULL;
    int marker;
    crmpi_hooks_call(&list, &marker);
    cr_assert_eq(t_pre_all_calls, 1, "the hook ran %d times", t_pre_all_calls);
    cr_assert_eq(t_pre_all_arg, &marker, "the hook did not get the argument");
    crmpi_hooks_free(&list);
}

Test(hooks, every_hook_of_a_section_is_found)
{
    struct crmpi_hook_list list;
    t_collect("cr_poa", &list);
    cr_assert_eq(t_live(&list), 2, "%zu POST_ALL hooks", t_live(&list));
    t_post_all_calls = 0;
    crmpi_hooks_call(&list, NULL);
    cr_assert_eq(t_post_all_calls, 101);
    crmpi_hooks_free(&list);
}

Test(hooks, disabled_hooks_are_skipped_by_call_and_by_a_new_collect)
{
    struct crmpi_hook_list list;
    t_collect("cr_pra", &list);
    cr_assert_eq(t_live(&list), 1);
    crmpi_hooks_disable(&list);
    for (size_t i = 0; i < list.count; ++i)
        cr_assert_null(*list.slots[i], "slot %zu still set", i);

    t_pre_all_calls = 0;
    crmpi_hooks_call(&list, NULL);
    cr_assert_eq(t_pre_all_calls, 0, "a disabled hook ran");

    /* The slots are the binary's own: a second look sees them cleared too. */
    struct crmpi_hook_list again;
    t_collect("cr_pra", &again);
    crmpi_hooks_call(&again, NULL);
    cr_assert_eq(t_pre_all_calls, 0, "a disabled hook ran after a new collect");
    crmpi_hooks_free(&again);
    crmpi_hooks_free(&list);
}

Test(hooks, unknown_section_is_empty)
{
    struct crmpi_hook_list list;
    t_collect("cr_no_such_section", &list);
    cr_assert_eq(list.count, 0);
    crmpi_hooks_call(&list, NULL);
    crmpi_hooks_disable(&list);
    crmpi_hooks_free(&list);
}

Test(hooks, sections_without_hooks_in_this_binary)
{
    struct crmpi_hook_list list;
    t_collect("cr_pot", &list);     /* no POST_TEST hook here */
    cr_assert_eq(t_live(&list), 0, "%zu POST_TEST hooks", t_live(&list));
    crmpi_hooks_free(&list);
}

Test(hooks, free_is_safe_on_zeroed_and_freed_lists)
{
    struct crmpi_hook_list list = { 0 };
    crmpi_hooks_free(&list);
    crmpi_hooks_free(&list);
    cr_assert_null(list.slots);
    cr_assert_eq(list.count, 0);
}

struct t_in {
    uintptr_t base;         /* the object's load address */
    void *seen;             /* where its section was found */
    int n;
};

/* Counts the sections of the object loaded at t->base, or those at t->seen once known. */
static int t_count_in(void *start, size_t size, void *arg)
{
    (void) size;
    struct t_in *t = arg;
    Dl_info info;
    if (t->seen ? start == t->seen
            : dladdr(start, &info) && (uintptr_t) info.dli_fbase == t->base) {
        t->seen = start;
        ++t->n;
    }
    return 0;
}

static int t_sections_in(struct t_in *t)
{
    t->n = 0;
    cr_assert_eq(crmpi_sections_foreach(".dynstr", t_count_in, t), 0);
    return t->n;
}

static int t_count_all(void *start, size_t size, void *arg)
{
    (void) start;
    (void) size;
    ++*(int *) arg;
    return 0;
}

/*
 * Sections are read once per object and kept: an object loaded or unloaded
 * after a lookup must still be seen, and then not seen.
 */
Test(hooks, objects_loaded_and_unloaded_after_a_lookup_are_seen)
{
    static const char *const libs[] = { "libnng.so.1", "libjson-c.so.5", "libxml2.so.2" };
    const char *lib = NULL;
    for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]) && !lib; ++i) {
        void *loaded = dlopen(libs[i], RTLD_NOLOAD | RTLD_LAZY);
        if (loaded)
            dlclose(loaded);
        else
            lib = libs[i];
    }
    if (!lib)
        cr_skip("every candidate library is already loaded");

    int all = 0;
    cr_assert_eq(crmpi_sections_foreach(".dynstr", t_count_all, &all), 0);
    cr_assert_gt(all, 0, "no object has a .dynstr");
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        cr_skip("cannot load %s: %s", lib, dlerror());
    struct link_map *lm = NULL;
    cr_assert_eq(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
    Dl_info info;
    struct t_in t = { 0 };
    cr_assert(dladdr((void *) lm->l_ld, &info));
    t.base = (uintptr_t) info.dli_fbase;
    cr_assert_eq(t_sections_in(&t), 1, "%s not seen after its dlopen", lib);
    dlclose(h);
    void *still = dlopen(lib, RTLD_NOLOAD | RTLD_LAZY);
    if (still) {
        dlclose(still);
        cr_skip("%s stays loaded after its dlclose", lib);
    }
    /* By the address it had: an object forgotten by the cache would still report it. */
    cr_assert_eq(t_sections_in(&t), 0, "%s still seen after its dlclose", lib);
}
