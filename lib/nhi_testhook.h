/* lib/nhi_testhook.h - hooks for the crash tests, compiled to nothing
 * unless NHI_TEST_HOOKS is defined.  Only tests/nhictl-faulty (a
 * check_PROGRAM built from nhictl's sources, tests/crash.mk) defines it:
 * the installed nhictl has no trace of them (tests/test-crash-points.sh
 * checks with nm and strings).
 *
 * NHI_CRASH_POINT(step, detail) marks a durable step: a transaction
 * committed, a file's temp written and fsynced, renamed, its directory
 * fsynced, a directory entry written, a secret handed over, an audit
 * event recorded.  With NHI_TEST_CRASH_AT=N in the environment the N-th
 * crash point the process reaches kills it with SIGKILL (stdio flushed
 * first, so what it printed counts as handed out); NHI_TEST_CRASH_LOG=FILE
 * appends "N step detail" for each point reached.  docs/crash-points.md
 * lists the points and what the tests check after each kill. */
#ifndef NHI_TESTHOOK_H
#define NHI_TESTHOOK_H

#ifdef NHI_TEST_HOOKS
void nhi_crash_point(const char *step, const char *detail);
#define NHI_CRASH_POINT(step, detail) nhi_crash_point(step, detail)
#else
#define NHI_CRASH_POINT(step, detail) ((void)0)
#endif

#endif
