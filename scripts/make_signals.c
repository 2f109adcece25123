/*
 * A GNU make plugin (`load` directive) for `make run` and `make test`.
 *
 * GNU make kills itself with any SIGINT or SIGTERM it receives, after its recipe ends, so
 * `make run` would exit 130 or 143 even when the service it runs stopped cleanly. Loaded
 * into make, this handler instead forwards the signal to make's child processes and lets
 * make exit with the recipe's own status: 0 after a clean stop.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int plugin_is_GPL_compatible;

static void forward(int sig) {
    pid_t self = getpid();
    DIR *proc = opendir("/proc");
    if (proc == NULL) return;
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        char path[64], buf[512];
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) continue;
        buf[n] = '\0';
        /* Fields after the parenthesised command name: state, then the parent pid. */
        char *close_paren = strrchr(buf, ')');
        if (close_paren == NULL) continue;
        char state;
        int ppid;
        if (sscanf(close_paren + 1, " %c %d", &state, &ppid) == 2 && ppid == self)
            kill((pid_t)atoi(entry->d_name), sig);
    }
    closedir(proc);
}

int make_signals_gmk_setup(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = forward;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    return 1;
}
