/*
 * libgit2 started when libcriterion first diffs, not in criterion_initialize,
 * in the plugin's own processes (coordinator and worker).
 *
 * Criterion 2.4's criterion_initialize starts libgit2 (its diff engine), and
 * libgit2's start reads and parses every CA certificate of the system with
 * mbedTLS and starts OpenSSL and libssh2: 56 M instructions, ~10 ms of CPU on
 * the project's VM, in each process that calls it.  A coordinator never
 * formats an assertion; a worker's runner neither (its tests run in sandboxes
 * or zygote children, which start libgit2 themselves as before).  Here
 * libcriterion's own calls are redirected: a start is noted and made the
 * first time libcriterion calls the diff, and a shutdown is passed on only
 * for a start that was made.  Everyone else's calls to libgit2 are untouched.
 */
#ifndef CRMPI_LAZYGIT_H_
#define CRMPI_LAZYGIT_H_

/*
 * Redirects libcriterion's calls (before criterion_initialize).  Returns 0,
 * or a negative errno code when something was not found: nothing is then
 * redirected and libgit2 starts as Criterion starts it.
 */
int crmpi_lazygit_install(void);

/* Makes the starts noted so far, now (a process that turned out to be a plain run). */
void crmpi_lazygit_flush(void);

/* Whether a start is noted and not made yet. */
int crmpi_lazygit_pending(void);

#endif /* !CRMPI_LAZYGIT_H_ */
