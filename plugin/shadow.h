/*
 * A plugin that is loaded but not called: linked after -lcriterion, or into
 * a binary with Criterion linked statically, the binary calls Criterion's
 * own entry points, and Criterion answers --mproc with its usage and exit 0
 * having run nothing.  The plugin's constructor catches that case.
 */
#ifndef CRMPI_SHADOW_H_
#define CRMPI_SHADOW_H_

/*
 * When --mproc or CRITERION_MPROC asks for the plugin but the plugin's
 * criterion_run_all_tests is not the one the binary calls, prints why and
 * how to fix the link, and exits 2.  Returns otherwise.
 */
void crmpi_shadow_check(void);

/*
 * Whether CRITERION_MPROC is set or an argument of this process starts with
 * --mproc (from /proc/self/cmdline, read once): the plugin is asked for,
 * before criterion_handle_args says how.
 */
int crmpi_mproc_asked(void);

#endif /* !CRMPI_SHADOW_H_ */
