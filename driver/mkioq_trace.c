// SPDX-License-Identifier: GPL-2.0
/*
 * The tracepoints' definitions (events/mkioq/ in tracefs); each file that
 * emits events includes mkioq_trace.h.
 */
#define CREATE_TRACE_POINTS
#include "mkioq_trace.h"
