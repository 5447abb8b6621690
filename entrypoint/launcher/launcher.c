/*
 * copilot-bridge-entrypoint launcher: the image's ENTRYPOINT, run before Node.
 *
 * The entrypoint starts as root, reads the token file, then drops privileges.
 * Whoever sets the container's environment could otherwise run code as root
 * before its first line: NODE_OPTIONS=--import=data:... makes Node run it, and
 * LD_PRELOAD makes the dynamic loader load it. JavaScript cannot refuse these
 * in time, so this program, linked statically against musl (no dynamic loader,
 * no glibc tunables), looks first, then execs Node with the bundled entrypoint:
 *   1. root phase only: refuse every variable that changes what a root process loads;
 *   2. root phase only: refuse a Node or an entrypoint that anyone but root can change;
 *   3. chdir("/");
 *   4. execve(CBS_NODE, {CBS_NODE, "--disable-sigusr1", CBS_ENTRYPOINT, argv[1..]}, environ),
 *      environment unchanged. Without --disable-sigusr1 (Node >= 22.14), SIGUSR1 opens Node's
 *      inspector: after the privilege drop the bridge's user could send it to the supervisor
 *      (same uid) and read the token from its memory, which being non-dumpable does not stop.
 * `health` (the HEALTHCHECK) is answered here, without Node, when a supervisor keeps a verdict:
 *   5. read the verdict file beside the config (entrypoint/health/verdict.ts): healthy (0) if it says
 *      clean and is not past its validity, else unhealthy (1), its lines on stdout; no verdict file
 *      (exec mode, or no scan yet) runs `verify` instead, as step 4 does.
 * Failures: one line on stderr; 77 refused, 70 chdir, 127 Node missing, 126 Node not runnable.
 * Built by scripts/build-launcher.sh; tested by test/entrypoint/launcher.test.ts.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* S_ISVTX */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef CBS_NODE
#define CBS_NODE "/usr/local/bin/node"
#endif
#ifndef CBS_ENTRYPOINT
#define CBS_ENTRYPOINT "/usr/local/lib/copilot-bridge-stack/copilot-bridge-entrypoint.mjs"
#endif

#define PREFIX "copilot-bridge-entrypoint: "
#define MAX_LINKS 40

extern char **environ;

/* LOADER VARIABLES (one string per entry; "X*" means every name starting with X).
 * glibc's list for privileged programs (sysdeps/generic/unsecvars.h), and Node's. */
static const char *const loader_variables[] = {
    "LD_*",
    "MALLOC_*",
    "OPENSSL_*",
    "NODE_*",
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TMPDIR",
    "TZDIR",
};

/* LOADER VARIABLE EXCEPTIONS: exact names that a pattern above matches but that load nothing. */
static const char *const loader_variable_exceptions[] = {
    "NODE_ENV",
    "NODE_VERSION",
    "NODE_EXTRA_CA_CERTS",
};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* One write of one line, so that the message cannot be split or interleaved. */
__attribute__((format(printf, 1, 2))) static void say(const char *format, ...)
{
    char line[2048];
    va_list args;
    va_start(args, format);
    int length = vsnprintf(line, sizeof line - 1, format, args);
    va_end(args);
    if (length < 0) return;
    if ((size_t)length > sizeof line - 2) length = sizeof line - 2;
    line[length] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)length + 1);
    (void)ignored;
}

/* A variable's name as the container's author wrote it may hold a newline; show bytes, keep one line. */
static const char *printable(const char *name, size_t length, char *out, size_t size)
{
    size_t used = 0;
    for (size_t i = 0; i < length && used + 5 < size; i++) {
        unsigned char byte = (unsigned char)name[i];
        if (byte >= 0x20 && byte < 0x7f) out[used++] = (char)byte;
        else used += (size_t)snprintf(out + used, size - used, "\\x%02x", byte);
    }
    out[used] = '\0';
    return out;
}

static int matches(const char *pattern, const char *name, size_t length)
{
    size_t pattern_length = strlen(pattern);
    if (pattern_length > 0 && pattern[pattern_length - 1] == '*')
        return length >= pattern_length - 1 && memcmp(name, pattern, pattern_length - 1) == 0;
    return length == pattern_length && memcmp(name, pattern, length) == 0;
}

