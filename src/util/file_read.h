/* The one way wgtrain reads a whole input file (MNIST IDX, safetensors, PNG/PGM): bounded, and
 * never blocked by something that is not a file.
 *
 * The path is opened with O_NONBLOCK, so that a FIFO (or a terminal, a socket, a device) does
 * not wait for a writer in open(); fstat then refuses anything but a regular file, and only then
 * is O_NONBLOCK cleared and the file read. Its size is capped before anything is allocated, and
 * a file that grows while it is read is refused rather than read past the cap.
 *
 * Host only (files and POSIX calls): src/core, src/gpu, src/data/idx.c and
 * src/checkpoint/safetensors.c work on memory and never include this. */
#ifndef WGTRAIN_FILE_READ_H
#define WGTRAIN_FILE_READ_H

#include <stddef.h>
#include <stdint.h>

typedef enum file_read_status {
    FILE_READ_OK = 0,
    FILE_READ_MISSING,   /* no such file (ENOENT, or a path component that is not a folder) */
    FILE_READ_IO,        /* cannot open (permissions, ...), cannot stat, read error, grew */
    FILE_READ_NOT_FILE,  /* a folder, FIFO, socket or device: "PATH: is a FIFO, expected a file" */
    FILE_READ_TOO_LARGE, /* more than max bytes */
    FILE_READ_NOMEM,
} file_read_status;

/* Reads the whole regular file at path, at most max bytes, into a malloc'd buffer (*out, with
 * one spare byte; *out_len bytes are the file). On failure *out is NULL and err holds one line
 * that starts with the path, e.g. "data/x: is a FIFO, expected a file". limit_what (may be NULL)
 * ends the too-large message: "PATH: file is N bytes, more than the M-byte limit<limit_what>". */
file_read_status file_read_capped(const char *path, size_t max, const char *limit_what, uint8_t **out,
                                  size_t *out_len, char *err, size_t errlen);

#endif
