/* Checkpoint files: bounded reads and atomic, durable writes (see ckpt.h).
 *
 * A save never touches the file or folder it replaces until the new one is complete and on
 * disk: the bytes go to a new temp name (O_EXCL, so two writers never share one), are fsynced,
 * renamed over the target, and the folder is fsynced so the rename itself survives a power
 * cut. A crash or kill at any point leaves the old checkpoint or the new one, never a mix; a
 * leftover temp (".NAME.tmp-PID-N" or ".tmp-epoch-N-PID-N") is ignored by every reader and
 * removed by the next save once its writer process is gone. */
#include "checkpoint/ckpt.h"
#include "util/file_read.h"
#include "util/message.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ckpt_status fail(ckpt_status st, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static ckpt_status fail(ckpt_status st, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    message_vformat(err, errlen, fmt, ap);
    va_end(ap);
    return st;
}

/* Prefixes an error message with "path: ". */
static ckpt_status prefix(ckpt_status st, const char *path, char *err, size_t errlen) {
    if (st == CKPT_OK || !err || !errlen) return st;
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", err);
    return fail(st, err, errlen, "%s: %s", path, tmp);
}

static bool is_nospace(int e) { return e == ENOSPC || e == EDQUOT || e == EFBIG; }

static ckpt_status io_status(int e) { return is_nospace(e) ? CKPT_ERR_NOSPACE : CKPT_ERR_IO; }

static const char *nospace_text(int e) {
    return e == EFBIG ? "file size limit reached (ulimit -f)" : e == EDQUOT ? "disk quota exceeded" : "no space left on device";
}

size_t ckpt_max_file_size(void) {
    return 8 + (size_t)CKPT_MAX_HEADER + MODEL_MAX_PARAMS * 4;
}

ckpt_status ckpt_read_file(const char *path, uint8_t **out, size_t *out_len, char *err, size_t errlen) {
    switch (file_read_capped(path, ckpt_max_file_size(), " (the largest checkpoint)", out, out_len, err, errlen)) {
    case FILE_READ_OK: return CKPT_OK;
    case FILE_READ_MISSING: return CKPT_ERR_MISSING;
    case FILE_READ_TOO_LARGE: return CKPT_ERR_TOO_LARGE;
    case FILE_READ_NOMEM: return CKPT_ERR_NOMEM;
    default: return CKPT_ERR_IO;
    }
}

/* ---- paths ---- */

static ckpt_status join(char *dst, size_t cap, const char *a, const char *b, char *err, size_t errlen) {
    size_t al = strlen(a);
    int n = snprintf(dst, cap, "%s%s%s", a, al && a[al - 1] == '/' ? "" : "/", b);
    if (n < 0 || (size_t)n >= cap) return fail(CKPT_ERR_IO, err, errlen, "%s/%s: path too long", a, b);
    return CKPT_OK;
}

