// A small reader for the JSON objects the host passes as tool arguments
// (already validated against the tool's input schema) and a writer for
// JSON strings.
#ifndef CHECKSUM_JSON_H
#define CHECKSUM_JSON_H

#include <stdbool.h>
#include <stddef.h>

// Find the string member `key` of the JSON object `json` and decode it into
// a new NUL-terminated UTF-8 buffer (*out, *out_len; free it with free()).
// Returns false when the text is not an object, the member is missing or not
// a string, or memory runs out.
bool json_string_member(const char *json, size_t json_len, const char *key,
                        char **out, size_t *out_len);

#endif
