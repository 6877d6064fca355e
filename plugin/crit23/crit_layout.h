/*
 * Criterion 2.3's structures, as crit.h's callers reach them (the build
 * picks this file or crit24/crit_layout.h from the headers it finds: see
 * plugin/meson.build).  2.3 has no new assertion API, so its logger has no
 * member for it and no test ever sends its events; its global statistics
 * count no warnings or errors, and its exit status depends on failed tests
 * alone; its options carry no executable name.
 */
#ifndef CRMPI_CRIT_LAYOUT_H_
#define CRMPI_CRIT_LAYOUT_H_

#include <criterion/logging.h>
#include <criterion/options.h>
#include <criterion/stats.h>

/* 2.4's parameter of a failed new-API assertion: the plugin's wire carries it. */
enum cr_log_assert_param_kind {
    CR_LOG_PARAM_STR,
    CR_LOG_PARAM_RAW,
};

struct cr_log_assert_param {
    const char *name;
    size_t size;
    void *data;
    enum cr_log_assert_param_kind kind;
};

static inline void crmpi_crit_assert_log_install(struct criterion_logger *l,
        const struct crmpi_crit_assert_log *f)
{
    (void) l;
    (void) f;
}

static inline struct crmpi_crit_assert_log crmpi_crit_assert_log_of(const struct criterion_logger *l)
{
    (void) l;
    return (struct crmpi_crit_assert_log) { 0 };
}

static inline void crmpi_crit_stats_add_issues(struct criterion_global_stats *gs,
        size_t warnings, size_t errors)
{
    (void) gs;
    (void) warnings;
    (void) errors;
}

/* Criterion's exit rule (criterion_run_all_tests_impl's last lines). */
static inline int crmpi_crit_stats_ok(const struct criterion_global_stats *gs)
{
    return gs->tests_failed == 0;
}

/* 2.3 has no --color: its colours depend on --ascii alone. */
static inline int crmpi_crit_color(void)
{
    return 1;
}

static inline const char *crmpi_crit_executable_name(void)
{
    return NULL;
}

#endif /* !CRMPI_CRIT_LAYOUT_H_ */