/* dir and base of a file path; dir is "." for a bare name. */
static ckpt_status split_path(const char *path, char *dir, size_t dcap, char *base, size_t bcap, char *err, size_t errlen) {
    const char *slash = strrchr(path, '/');
    const char *b = slash ? slash + 1 : path;
    if (!*b || !strcmp(b, ".") || !strcmp(b, ".."))
        return fail(CKPT_ERR_IO, err, errlen, "%s: not a file name", path);
    if (strlen(b) >= bcap) return fail(CKPT_ERR_IO, err, errlen, "%s: name too long", path);
    snprintf(base, bcap, "%s", b);
    if (!slash) snprintf(dir, dcap, ".");
    else if (slash == path) snprintf(dir, dcap, "/");
    else {
        size_t n = (size_t)(slash - path);
        if (n >= dcap) return fail(CKPT_ERR_IO, err, errlen, "%s: path too long", path);
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    return CKPT_OK;
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    if (r != 0 && (e == EINVAL || e == EROFS)) return 0; /* file systems that cannot sync folders */
    errno = e;
    return r;
}

static unsigned next_serial(void) {
    static unsigned counter;
    return ++counter;
}

/* True when a temp name's writer process (pid parsed from the name) is gone. */
static bool writer_gone(const char *pidtext) {
    char *end;
    errno = 0;
    long pid = strtol(pidtext, &end, 10);
    if (errno || end == pidtext || *end != '-' || pid <= 0 || pid > INT_MAX) return false;
    if (pid == (long)getpid()) return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Removes a folder and the plain files in it (checkpoint folders hold nothing else). */
static void remove_folder(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        char p[PATH_MAX];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            if (snprintf(p, sizeof p, "%s/%s", path, e->d_name) < (int)sizeof p) unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Removes temps left by writers that were killed: ".<base>.tmp-PID-N" files (base given) or
 * ".tmp-epoch-N-PID-N" / ".trash-..." folders (base NULL). */
static void clean_stale(const char *dir, const char *base) {
    DIR *d = opendir(dir);
    if (!d) return;
    char want[NAME_MAX + 16];
    if (base) snprintf(want, sizeof want, ".%s.tmp-", base);
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (base) {
            size_t wl = strlen(want);
            if (strncmp(n, want, wl) != 0 || !writer_gone(n + wl)) continue;
            if (snprintf(p, sizeof p, "%s/%s", dir, n) < (int)sizeof p) unlink(p);
        } else {
            const char *rest = NULL;
            if (!strncmp(n, ".tmp-epoch-", 11) || !strncmp(n, ".trash-epoch-", 13)) {
                rest = strchr(n + 1, '-');          /* "-epoch-..." */
                rest = rest ? strchr(rest + 1, '-') : NULL; /* "-NNNNNN-PID-N" */
                rest = rest ? strchr(rest + 1, '-') : NULL; /* "-PID-N" */
            }
            if (!rest || !writer_gone(rest + 1)) continue;
            if (snprintf(p, sizeof p, "%s/%s", dir, n) < (int)sizeof p) remove_folder(p);
        }
    }
    closedir(d);
}

/* Creates path (O_EXCL), writes bytes, fsyncs, closes. Removes it on failure. */
static ckpt_status write_new_file(const char *path, const char *shown, const uint8_t *bytes, size_t len, char *err,
                                  size_t errlen) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        if (e == EEXIST) return fail(CKPT_ERR_IO, err, errlen, "%s: temp file exists", path);
        if (is_nospace(e)) return fail(CKPT_ERR_NOSPACE, err, errlen, "cannot save %s: %s", shown, nospace_text(e));
        return fail(CKPT_ERR_IO, err, errlen, "cannot save %s: cannot create %s: %s", shown, path, strerror(e));
    }
    size_t done = 0;
    int e = 0;
    const char *what = "write";
    while (done < len) {
        ssize_t w = write(fd, bytes + done, len - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            e = errno;
            break;
        }
        if (w == 0) {
            e = ENOSPC;
            break;
        }
        done += (size_t)w;
    }
    if (!e && fsync(fd) != 0) e = errno, what = "fsync";
    if (close(fd) != 0 && !e) e = errno, what = "close";
    if (e) {
        unlink(path);
        if (is_nospace(e))
            return fail(CKPT_ERR_NOSPACE, err, errlen, "cannot save %s: %s after %zu of %zu bytes; the previous checkpoint is kept",
                        shown, nospace_text(e), done, len);
        return fail(CKPT_ERR_IO, err, errlen, "cannot save %s: %s failed: %s; the previous checkpoint is kept", shown, what,
                    strerror(e));
    }
    return CKPT_OK;
}

ckpt_status ckpt_write_atomic(const char *path, const uint8_t *bytes, size_t len, char *err, size_t errlen) {
    char dir[PATH_MAX], base[NAME_MAX + 1], tmp[PATH_MAX + 64];
    ckpt_status st = split_path(path, dir, sizeof dir, base, sizeof base, err, errlen);
    if (st) return st;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return fail(CKPT_ERR_MISSING, err, errlen, "cannot save %s: folder '%s' does not exist", path, dir);
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return fail(CKPT_ERR_IO, err, errlen, "cannot save %s: it is a folder", path);
    clean_stale(dir, base);
    for (int attempt = 0;; attempt++) {
        int n = snprintf(tmp, sizeof tmp, "%s/.%s.tmp-%ld-%u", dir, base, (long)getpid(), next_serial());
        if (n < 0 || (size_t)n >= sizeof tmp) return fail(CKPT_ERR_IO, err, errlen, "%s: path too long", path);
        st = write_new_file(tmp, path, bytes, len, err, errlen);
        if (st == CKPT_ERR_IO && attempt < 100 && access(tmp, F_OK) == 0) continue; /* name taken: next serial */
        if (st) return st;
        break;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fail(io_status(e), err, errlen, "cannot save %s: rename failed: %s; the previous file is kept", path, strerror(e));
    }
    if (fsync_dir(dir) != 0)
        return fail(CKPT_ERR_IO, err, errlen, "%s: saved, but syncing folder '%s' failed: %s", path, dir, strerror(errno));
    return CKPT_OK;
}

