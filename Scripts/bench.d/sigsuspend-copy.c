/*
 * Preloaded into edgesplit when it runs under valgrind (Scripts/bench guard).
 *
 * valgrind 3.19 (Debian 12) edits the signal mask passed to rt_sigsuspend in place, and
 * libdispatch, which runs Swift's async main, passes a mask in read-only memory: valgrind
 * then crashes. Handing the kernel a writable copy of the mask changes nothing else.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    return (int)syscall(SYS_rt_sigsuspend, &copy, _NSIG / 8);
}
