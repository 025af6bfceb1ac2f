// RFC 6570 URI templates as resource templates declare them: `{name}` and
// `{+name}` expressions between literal text, parsed and matched against
// URIs.

const OPERATORS = "+#./;?&=,!@|";

// `template` -> its parts: `{literal}` and `{variable, reserved}`; the error
// says what is wrong with it.
function parseUriTemplate(template) {
  const parts = [];
  let rest = template;
  while (rest.length) {
    const at = rest.search(/[{}]/);
    if (at < 0) {
      parts.push({ literal: rest });
      break;
    }
    if (rest[at] === "}") throw new Error("has a `}` without a matching `{`");
    if (at > 0) parts.push({ literal: rest.slice(0, at) });
    const end = rest.indexOf("}", at);
    if (end < 0) throw new Error("has a `{` without a matching `}`");
    const expression = rest.slice(at + 1, end);
    const reserved = expression.startsWith("+");
    const name = reserved ? expression.slice(1) : expression;
    if (!name) throw new Error(`has an empty \`{${expression}}\``);
    if (OPERATORS.includes(name[0]) || /[,*:]/.test(name)) {
      throw new Error(`uses \`{${expression}}\`; only \`{name}\` and \`{+name}\` expressions are supported`);
    }
    if (!/^[A-Za-z0-9_.%]+$/.test(name)) {
      throw new Error(`has the variable name \`${name}\`; use ASCII letters, digits and \`_\``);
    }
    if (parts.length && parts[parts.length - 1].variable !== undefined) {
      throw new Error(`puts \`{${expression}}\` right after another variable; separate variables with literal text`);
    }
    if (parts.some((part) => part.variable === name)) throw new Error(`uses \`{${name}}\` twice`);
    parts.push({ variable: name, reserved });
    rest = rest.slice(end + 1);
  }
  if (!parts.length) throw new Error("is empty");
  return parts;
}

/** An RFC 6570 URI template of `{name}` and `{+name}` expressions between
 * literal text, as resource templates declare them. */
export class UriTemplate {
  /** Parse `template`; throws an Error saying what is wrong with it. */
  constructor(template) {
    this.template = template;
    try {
      this.parts = parseUriTemplate(template);
    } catch (error) {
      throw new Error(`URI template \`${template}\` ${error.message}`);
    }
  }

  /** The variables' names, in order. */
  get variables() {
    return this.parts.filter((part) => part.variable !== undefined).map((part) => part.variable);
  }

  /** The variables of `uri` (an object of percent-decoded values) if it is
   * an expansion of this template, else undefined. A `{name}` value is one
   * or more characters other than `/`, `?` and `#`; a `{+name}` value, one
   * or more of any; each ends where the following literal text first
   * appears. */
  match(uri) {
    const values = [];
    let rest = uri;
    for (const [i, part] of this.parts.entries()) {
      if (part.variable === undefined) {
        if (!rest.startsWith(part.literal)) return undefined;
        rest = rest.slice(part.literal.length);
        continue;
      }
      const next = this.parts[i + 1];
      const end = next ? rest.indexOf(next.literal) : rest.length;
      if (end <= 0) return undefined;
      const raw = rest.slice(0, end);
      if (!part.reserved && /[/?#]/.test(raw)) return undefined;
      let value;
      try {
        value = decodeURIComponent(raw);
      } catch {
        return undefined;
      }
      values.push([part.variable, value]);
      rest = rest.slice(end);
    }
    return rest === "" ? Object.fromEntries(values) : undefined;
  }
}