static int is_loader_variable(const char *name, size_t length)
{
    for (size_t i = 0; i < COUNT(loader_variable_exceptions); i++)
        if (matches(loader_variable_exceptions[i], name, length)) return 0;
    for (size_t i = 0; i < COUNT(loader_variables); i++)
        if (matches(loader_variables[i], name, length)) return 1;
    return 0;
}

/* Step 1: names only; a value is never printed. */
static void refuse_loader_variables(void)
{
    char shown[512];
    for (char **entry = environ; *entry != NULL; entry++) {
        const char *equals = strchr(*entry, '=');
        if (equals == NULL) {
            say(PREFIX "environment: an entry without '=' is in the environment; remove it from the container's environment");
            exit(77);
        }
        size_t length = (size_t)(equals - *entry);
        if (is_loader_variable(*entry, length)) {
            say(PREFIX "environment: %s is set, and it changes what a root process loads; remove it from the container's environment",
                printable(*entry, length, shown, sizeof shown));
            exit(77);
        }
    }
}

/* One component: owned by root, and writable only by root unless it is a root-owned sticky directory like /tmp. */
static int untrusted_component(const char *component, const struct stat *info, char *why, size_t size)
{
    if (info->st_uid != 0)
        return snprintf(why, size, "%s is owned by uid %lu", component, (unsigned long)info->st_uid), 1;
    if (S_ISLNK(info->st_mode)) return 0; /* a symlink's mode means nothing; its directory and target are checked */
    if ((info->st_mode & (S_IWGRP | S_IWOTH)) && !(S_ISDIR(info->st_mode) && (info->st_mode & S_ISVTX)))
        return snprintf(why, size, "%s is writable by group or others", component), 1;
    return 0;
}

/* lstat from "/", component by component; a symlink restarts the walk on its target, so the path,
 * every link on the way and the path realpath(3) would give are all checked. */
static int untrusted_path(const char *path, char *why, size_t size, int links)
{
    char walked[PATH_MAX] = "/", target[PATH_MAX], next[PATH_MAX];
    size_t used = 0;
    struct stat info;
    if (path[0] != '/') return snprintf(why, size, "not an absolute path"), 1;
    if (lstat("/", &info) != 0) return snprintf(why, size, "/ cannot be examined (%s)", strerror(errno)), 1;
    if (untrusted_component("/", &info, why, size)) return 1;
    const char *rest = path;
    while (*(rest += strspn(rest, "/")) != '\0') {
        size_t length = strcspn(rest, "/");
        if (!S_ISDIR(info.st_mode)) return snprintf(why, size, "%s is not a directory", walked), 1;
        if (used + 1 + length >= sizeof walked) return snprintf(why, size, "the path is too long"), 1;
        walked[used++] = '/';
        memcpy(walked + used, rest, length);
        walked[used += length] = '\0';
        rest += length;
        if (lstat(walked, &info) != 0) {
            if (errno == ENOENT) return snprintf(why, size, "%s is missing", walked), 1;
            return snprintf(why, size, "%s cannot be examined (%s)", walked, strerror(errno)), 1;
        }
        if (untrusted_component(walked, &info, why, size)) return 1;
        if (!S_ISLNK(info.st_mode)) continue;
        if (links >= MAX_LINKS) return snprintf(why, size, "%s: too many levels of symbolic links", walked), 1;
        ssize_t target_length = readlink(walked, target, sizeof target - 1);
        if (target_length < 0) return snprintf(why, size, "%s cannot be read (%s)", walked, strerror(errno)), 1;
        target[target_length] = '\0';
        walked[used - length - 1] = '\0'; /* the link's directory, for a relative target */
        int fits = target[0] == '/' ? snprintf(next, sizeof next, "%s%s", target, rest)
                                    : snprintf(next, sizeof next, "%s/%s%s", walked, target, rest);
        if (fits < 0 || (size_t)fits >= sizeof next) return snprintf(why, size, "the path is too long"), 1;
        return untrusted_path(next, why, size, links + 1);
    }
    if (!S_ISREG(info.st_mode)) return snprintf(why, size, "%s is not a regular file", walked), 1;
    return 0;
}

/* Step 2: Node and the entrypoint run as root, so only root may be able to change them. */
static void refuse_untrusted(const char *path)
{
    char why[PATH_MAX + 64];
    if (!untrusted_path(path, why, sizeof why, 0)) return;
    say(PREFIX "launcher: %s is not trusted (%s); the root phase runs only files that only root can change", path, why);
    exit(77);
}

