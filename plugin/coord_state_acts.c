/* The actions the coordinator's state machine answers an event with (see coord_state.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "coord_state_i.h"

struct crmpi_cst_action *crmpi_cst_push(struct crmpi_cst *st, enum crmpi_cst_act_kind kind,
        uint32_t w)
{
    if (st->n_acts == st->cap_acts) {
        size_t cap = st->cap_acts ? 2 * st->cap_acts : 16;
        struct crmpi_cst_action *grown = realloc(st->acts, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        st->acts = grown;
        st->cap_acts = cap;
    }
    struct crmpi_cst_action *a = &st->acts[st->n_acts++];
    *a = (struct crmpi_cst_action) { .kind = kind, .worker = w, .unit = CRMPI_CST_NONE };
    return a;
}

int crmpi_cst_act(struct crmpi_cst *st, enum crmpi_cst_act_kind kind, uint32_t w, uint32_t unit)
{
    struct crmpi_cst_action *a;
    CST_PUSH(st, a, kind, w);
    a->unit = unit;
    return 0;
}

int crmpi_cst_act_why(struct crmpi_cst *st, enum crmpi_cst_act_kind kind, uint32_t w,
        const char *fmt, ...)
{
    struct crmpi_cst_action *a;
    CST_PUSH(st, a, kind, w);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->why, sizeof(a->why), fmt, ap);
    va_end(ap);
    return 0;
}

int crmpi_cst_note(struct crmpi_cst *st, enum crmpi_cst_note note, uint32_t w, uint32_t unit,
        int value)
{
    struct crmpi_cst_action *a;
    CST_PUSH(st, a, CRMPI_CST_ACT_NOTE, w);
    a->note = note;
    a->unit = unit;
    a->value = value;
    return 0;
}
