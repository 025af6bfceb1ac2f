// CRC-32 and FNV-1a checksums of text: an example plugin in C, over the
// bindings `wit-bindgen c` generates for the plugin's world.
//
// Memory follows the canonical ABI: arguments handed to an export belong to
// it (freed here); what an export returns is malloc'ed here and freed by the
// generated post-return code; what an import returns belongs to the caller.

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checksum_c_plugin.h"
#include "json.h"

typedef checksum_c_plugin_string_t string_t;

static const char TEXT_INPUT[] =
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\","
    "\"description\":\"The text (its UTF-8 bytes are hashed)\"}},"
    "\"required\":[\"text\"],\"additionalProperties\":false}";

static const char DIGEST_OUTPUT[] =
    "{\"type\":\"object\",\"properties\":{\"algorithm\":{\"type\":\"string\"},"
    "\"digest\":{\"type\":\"string\"},\"bytes\":{\"type\":\"integer\"}},"
    "\"required\":[\"algorithm\",\"digest\",\"bytes\"]}";

static const char NO_INPUT[] = "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}";

static const char SESSION_KEY[] = "bytes-hashed";

// --- checksums -----------------------------------------------------------------

static uint32_t crc32(const uint8_t *data, size_t len) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static uint64_t fnv1a64(const uint8_t *data, size_t len) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        hash ^= data[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

// --- helpers -------------------------------------------------------------------

static void log_info(const char *message) {
    string_t text;
    checksum_c_plugin_string_set(&text, message);
    mcp_plugin_context_log(MCP_PLUGIN_TYPES_LOG_LEVEL_INFO, NULL, &text);
}

static void describe(exports_mcp_plugin_tools_tool_descriptor_t *tool, const char *name,
                     const char *description, const char *input, const char *output) {
    memset(tool, 0, sizeof *tool);
    checksum_c_plugin_string_dup(&tool->name, name);
    tool->description.is_some = true;
    checksum_c_plugin_string_dup(&tool->description.val, description);
    checksum_c_plugin_string_dup(&tool->input_schema, input);
    if (output) {
        tool->output_schema.is_some = true;
        checksum_c_plugin_string_dup(&tool->output_schema.val, output);
    }
    tool->annotations.is_some = true;
    tool->annotations.val.read_only_hint.is_some = true;
    tool->annotations.val.read_only_hint.val = true;
    // The hashes are quick: every call is an ordinary call, never an MCP task.
    tool->task_support = MCP_PLUGIN_TYPES_TASK_SUPPORT_FORBIDDEN;
}

// One text block and, when given, structured content.
static void text_result(exports_mcp_plugin_tools_call_result_t *ret, const char *text,
                        const char *structured) {
    ret->content.len = 1;
    ret->content.ptr = calloc(1, sizeof *ret->content.ptr);
    ret->content.ptr[0].tag = MCP_PLUGIN_TYPES_CONTENT_BLOCK_TEXT;
    checksum_c_plugin_string_dup(&ret->content.ptr[0].val.text, text);
    ret->structured_content.is_some = structured != NULL;
    if (structured) {
        checksum_c_plugin_string_dup(&ret->structured_content.val, structured);
    }
}

static bool tool_error(exports_mcp_plugin_tools_tool_error_t *err, const char *message) {
    memset(err, 0, sizeof *err);
    checksum_c_plugin_string_dup(&err->message, message);
    return false;
}

// The bytes hashed so far in this session, or -1 when the request has no
// session to keep state in (or the capability is refused).
static long long session_bytes(void) {
    string_t key;
    checksum_c_plugin_string_set(&key, SESSION_KEY);
    mcp_plugin_session_state_option_json_t value;
    mcp_plugin_session_state_facade_error_t error;
    if (!mcp_plugin_session_state_get(&key, &value, &error)) {
        mcp_plugin_session_state_facade_error_free(&error);
        return -1;
    }
    long long bytes = 0;
    if (value.is_some) {
        char buf[32] = {0};
        size_t n = value.val.len < sizeof buf - 1 ? value.val.len : sizeof buf - 1;
        memcpy(buf, value.val.ptr, n);
        bytes = strtoll(buf, NULL, 10);
        mcp_plugin_session_state_json_free(&value.val);
    }
    return bytes;
}

static void add_session_bytes(size_t len) {
    long long bytes = session_bytes();
    if (bytes < 0) return;
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", bytes + (long long)len);
    string_t key, value;
    checksum_c_plugin_string_set(&key, SESSION_KEY);
    checksum_c_plugin_string_set(&value, buf);
    mcp_plugin_session_state_facade_error_t error;
    if (!mcp_plugin_session_state_set(&key, &value, &error)) {
        mcp_plugin_session_state_facade_error_free(&error);
    }
}

// --- the tools export -------------------------------------------------------------

void exports_mcp_plugin_tools_list_tools(exports_mcp_plugin_tools_list_tool_descriptor_t *ret) {
    ret->len = 3;
    ret->ptr = calloc(ret->len, sizeof *ret->ptr);
    describe(&ret->ptr[0], "crc32", "The CRC-32 (IEEE) of a text, as 8 hex digits.", TEXT_INPUT,
             DIGEST_OUTPUT);
    describe(&ret->ptr[1], "fnv1a", "The 64-bit FNV-1a hash of a text, as 16 hex digits.",
             TEXT_INPUT, DIGEST_OUTPUT);
    describe(&ret->ptr[2], "bytes_hashed", "How many bytes this session has hashed so far.",
             NO_INPUT, NULL);
}

bool exports_mcp_plugin_tools_call_tool(string_t *name, exports_mcp_plugin_tools_json_t *arguments,
                                        exports_mcp_plugin_tools_call_result_t *ret,
                                        exports_mcp_plugin_tools_tool_error_t *err) {
    bool ok;
    char tool[32] = {0};
    memcpy(tool, name->ptr, name->len < sizeof tool - 1 ? name->len : sizeof tool - 1);
    bool is_crc = strcmp(tool, "crc32") == 0;
    if (is_crc || strcmp(tool, "fnv1a") == 0) {
        char *text = NULL;
        size_t len = 0;
        if (!json_string_member((const char *)arguments->ptr, arguments->len, "text", &text, &len)) {
            ok = tool_error(err, "the arguments hold no string `text`");
        } else {
            char digest[17], message[96];
            if (is_crc) {
                snprintf(digest, sizeof digest, "%08" PRIx32, crc32((const uint8_t *)text, len));
            } else {
                snprintf(digest, sizeof digest, "%016" PRIx64, fnv1a64((const uint8_t *)text, len));
            }
            snprintf(message, sizeof message, "%s of %zu bytes: %s", tool, len, digest);
            log_info(message);
            add_session_bytes(len);
            char structured[128];
            snprintf(structured, sizeof structured,
                     "{\"algorithm\":\"%s\",\"digest\":\"%s\",\"bytes\":%zu}", tool, digest, len);
            text_result(ret, digest, structured);
            free(text);
            ok = true;
        }
    } else if (strcmp(tool, "bytes_hashed") == 0) {
        long long bytes = session_bytes();
        if (bytes < 0) {
            ok = tool_error(err, "this request has no session to count in");
        } else {
            char text[64];
            snprintf(text, sizeof text, "%lld bytes hashed in this session", bytes);
            text_result(ret, text, NULL);
            ok = true;
        }
    } else {
        ok = tool_error(err, "unknown tool");
    }
    checksum_c_plugin_string_free(name);
    exports_mcp_plugin_tools_json_free(arguments);
    return ok;
}