/* ---- checkpoint folders ---- */

/* "epoch-" followed by 6 or more digits: the epoch, else 0. */
static uint32_t epoch_of(const char *name) {
    if (strncmp(name, "epoch-", 6) != 0) return 0;
    const char *d = name + 6;
    size_t n = strlen(d);
    if (n < 6 || n > 9) return 0;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] < '0' || d[i] > '9') return 0;
        v = v * 10 + (uint32_t)(d[i] - '0');
    }
    return v;
}

ckpt_status ckpt_dir_latest(const char *dir, uint32_t *epoch, char *path, size_t path_len, char *err, size_t errlen) {
    *epoch = 0;
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        if (e == ENOENT) return fail(CKPT_ERR_MISSING, err, errlen, "%s: no such folder", dir);
        return fail(CKPT_ERR_IO, err, errlen, "%s: cannot open folder: %s", dir, strerror(e));
    }
    struct dirent *e;
    uint32_t best = 0;
    char name[NAME_MAX + 1] = "";
    while ((e = readdir(d))) {
        uint32_t k = epoch_of(e->d_name);
        if (k > best) {
            char p[PATH_MAX];
            struct stat sb;
            if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p || stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
                continue;
            best = k;
            snprintf(name, sizeof name, "%s", e->d_name);
        }
    }
    closedir(d);
    if (!best) return fail(CKPT_ERR_MISSING, err, errlen, "%s: holds no checkpoint (no epoch-NNNNNN folder)", dir);
    *epoch = best;
    return join(path, path_len, dir, name, err, errlen);
}

ckpt_status ckpt_dir_prepare(const char *dir, char *err, size_t errlen) {
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno != ENOENT) return fail(CKPT_ERR_IO, err, errlen, "%s: %s", dir, strerror(errno));
        if (mkdir(dir, 0777) != 0) {
            int e = errno;
            if (e == ENOENT)
                return fail(CKPT_ERR_MISSING, err, errlen, "cannot create checkpoint folder %s: its parent folder does not exist", dir);
            return fail(io_status(e), err, errlen, "cannot create checkpoint folder %s: %s", dir, strerror(e));
        }
        char parent[PATH_MAX], base[NAME_MAX + 1];
        char trimmed[PATH_MAX];
        snprintf(trimmed, sizeof trimmed, "%s", dir);
        for (size_t n = strlen(trimmed); n > 1 && trimmed[n - 1] == '/'; n--) trimmed[n - 1] = 0;
        if (split_path(trimmed, parent, sizeof parent, base, sizeof base, NULL, 0) == CKPT_OK) fsync_dir(parent);
        return CKPT_OK;
    }
    if (!S_ISDIR(sb.st_mode)) return fail(CKPT_ERR_IO, err, errlen, "%s: exists and is not a folder", dir);
    if (access(dir, W_OK | X_OK) != 0) return fail(CKPT_ERR_IO, err, errlen, "%s: folder is not writable", dir);
    return CKPT_OK;
}

