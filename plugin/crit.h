/*
 * The few libcriterion symbols the plugin uses directly, declared weak: the
 * plugin does not link libcriterion, so that preloading it into a program
 * without Criterion (a shell, make) neither fails nor drags Criterion in.
 */
#ifndef CRMPI_CRIT_H_
#define CRMPI_CRIT_H_

#include <criterion/logging.h>
#include <criterion/options.h>

/*
 * Exported by libcriterion 2.4.1 but declared only in its private headers:
 * the line printer behind Criterion's own "[----] ..." messages.
 */
struct criterion_prefix_data {
    const char *prefix;
    const char *color;
};

void criterion_plog(enum criterion_logging_level level,
        const struct criterion_prefix_data *prefix, const char *msg, ...);

#pragma weak criterion_options
#pragma weak criterion_plog

static inline int crmpi_have_criterion(void)
{
    return &criterion_options != NULL;
}

#endif /* !CRMPI_CRIT_H_ */
