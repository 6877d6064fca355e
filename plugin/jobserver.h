/*
 * A client of GNU make's jobserver: when `make -jN` runs a test binary, the
 * coordinator takes one of make's tokens for each worker beyond the first
 * while that worker runs tests, so that make's N is never exceeded.  The
 * policy (who needs a token, when one goes back) is the state machine's
 * (Tokens in coord_state.h); this is only the I/O.
 *
 * make advertises its jobserver in MAKEFLAGS: --jobserver-auth=fifo:PATH
 * (make 4.4), --jobserver-auth=R,W or, before 4.2, --jobserver-fds=R,W: two
 * pipe descriptors that make passes only to rules marked `+` or running
 * $(MAKE).  A token is one byte read from it; the same byte is written back.
 * The pipe is shared with make and its other children: it is read through
 * a descriptor of our own, opened again through /proc so that making it
 * non-blocking changes nothing for them.
 */
#ifndef CRMPI_JOBSERVER_H_
#define CRMPI_JOBSERVER_H_

#include <stddef.h>

struct crmpi_jobserver {
    int rfd;                    /* ours, non-blocking; -1 when closed */
    int wfd;                    /* ours; -1 when closed */
    unsigned wanted;            /* tokens asked for and not read yet */
    unsigned char *held;        /* owned: the bytes read and not written back */
    size_t n_held, cap_held;
};

#define CRMPI_JOBSERVER_INIT { .rfd = -1, .wfd = -1 }

/*
 * What MAKEFLAGS advertises: 0 with the fifo's path in fifo (size len, "" for
 * a pipe) or the pipe's descriptors in *rfd and *wfd; -ENOENT when there is
 * no jobserver (makeflags NULL, no -j), -EINVAL for one we cannot use
 * (another transport, a bad number), -ENAMETOOLONG.  The last one given wins.
 */
int crmpi_jobserver_parse(const char *makeflags, char *fifo, size_t len, int *rfd, int *wfd);

/*
 * Opens the jobserver that makeflags advertises.  0; -ENOENT when none is;
 * -EBADF when its descriptors are not open here, not one pipe, or not the
 * pipe noted at start (a rule without `+`); another -errno.  js must be CRMPI_JOBSERVER_INIT; release
 * it with crmpi_jobserver_close either way.
 */
int crmpi_jobserver_open(struct crmpi_jobserver *js, const char *makeflags);

/*
 * Notes which pipe makeflags advertises as the process has it now; the
 * plugin and the runner do so with MAKEFLAGS when they are loaded.  From
 * then on crmpi_jobserver_open refuses (-EBADF) those descriptor numbers
 * unless they still hold that pipe: make did not pass them to a rule
 * without '+', and a pipe the process made later has them now.  NULL
 * forgets the note.
 */
void crmpi_jobserver_note_start(const char *makeflags);

/* One more token is wanted: crmpi_jobserver_fd then says what to poll. */
void crmpi_jobserver_want(struct crmpi_jobserver *js);

/* The descriptor to poll for reading while tokens are wanted, else -1. */
int crmpi_jobserver_fd(const struct crmpi_jobserver *js);

/*
 * Reads the tokens there are, at most as many as wanted.  Returns how many
 * came (0 when another took them first), -EPIPE when make is gone, -ENOMEM,
 * or another -errno; after an error no token is wanted any more.
 */
int crmpi_jobserver_read(struct crmpi_jobserver *js);

/* Writes one token back.  0, -ENOENT when none is held, or -errno (the token is lost). */
int crmpi_jobserver_give(struct crmpi_jobserver *js);

/* Writes back every token still held and closes; safe on an unopened js. */
void crmpi_jobserver_close(struct crmpi_jobserver *js);

#endif /* !CRMPI_JOBSERVER_H_ */
