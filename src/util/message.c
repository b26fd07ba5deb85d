#include "util/message.h"

#include <stdio.h>

void message_vformat(char *dst, size_t cap, const char *fmt, va_list ap) {
    if (!dst || !cap) return;
    vsnprintf(dst, cap, fmt, ap);
    for (char *p = dst; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
}

void message_format(char *dst, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    message_vformat(dst, cap, fmt, ap);
    va_end(ap);
}

int message_fail(int status, char *dst, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    message_vformat(dst, cap, fmt, ap);
    va_end(ap);
    return status;
}