/* Step 3: a working directory an attacker chose is where relative paths would resolve. */
static void change_to_root_directory(void)
{
    if (chdir("/") == 0) return;
    say(PREFIX "launcher: cannot change to / (%s); the container's root filesystem must be searchable", strerror(errno));
    exit(70);
}

/* Step 4: Node with SIGUSR1 kept from opening its inspector, our bundle, then the container's
 * arguments as the bundle's own arguments. */
static void run_entrypoint(int argc, char **argv)
{
    char **args = calloc((size_t)(argc > 1 ? argc : 1) + 3, sizeof *args);
    if (args == NULL) {
        say(PREFIX "launcher: out of memory");
        exit(70);
    }
    args[0] = CBS_NODE;
    args[1] = "--disable-sigusr1";
    args[2] = CBS_ENTRYPOINT;
    for (int i = 1; i < argc; i++) args[i + 2] = argv[i];
    execve(CBS_NODE, args, environ);
    int error = errno;
    say(PREFIX "launcher: cannot run %s (%s); install Node >= 22.15 there, or rebuild the launcher with scripts/build-launcher.sh OUT NODE",
        CBS_NODE, strerror(error));
    exit(error == ENOENT ? 127 : 126);
}

/* HEALTH: the verdict's name beside the config, its first line, and the most that is read of it. */
#define VERDICT_NAME ".copilot-bridge.health"
#define VERDICT_MAGIC "copilot-bridge-health 1 "
#define VERDICT_MAX 4096

/* Writes the verdict's lines after the first to stdout, bytes outside printable ASCII as '?'. */
static void show_verdict(const char *text, size_t length)
{
    char out[VERDICT_MAX];
    size_t used = 0;
    for (size_t i = 0; i < length && used < sizeof out; i++) {
        unsigned char byte = (unsigned char)text[i];
        out[used++] = byte == '\n' || (byte >= 0x20 && byte < 0x7f) ? (char)byte : '?';
    }
    ssize_t ignored = write(STDOUT_FILENO, out, used);
    (void)ignored;
}

/* Step 5: 0 healthy, 1 unhealthy; returns -1 when there is no verdict to read (then verify runs). */
static int health(void)
{
    const char *config = getenv("BRIDGE_CONFIG_OUT");
    char dir[PATH_MAX], file[PATH_MAX], text[VERDICT_MAX + 1];
    if (config == NULL || config[0] != '/') config = "/tmp/config.json";
    if (snprintf(dir, sizeof dir, "%s", config) >= (int)sizeof dir) return -1;
    *strrchr(dir, '/') = '\0';
    if (snprintf(file, sizeof file, "%s/" VERDICT_NAME, dir) >= (int)sizeof file) return -1;
    int fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return -1;
        printf("unhealthy: cannot open %s (%s)\n", file, errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        return 1;
    }
    struct stat info;
    ssize_t length = fstat(fd, &info) == 0 && S_ISREG(info.st_mode) ? read(fd, text, VERDICT_MAX) : -1;
    close(fd);
    if (length < 0) {
        printf("unhealthy: %s is not a readable regular file\n", file);
        return 1;
    }
    text[length] = '\0';
    char *end = NULL;
    size_t magic = strlen(VERDICT_MAGIC);
    errno = 0;
    long long valid_until = strncmp(text, VERDICT_MAGIC, magic) == 0 ? strtoll(text + magic, &end, 10) : -1;
    if (end == NULL || *end != '\n' || errno != 0 || valid_until < 0) {
        printf("unhealthy: %s is not a verdict of this version\n", file);
        return 1;
    }
    const char *lines = end + 1;
    long long now = (long long)time(NULL);
    if (now > valid_until) {
        printf("unhealthy: the leak check's verdict expired %lld s ago: its supervisor stopped scanning (see docker logs)\n",
               now - valid_until);
        return 1;
    }
    fflush(stdout);
    show_verdict(lines, (size_t)(text + length - lines));
    return strncmp(lines, "clean:", 6) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (getuid() == 0 || geteuid() == 0) {
        refuse_loader_variables();
        refuse_untrusted(CBS_NODE);
        refuse_untrusted(CBS_ENTRYPOINT);
    }
    change_to_root_directory();
    if (argc == 2 && strcmp(argv[1], "health") == 0) {
        int verdict = health();
        if (verdict >= 0) return verdict;
        char *verify[] = {argv[0], "verify", NULL};
        run_entrypoint(2, verify);
    }
    run_entrypoint(argc, argv);
    return 70;
}
