/*
 * Criterion 2.4's structures, as crit.h's callers reach them (the build
 * picks this file or crit23/crit_layout.h from the headers it finds: see
 * plugin/meson.build).  2.4 added the new assertion API's logger members,
 * the run's warning and error counts and criterion_options' encoding,
 * colour, ignore_warnings and executable_name.
 */
#ifndef CRMPI_CRIT_LAYOUT_H_
#define CRMPI_CRIT_LAYOUT_H_

#include <criterion/logging.h>
#include <criterion/options.h>
#include <criterion/stats.h>

static inline void crmpi_crit_assert_log_install(struct criterion_logger *l,
        const struct crmpi_crit_assert_log *f)
{
    l->log_assert_sub = f->sub;
    l->log_assert_formatted = f->formatted;
    l->log_assert_param = f->param;
    l->log_assert_param_eq = f->param_eq;
}

static inline struct crmpi_crit_assert_log crmpi_crit_assert_log_of(const struct criterion_logger *l)
{
    return (struct crmpi_crit_assert_log) {
        .sub = l->log_assert_sub,
        .formatted = l->log_assert_formatted,
        .param = l->log_assert_param,
        .param_eq = l->log_assert_param_eq,
    };
}

static inline void crmpi_crit_stats_add_issues(struct criterion_global_stats *gs,
        size_t warnings, size_t errors)
{
    gs->warnings += warnings;
    gs->errors += errors;
}

/* Criterion's exit rule (its runner's last lines). */
static inline int crmpi_crit_stats_ok(const struct criterion_global_stats *gs)
{
    return gs->tests_failed == 0 && gs->errors == 0
        && (criterion_options.ignore_warnings || gs->warnings == 0);
}

/* --color (its terminal deduction included). */
static inline int crmpi_crit_color(void)
{
    return criterion_options.color;
}

static inline const char *crmpi_crit_executable_name(void)
{
    return criterion_options.executable_name;
}

#endif /* !CRMPI_CRIT_LAYOUT_H_ */
