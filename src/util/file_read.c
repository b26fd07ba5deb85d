/* Bounded whole-file reads that refuse FIFOs, sockets, devices and folders (see file_read.h). */
#include "util/file_read.h"
#include "util/message.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a folder";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    return "not a regular file";
}

file_read_status file_read_capped(const char *path, size_t max, const char *limit_what, uint8_t **out,
                                  size_t *out_len, char *err, size_t errlen) {
    *out = NULL;
    *out_len = 0;
    /* O_NONBLOCK: open() of a FIFO would otherwise wait for a writer, forever. O_NOCTTY: a
     * terminal named as a file must not become our controlling terminal. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR) {
            message_format(err, errlen, "%s: no such file", path);
            return FILE_READ_MISSING;
        }
        message_format(err, errlen, "%s: cannot open: %s", path, strerror(e));
        return FILE_READ_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        message_format(err, errlen, "%s: cannot stat: %s", path, strerror(e));
        return FILE_READ_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        const char *k = kind_of(sb.st_mode);
        message_format(err, errlen, "%s: %s%s, expected a file", path, k[0] == 'a' ? "is " : "", k);
        return FILE_READ_NOT_FILE;
    }
    /* a regular file now: reads block as usual (O_NONBLOCK means nothing for it, but clear it
     * so that no caller ever sees EAGAIN) */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (sb.st_size < 0 || (unsigned long long)sb.st_size > max) {
        close(fd);
        message_format(err, errlen, "%s: file is %lld bytes, more than the %zu-byte limit%s", path,
                       (long long)sb.st_size, max, limit_what ? limit_what : "");
        return FILE_READ_TOO_LARGE;
    }
    size_t size = (size_t)sb.st_size;
    uint8_t *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        message_format(err, errlen, "%s: out of memory for %zu bytes", path, size + 1);
        return FILE_READ_NOMEM;
    }
    size_t have = 0;
    for (;;) {
        /* size + 1: one byte more than fstat said, so that a file that grew is noticed */
        ssize_t r = read(fd, buf + have, size + 1 - have);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            close(fd);
            message_format(err, errlen, "%s: read error: %s", path, strerror(e));
            return FILE_READ_IO;
        }
        if (r == 0) break;
        have += (size_t)r;
        if (have > size) {
            free(buf);
            close(fd);
            message_format(err, errlen, "%s: file grew while being read", path);
            return FILE_READ_IO;
        }
    }
    close(fd);
    *out = buf;
    *out_len = have;
    return FILE_READ_OK;
}