ckpt_status ckpt_dir_save(const char *dir, uint32_t epoch, const uint8_t *model, size_t model_len, const uint8_t *state,
                          size_t state_len, char *saved, size_t saved_len, char *err, size_t errlen) {
    char tmp[PATH_MAX], final[PATH_MAX], file[PATH_MAX + 64], name[64];
    ckpt_status st;
    clean_stale(dir, NULL);
    snprintf(name, sizeof name, "epoch-%06u", epoch);
    if ((st = join(final, sizeof final, dir, name, err, errlen))) return st;
    for (int attempt = 0;; attempt++) {
        char tname[96];
        snprintf(tname, sizeof tname, ".tmp-epoch-%06u-%ld-%u", epoch, (long)getpid(), next_serial());
        if ((st = join(tmp, sizeof tmp, dir, tname, err, errlen))) return st;
        if (mkdir(tmp, 0777) == 0) break;
        int e = errno;
        if (e == EEXIST && attempt < 100) continue;
        if (is_nospace(e)) return fail(CKPT_ERR_NOSPACE, err, errlen, "cannot save checkpoint %s: %s", final, nospace_text(e));
        return fail(CKPT_ERR_IO, err, errlen, "cannot save checkpoint %s: cannot create %s: %s", final, tmp, strerror(e));
    }
    if ((st = join(file, sizeof file, tmp, CKPT_MODEL_FILE, err, errlen)) ||
        (st = write_new_file(file, final, model, model_len, err, errlen)) ||
        (st = join(file, sizeof file, tmp, CKPT_STATE_FILE, err, errlen)) ||
        (st = write_new_file(file, final, state, state_len, err, errlen))) {
        remove_folder(tmp);
        return st;
    }
    if (fsync_dir(tmp) != 0) {
        int e = errno;
        remove_folder(tmp);
        return fail(io_status(e), err, errlen, "cannot save checkpoint %s: fsync failed: %s; the previous checkpoint is kept", final,
                    strerror(e));
    }
    if (rename(tmp, final) != 0) {
        int e = errno;
        if (e != EEXIST && e != ENOTEMPTY) {
            remove_folder(tmp);
            return fail(io_status(e), err, errlen, "cannot save checkpoint %s: rename failed: %s; the previous checkpoint is kept",
                        final, strerror(e));
        }
        /* the epoch folder exists already: swap the two atomically, then drop the old one */
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_EXCHANGE) != 0) {
            e = errno;
            remove_folder(tmp);
            return fail(CKPT_ERR_IO, err, errlen, "cannot replace checkpoint %s: %s; the previous checkpoint is kept", final,
                        strerror(e));
        }
        remove_folder(tmp);
    }
    if (fsync_dir(dir) != 0)
        return fail(CKPT_ERR_IO, err, errlen, "%s: saved, but syncing folder '%s' failed: %s", final, dir, strerror(errno));
    if (saved && saved_len) snprintf(saved, saved_len, "%s", final);

    /* only now, with the new checkpoint durable, drop older ones (renamed first, so a folder
     * named epoch-N is always complete) */
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char old[PATH_MAX], trash[PATH_MAX];
        while ((e = readdir(d))) {
            uint32_t k = epoch_of(e->d_name);
            if (!k || k >= epoch) continue;
            char tname[96];
            snprintf(tname, sizeof tname, ".trash-epoch-%06u-%ld-%u", k, (long)getpid(), next_serial());
            if (join(old, sizeof old, dir, e->d_name, NULL, 0) || join(trash, sizeof trash, dir, tname, NULL, 0)) continue;
            if (rename(old, trash) == 0) remove_folder(trash);
        }
        closedir(d);
        fsync_dir(dir);
    }
    return CKPT_OK;
}

/* ---- loading ---- */

/* Reads, parses and checks the tensor data against the file's "sha256" digest. *unverified is
 * set when the file has no digest (another tool's, or an older wgtrain's). */
static ckpt_status load_parsed(const char *path, uint8_t **bytes, ckpt_parsed *p, bool *unverified, char *err,
                               size_t errlen) {
    size_t len;
    bool present = false;
    ckpt_status st = ckpt_read_file(path, bytes, &len, err, errlen);
    if (st) return st;
    st = ckpt_parse(*bytes, len, p, err, errlen);
    if (!st) st = ckpt_verify_digest(*bytes, len, p, &present, err, errlen);
    if (st) {
        free(*bytes);
        *bytes = NULL;
        return prefix(st, path, err, errlen);
    }
    *unverified = !present;
    return CKPT_OK;
}

/* The one-line notice for a file that loaded but carries no digest. */
static void note_unverified(const char *path) {
    char line[PATH_MAX + 128];
    message_format(line, sizeof line, "wgtrain: note: %s has no sha256 digest; its tensor data cannot be verified", path);
    fprintf(stderr, "%s\n", line);
}

ckpt_status ckpt_load_model(const char *path, ckpt_model *out, ckpt_parsed *parsed, char *resolved, size_t resolved_len,
                            char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    char file[PATH_MAX + 64];
    struct stat sb;
    ckpt_status st;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if ((st = join(file, sizeof file, path, CKPT_MODEL_FILE, err, errlen))) return st;
        if (access(file, F_OK) != 0) {
            char folder[PATH_MAX];
            uint32_t epoch;
            if ((st = ckpt_dir_latest(path, &epoch, folder, sizeof folder, err, errlen)))
                return fail(st, err, errlen, "%s: folder holds no %s and no epoch-NNNNNN checkpoint", path, CKPT_MODEL_FILE);
            if ((st = join(file, sizeof file, folder, CKPT_MODEL_FILE, err, errlen))) return st;
        }
    } else {
        snprintf(file, sizeof file, "%s", path);
    }
    if (resolved && resolved_len) snprintf(resolved, resolved_len, "%s", file);
    ckpt_parsed *p = parsed ? parsed : malloc(sizeof *p);
    if (!p) return fail(CKPT_ERR_NOMEM, err, errlen, "out of memory");
    uint8_t *bytes = NULL;
    bool unverified = false;
    st = load_parsed(file, &bytes, p, &unverified, err, errlen);
    if (!st) st = prefix(ckpt_model_decode(p, out, err, errlen), file, err, errlen);
    if (!st && parsed)
        for (uint32_t i = 0; i < p->ntensors; i++) p->tensors[i].data = NULL; /* the buffer goes away */
    free(bytes);
    if (!parsed) free(p);
    if (!st && unverified) note_unverified(file);
    return st;
}

