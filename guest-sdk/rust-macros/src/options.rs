//! The arguments of `#[tool(...)]`: the tool's name, title, description,
//! hints, declared output type and whether a call may run as an MCP task.

use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Expr, Lit, LitBool, LitStr, Token, Type};

/// What `#[tool(...)]` says about the tool, each at most once.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) name: Option<LitStr>,
    pub(crate) title: Option<LitStr>,
    pub(crate) description: Option<Expr>,
    pub(crate) read_only: bool,
    pub(crate) destructive: bool,
    pub(crate) idempotent: bool,
    pub(crate) open_world: Option<LitBool>,
    pub(crate) output: Option<Type>,
    pub(crate) task: Option<TaskSupport>,
}

/// `task = "..."`: whether a call of the tool may run as an MCP task.
#[derive(Clone, Copy)]
pub(crate) enum TaskSupport {
    Forbidden,
    Optional,
    Required,
}

/// The values `task = "..."` takes, for error messages.
const TASK_VALUES: &str = "`\"forbidden\"`, `\"optional\"` or `\"required\"`";

impl TaskSupport {
    /// The value of `task = <value>`, which must be one of the strings
    /// [`TASK_VALUES`] names.
    fn parse(value: &Expr) -> syn::Result<Self> {
        let text = match value {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(text),
                ..
            }) => Some(text.value()),
            _ => None,
        };
        match text.as_deref() {
            Some("forbidden") => Ok(Self::Forbidden),
            Some("optional") => Ok(Self::Optional),
            Some("required") => Ok(Self::Required),
            Some(other) => Err(syn::Error::new(
                value.span(),
                format!("`task` must be {TASK_VALUES}, not `{other:?}`"),
            )),
            None => Err(syn::Error::new(
                value.span(),
                format!("`task` must be {TASK_VALUES}, as a string"),
            )),
        }
    }

    /// The name of the SDK's `TaskSupport` variant.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Self::Forbidden => "Forbidden",
            Self::Optional => "Optional",
            Self::Required => "Required",
        }
    }
}

const EXPECTED: &str = "expected `name = \"...\"`, `title = \"...\"`, `description = \"...\"`, \
                        `read_only`, `destructive`, `idempotent`, `open_world = true|false`, \
                        `output = Type` or `task = \"forbidden\"|\"optional\"|\"required\"`";

impl Options {
    /// Take one argument; a second mention of the same one is an error.
    pub(crate) fn parse(&mut self, meta: ParseNestedMeta) -> syn::Result<()> {
        let Some(key) = meta.path.get_ident().map(ToString::to_string) else {
            return Err(meta.error(format!("unknown `#[tool]` argument: {EXPECTED}")));
        };
        let twice = || meta.error(format!("`{key}` is given twice"));
        match key.as_str() {
            "name" => set(&mut self.name, meta.value()?.parse()?).ok_or_else(twice),
            "title" => set(&mut self.title, meta.value()?.parse()?).ok_or_else(twice),
            "description" => set(&mut self.description, meta.value()?.parse()?).ok_or_else(twice),
            "output" => set(&mut self.output, meta.value()?.parse()?).ok_or_else(twice),
            "task" => {
                let value: Expr = meta.value()?.parse()?;
                set(&mut self.task, TaskSupport::parse(&value)?).ok_or_else(twice)
            }
            "open_world" => {
                // `open_world` alone means `open_world = true`.
                let value = if meta.input.peek(Token![=]) {
                    meta.value()?.parse()?
                } else {
                    LitBool::new(true, meta.path.span())
                };
                set(&mut self.open_world, value).ok_or_else(twice)
            }
            "read_only" | "destructive" | "idempotent" => {
                if meta.input.peek(Token![=]) {
                    return Err(meta.error(format!(
                        "`{key}` is a flag: write `{key}` to set the hint, or leave it out"
                    )));
                }
                let flag = match key.as_str() {
                    "read_only" => &mut self.read_only,
                    "destructive" => &mut self.destructive,
                    _ => &mut self.idempotent,
                };
                if std::mem::replace(flag, true) {
                    return Err(twice());
                }
                Ok(())
            }
            _ => Err(meta.error(format!("unknown `#[tool]` argument `{key}`: {EXPECTED}"))),
        }
    }
}

/// Store `value` in an empty `slot`; `None` when it was already set.
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}
