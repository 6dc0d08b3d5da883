#ifndef CAIRN_PROCESS_GUARD_H
#define CAIRN_PROCESS_GUARD_H

/// Process settings for commands that hold keys, and the terminal echo guard of the
/// phrase prompt. In C because prctl(2) is variadic and a signal handler must only make
/// async-signal-safe calls, neither of which Swift can express.

/// Disables core dumps (RLIMIT_CORE 0) and marks the process not dumpable
/// (PR_SET_DUMPABLE 0: no core, no ptrace attach by the same user, /proc/self/mem closed
/// to others), so keys in memory never land in a core file. Returns 0, or the errno of
/// the call that failed.
int cairn_protect_secrets(void);

/// Turns echo off on terminal `fd` and installs handlers for SIGINT, SIGTERM, SIGHUP and
/// SIGQUIT that put the saved terminal settings back before the signal ends the process
/// as it would have. Returns 0, or -1 when `fd` is not a terminal (nothing changed).
int cairn_echo_off_begin(int fd);

/// Restores the terminal settings and the previous signal handlers.
void cairn_echo_off_end(void);

#endif
