#define _GNU_SOURCE
#include "process_guard.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

int cairn_protect_secrets(void) {
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0) return errno;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return errno;
    return 0;
}

static const int guarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define GUARDED_COUNT (sizeof guarded_signals / sizeof guarded_signals[0])

static int echo_fd = -1;
static struct termios echo_saved;
static struct sigaction previous[GUARDED_COUNT];
static volatile sig_atomic_t echo_active = 0;

static void restore_and_reraise(int sig) {
    if (echo_active) tcsetattr(echo_fd, TCSANOW, &echo_saved);
    echo_active = 0;
    // End the process the way the signal would have (exit status 128 + sig in a shell).
    signal(sig, SIG_DFL);
    raise(sig);
}

int cairn_echo_off_begin(int fd) {
    struct termios quiet;
    if (tcgetattr(fd, &echo_saved) != 0) return -1;
    echo_fd = fd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = restore_and_reraise;
    sigemptyset(&action.sa_mask);
    for (unsigned i = 0; i < GUARDED_COUNT; i++) sigaddset(&action.sa_mask, guarded_signals[i]);
    for (unsigned i = 0; i < GUARDED_COUNT; i++) sigaction(guarded_signals[i], &action, &previous[i]);
    echo_active = 1;
    quiet = echo_saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(fd, TCSANOW, &quiet);
    return 0;
}

void cairn_echo_off_end(void) {
    if (!echo_active) return;
    tcsetattr(echo_fd, TCSANOW, &echo_saved);
    echo_active = 0;
    for (unsigned i = 0; i < GUARDED_COUNT; i++) sigaction(guarded_signals[i], &previous[i], NULL);
}
