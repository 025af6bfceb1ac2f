// Conversions between what plugin code returns or receives and the WIT
// values: MCP-shaped content blocks, tool results, resource contents (both
// ways), and the small value helpers (bytes, text, optional integers) the
// rest of the SDK shares.

function bytes(data) {
  if (data instanceof Uint8Array) return data;
  if (typeof data === "string") {
    const binary = atob(data);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }
  throw new Error("binary content needs a Uint8Array or a base64 string");
}

export function optionalBigInt(value) {
  return value === undefined || value === null ? undefined : BigInt(value);
}

export function optionalNumber(value) {
  return value === undefined ? undefined : Number(value);
}

export function encodeText(text) {
  return new TextEncoder().encode(text);
}

export function decodeText(data) {
  return new TextDecoder().decode(data);
}

export function block(item) {
  if (typeof item === "string") return { tag: "text", val: item };
  switch (item && item.type) {
    case "text":
      return { tag: "text", val: String(item.text) };
    case "image":
    case "audio":
      return { tag: item.type, val: { data: bytes(item.data), mimeType: item.mimeType } };
    case "resource_link":
      return {
        tag: "resource-link",
        val: {
          uri: item.uri,
          name: item.name,
          title: item.title,
          description: item.description,
          mimeType: item.mimeType,
          size: optionalBigInt(item.size),
        },
      };
    case "resource": {
      const r = item.resource || {};
      const body = r.text !== undefined ? { tag: "text", val: r.text } : { tag: "blob", val: bytes(r.blob) };
      return { tag: "embedded-resource", val: { uri: r.uri, mimeType: r.mimeType, body } };
    }
    default:
      throw new Error(`unknown content block ${JSON.stringify(item)}`);
  }
}

// WIT resource contents -> `{uri, mimeType, text}` or `{uri, mimeType, blob}`.
export function contentsFromWit(contents) {
  const { uri, mimeType, body } = contents;
  return body.tag === "text" ? { uri, mimeType, text: body.val } : { uri, mimeType, blob: body.val };
}

// A WIT content block -> the MCP-shaped block `block` accepts.
export function blockFromWit(content) {
  const value = content.val;
  switch (content.tag) {
    case "text":
      return { type: "text", text: value };
    case "image":
    case "audio":
      return { type: content.tag, data: value.data, mimeType: value.mimeType };
    case "resource-link":
      return { type: "resource_link", ...value, size: optionalNumber(value.size) };
    case "embedded-resource":
      return { type: "resource", resource: contentsFromWit(value) };
    default:
      throw new Error(`unknown content block "${content.tag}"`);
  }
}

export function result(value) {
  if (value === undefined || value === null) return { content: [], structuredContent: undefined };
  if (typeof value === "string") return { content: [block(value)], structuredContent: undefined };
  if (typeof value === "object" && Array.isArray(value.content)) {
    const structured = value.structuredContent;
    return {
      content: value.content.map(block),
      structuredContent: structured === undefined ? undefined : JSON.stringify(structured),
    };
  }
  const text = JSON.stringify(value);
  const structured = typeof value === "object" && !Array.isArray(value) ? text : undefined;
  return { content: [{ tag: "text", val: text }], structuredContent: structured };
}

function isContents(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    ("text" in value || "blob" in value)
  );
}

function contentsToWit(item, uri, mimeType) {
  const body =
    item.text !== undefined ? { tag: "text", val: String(item.text) } : { tag: "blob", val: bytes(item.blob) };
  return { uri: item.uri ?? uri, mimeType: item.mimeType ?? mimeType, body };
}

/** What `read` returned -> WIT resource contents of `uri`, with the
 * resource's declared `mimeType` where the contents set none. */
export function readResult(value, uri, mimeType) {
  if (value === undefined) return [];
  if (typeof value === "string") return [{ uri, mimeType, body: { tag: "text", val: value } }];
  if (value instanceof Uint8Array) return [{ uri, mimeType, body: { tag: "blob", val: value } }];
  if (isContents(value)) return [contentsToWit(value, uri, mimeType)];
  if (Array.isArray(value) && value.length && value.every(isContents)) {
    return value.map((item) => contentsToWit(item, uri, mimeType));
  }
  const json = JSON.stringify(value);
  return [{ uri, mimeType: mimeType ?? "application/json", body: { tag: "text", val: json } }];
}
