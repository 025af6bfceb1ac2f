// Input and output specs -> JSON Schema: the spec language of a tool's
// `input` and `output` and of `ctx.elicit`'s form (type names, `?` for
// optional, arrays of one spec, JSON Schemas used as they are, nested
// objects); see mcp-plugin.js for the full description.

const TYPE_NAMES = new Set(["string", "number", "integer", "boolean", "object", "array", "null"]);
const SCHEMA_KEYS = ["type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref"];

function isSchema(value) {
  return SCHEMA_KEYS.some((key) => Object.prototype.hasOwnProperty.call(value, key));
}

function typeSchema(name, where) {
  if (name === "any") return {};
  if (!TYPE_NAMES.has(name)) {
    throw new Error(`${where}: unknown type "${name}" (one of ${[...TYPE_NAMES, "any"].join(", ")})`);
  }
  return { type: name };
}

// One value spec -> [schema, optional].
function valueSchema(spec, where) {
  if (typeof spec === "string") {
    const optional = spec.endsWith("?");
    return [typeSchema(optional ? spec.slice(0, -1) : spec, where), optional];
  }
  if (Array.isArray(spec)) {
    if (spec.length !== 1) throw new Error(`${where}: an array spec holds exactly one item spec`);
    return [{ type: "array", items: valueSchema(spec[0], `${where}[]`)[0] }, false];
  }
  if (spec && typeof spec === "object") {
    if (isSchema(spec)) {
      const { optional = false, ...schema } = spec;
      return [schema, optional || "default" in schema];
    }
    return [objectSchema(spec, where), false];
  }
  throw new Error(`${where}: a spec is a type name, an array of one spec, or an object`);
}

/** An object spec (or a JSON Schema with `type: "object"`, used as it is)
 * -> its JSON Schema; `where` names it in errors. */
export function objectSchema(spec, where) {
  if (spec.type === "object") return spec;
  const properties = {};
  const required = [];
  for (const [rawKey, value] of Object.entries(spec)) {
    const keyOptional = rawKey.endsWith("?");
    const key = keyOptional ? rawKey.slice(0, -1) : rawKey;
    const [schema, optional] = valueSchema(value, `${where}.${key}`);
    properties[key] = schema;
    if (!keyOptional && !optional) required.push(key);
  }
  const schema = { type: "object", properties, additionalProperties: false };
  if (required.length) schema.required = required;
  return schema;
}
