/* One-line error messages. Every module reports failures as a status code plus a message in a
 * caller's buffer; the message may quote untrusted text (a path, a tensor name), so control
 * characters become '?' and the message stays one line. */
#ifndef WGTRAIN_MESSAGE_H
#define WGTRAIN_MESSAGE_H

#include <stdarg.h>
#include <stddef.h>

/* Formats into dst (when dst and cap are non-zero) as vsnprintf does, then replaces control
 * characters with '?'. */
void message_vformat(char *dst, size_t cap, const char *fmt, va_list ap);
void message_format(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* message_format, then returns status: a failing path is one `return message_fail(...)`. */
int message_fail(int status, char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