ckpt_status ckpt_load_resume(const char *dir, ckpt_model *model, ckpt_state *state, char *folder, size_t folder_len,
                             char *err, size_t errlen) {
    memset(model, 0, sizeof *model);
    memset(state, 0, sizeof *state);
    char ep[PATH_MAX], mfile[PATH_MAX + 64], sfile[PATH_MAX + 64];
    ckpt_status st;
    struct stat sb;
    if (stat(dir, &sb) != 0) return fail(CKPT_ERR_MISSING, err, errlen, "%s: no such checkpoint folder", dir);
    if (!S_ISDIR(sb.st_mode)) return fail(CKPT_ERR_IO, err, errlen, "%s: not a folder (--resume takes a --checkpoint-dir)", dir);
    if ((st = join(sfile, sizeof sfile, dir, CKPT_STATE_FILE, err, errlen))) return st;
    if (access(sfile, F_OK) == 0) {
        snprintf(ep, sizeof ep, "%s", dir);
    } else {
        uint32_t epoch;
        if ((st = ckpt_dir_latest(dir, &epoch, ep, sizeof ep, err, errlen))) return st;
        if ((st = join(sfile, sizeof sfile, ep, CKPT_STATE_FILE, err, errlen))) return st;
    }
    if ((st = join(mfile, sizeof mfile, ep, CKPT_MODEL_FILE, err, errlen))) return st;
    if (folder && folder_len) snprintf(folder, folder_len, "%s", ep);

    ckpt_parsed *p = malloc(sizeof *p);
    if (!p) return fail(CKPT_ERR_NOMEM, err, errlen, "out of memory");
    uint8_t *bytes = NULL;
    bool state_unverified = false, model_unverified = false;
    st = load_parsed(sfile, &bytes, p, &state_unverified, err, errlen);
    if (!st) st = prefix(ckpt_state_decode(p, state, err, errlen), sfile, err, errlen);
    free(bytes);
    bytes = NULL;
    if (!st) {
        st = load_parsed(mfile, &bytes, p, &model_unverified, err, errlen);
        if (!st) st = prefix(ckpt_model_decode(p, model, err, errlen), mfile, err, errlen);
    }
    free(bytes);
    if (!st && !model_arch_equal(&model->arch, &state->cfg.arch)) {
        char a[128], b[128];
        model_hidden_format(&model->arch, a, sizeof a);
        model_hidden_format(&state->cfg.arch, b, sizeof b);
        st = fail(CKPT_ERR_MISMATCH, err, errlen, "%s: model has hidden %s (%s, %u inputs, %u classes) but its training state says %s (%s, %u inputs, %u classes)", ep, a,
                  model_activation_name(model->arch.activation), model->arch.inputs, model->arch.classes, b,
                  model_activation_name(state->cfg.arch.activation), state->cfg.arch.inputs, state->cfg.arch.classes);
    }
    if (!st) {
        size_t n = model_param_count(&model->arch);
        if (ckpt_params_fingerprint(model->params, n) != state->model_fingerprint)
            st = fail(CKPT_ERR_MISMATCH, err, errlen, "%s: %s and %s are not from the same checkpoint (weights fingerprint differs)",
                      ep, CKPT_MODEL_FILE, CKPT_STATE_FILE);
    }
    if (!st) {
        const char *e = ckpt_meta_get(p, "epoch");
        char want[16];
        snprintf(want, sizeof want, "%u", state->epochs_done);
        if (e && strcmp(e, want) != 0)
            st = fail(CKPT_ERR_MISMATCH, err, errlen, "%s: model says epoch %s but its training state says %u", ep, e, state->epochs_done);
    }
    free(p);
    if (st) {
        ckpt_model_free(model);
        ckpt_state_free(state);
    } else {
        if (model_unverified) note_unverified(mfile);
        if (state_unverified) note_unverified(sfile);
    }
    return st;
}
