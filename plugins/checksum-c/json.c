#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *at;
    const char *end;
} cursor_t;

static void skip_space(cursor_t *c) {
    while (c->at < c->end && (*c->at == ' ' || *c->at == '\t' || *c->at == '\n' || *c->at == '\r')) {
        c->at++;
    }
}

static int hex_value(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static bool read_hex4(cursor_t *c, uint32_t *value) {
    if (c->end - c->at < 4) return false;
    *value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = hex_value(c->at[i]);
        if (digit < 0) return false;
        *value = (*value << 4) | (uint32_t)digit;
    }
    c->at += 4;
    return true;
}

static size_t put_utf8(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// Decode the string starting at the cursor (on its opening quote). With
// out == NULL the string is only skipped. A decoded string is never longer
// than its JSON form, so the caller sizes `out` by that.
static bool read_string(cursor_t *c, char *out, size_t *out_len) {
    if (c->at >= c->end || *c->at != '"') return false;
    c->at++;
    size_t n = 0;
    while (c->at < c->end) {
        char ch = *c->at++;
        if (ch == '"') {
            if (out_len) *out_len = n;
            return true;
        }
        if ((unsigned char)ch < 0x20) return false;
        if (ch != '\\') {
            if (out) out[n] = ch;
            n++;
            continue;
        }
        if (c->at >= c->end) return false;
        char esc = *c->at++;
        char plain = 0;
        switch (esc) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (!read_hex4(c, &cp)) return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t low;
                if (c->end - c->at < 6 || c->at[0] != '\\' || c->at[1] != 'u') return false;
                c->at += 2;
                if (!read_hex4(c, &low) || low < 0xDC00 || low > 0xDFFF) return false;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return false;
            }
            char buf[4];
            size_t len = put_utf8(buf, cp);
            if (out) memcpy(out + n, buf, len);
            n += len;
            continue;
        }
        default:
            return false;
        }
        if (out) out[n] = plain;
        n++;
    }
    return false;
}

// Skip any JSON value (objects and arrays by bracket depth, strings exactly).
static bool skip_value(cursor_t *c) {
    skip_space(c);
    if (c->at >= c->end) return false;
    if (*c->at == '"') return read_string(c, NULL, NULL);
    int depth = 0;
    while (c->at < c->end) {
        char ch = *c->at;
        if (ch == '"') {
            if (!read_string(c, NULL, NULL)) return false;
            continue;
        }
        if (ch == '{' || ch == '[') depth++;
        if (ch == '}' || ch == ']') {
            if (depth == 0) return true;
            depth--;
            c->at++;
            if (depth == 0) return true;
            continue;
        }
        if (depth == 0 && ch == ',') return true;
        c->at++;
    }
    return depth == 0;
}

bool json_string_member(const char *json, size_t json_len, const char *key,
                        char **out, size_t *out_len) {
    cursor_t c = {json, json + json_len};
    skip_space(&c);
    if (c.at >= c.end || *c.at != '{') return false;
    c.at++;
    size_t key_len = strlen(key);
    char *name = malloc(json_len + 1);
    if (!name) return false;
    bool found = false;
    for (;;) {
        skip_space(&c);
        if (c.at < c.end && *c.at == '}') break;
        size_t name_len;
        if (!read_string(&c, name, &name_len)) break;
        skip_space(&c);
        if (c.at >= c.end || *c.at != ':') break;
        c.at++;
        skip_space(&c);
        if (name_len == key_len && memcmp(name, key, key_len) == 0) {
            if (c.at >= c.end || *c.at != '"') break;
            char *value = malloc((size_t)(c.end - c.at) + 1);
            if (!value) break;
            size_t value_len;
            if (!read_string(&c, value, &value_len)) {
                free(value);
                break;
            }
            value[value_len] = '\0';
            *out = value;
            *out_len = value_len;
            found = true;
            break;
        }
        if (!skip_value(&c)) break;
        skip_space(&c);
        if (c.at < c.end && *c.at == ',') {
            c.at++;
            continue;
        }
        break;
    }
    free(name);
    return found;
}
