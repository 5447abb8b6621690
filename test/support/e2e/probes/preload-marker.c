/*
 * TEST PROBE (not a stand-in): the library issue 9's row 2 planted for
 * LD_PRELOAD. Its constructor runs in whatever process loads it and appends
 * that process's uid to MARKER, so a test can see whether a root process
 * loaded it (MARKER's directory is world-writable: root without capabilities
 * can write there too).
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#ifndef MARKER
#define MARKER "/home/bridge/drop/preload-ran"
#endif

__attribute__((constructor)) static void mark(void)
{
    char line[32];
    int length = snprintf(line, sizeof line, "%u\n", (unsigned)getuid());
    int fd = open(MARKER, O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (fd < 0) return;
    if (write(fd, line, (size_t)length) < 0) { /* nothing to do */ }
    close(fd);
}
