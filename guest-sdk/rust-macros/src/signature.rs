//! What a `#[tool]` function's signature means: an optional leading
//! `&Context`, then one named, owned parameter per argument, and a return
//! type read as written to choose how the value becomes a result.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, Ident, Pat, PathArguments, ReturnType, Signature, Type,
};

/// One argument of the tool: a parameter of the function.
pub(crate) struct Param {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    /// Doc comments, `#[serde(...)]` and `#[schemars(...)]`: moved to the
    /// field of the generated argument struct.
    pub(crate) field_attrs: Vec<Attribute>,
}

/// How the function's return value becomes a tool result.
pub(crate) enum Output {
    /// `String`, `&str`, `Cow<str>`: one text block, no output schema.
    Text,
    /// `ToolOutput`, `Json<T>`: as the builder's handlers return them.
    Builder,
    /// Any other `T: Serialize + JsonSchema`: structured content, wrapped
    /// as `{"result": value}` unless `T` is an object.
    Structured(Box<Type>),
}

/// The parts of the signature the expansion needs.
pub(crate) struct Analysis {
    /// Whether the first parameter is the `&Context`.
    pub(crate) takes_context: bool,
    pub(crate) params: Vec<Param>,
    /// Whether the return type is a `Result` whose error converts into
    /// `ToolError`.
    pub(crate) fallible: bool,
    pub(crate) output: Output,
}

/// Check the signature, collecting every mistake, and strip the attributes
/// that belong to the argument struct from the parameters (Rust accepts
/// none of them on a parameter).
pub(crate) fn analyze(sig: &mut Signature, errors: &mut Vec<syn::Error>) -> Analysis {
    let mut refuse = |span: Span, message: &str| errors.push(syn::Error::new(span, message));
    if let Some(token) = &sig.asyncness {
        refuse(
            token.span(),
            "a #[tool] function cannot be `async`: handlers run to completion, and \
             the context's calls to the client block until they are answered",
        );
    }
    if let Some(token) = &sig.unsafety {
        refuse(token.span(), "a #[tool] function cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        refuse(abi.span(), "a #[tool] function cannot declare an ABI");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        refuse(
            sig.generics.span(),
            "a #[tool] function cannot be generic: its parameter and return types \
             define the tool's schemas",
        );
    }
    if let Some(variadic) = &sig.variadic {
        refuse(variadic.span(), "a #[tool] function cannot be variadic");
    }

    let mut takes_context = false;
    let mut params = Vec::new();
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                refuse(
                    receiver.span(),
                    "a #[tool] function cannot take `self`: write a free function",
                );
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        let field_attrs = take_field_attrs(&mut typed.attrs, &mut refuse);
        match context_reference(&typed.ty) {
            Some(true) if index == 0 => {
                takes_context = true;
                continue;
            }
            Some(true) => {
                refuse(
                    typed.ty.span(),
                    "the `&Context` must be the first parameter of a #[tool] function",
                );
                continue;
            }
            Some(false) => {
                refuse(
                    typed.ty.span(),
                    "take the context as `&Context`, not `&mut Context`",
                );
                continue;
            }
            None => {}
        }
        if let Type::Reference(reference) = &*typed.ty {
            refuse(
                reference.span(),
                "a #[tool] parameter is deserialized from the call's arguments, so it \
                 must own its value (`String` rather than `&str`, `Vec<T>` rather than \
                 `&[T]`); only a leading `&Context` is borrowed",
            );
            continue;
        }
        if let Type::ImplTrait(bound) = &*typed.ty {
            refuse(
                bound.span(),
                "a #[tool] parameter needs a concrete type: `impl Trait` makes the \
                 function generic",
            );
            continue;
        }
        let ident = match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
            other => {
                refuse(
                    other.span(),
                    "name each #[tool] parameter with a plain identifier: the name is \
                     the argument's name in the tool's input schema",
                );
                continue;
            }
        };
        params.push(Param {
            ident,
            ty: (*typed.ty).clone(),
            field_attrs,
        });
    }

    let (fallible, output) = match &sig.output {
        ReturnType::Default => {
            refuse(
                sig.ident.span(),
                "a #[tool] function must return what the model reads: a `String`, a \
                 value that serializes, or a `ToolOutput` (each possibly in a `Result`)",
            );
            (false, Output::Text)
        }
        ReturnType::Type(_, ty) => {
            let (fallible, value) = match result_value(ty) {
                Some(value) => (true, value),
                None => (false, &**ty),
            };
            (fallible, classify(value, &mut refuse))
        }
    };
    Analysis {
        takes_context,
        params,
        fallible,
        output,
    }
}

/// `Some(true)` for `&Context`, `Some(false)` for `&mut Context`, `None`
/// for anything else (recognized by the last segment of the path).
fn context_reference(ty: &Type) -> Option<bool> {
    let Type::Reference(reference) = ty else {
        return None;
    };
    let Type::Path(path) = &*reference.elem else {
        return None;
    };
    let last = path.path.segments.last()?;
    (last.ident == "Context" && last.arguments.is_none()).then_some(reference.mutability.is_none())
}

/// Remove the attributes that describe the argument rather than the
/// parameter: doc comments, `#[serde]` and `#[schemars]`. Lint attributes
/// stay; anything else is refused.
fn take_field_attrs(
    attrs: &mut Vec<Attribute>,
    refuse: &mut impl FnMut(Span, &str),
) -> Vec<Attribute> {
    let mut field = Vec::new();
    for attr in std::mem::take(attrs) {
        let path = attr.path();
        if ["doc", "serde", "schemars"]
            .iter()
            .any(|name| path.is_ident(name))
        {
            field.push(attr);
        } else if ["allow", "expect", "warn", "deny", "forbid"]
            .iter()
            .any(|name| path.is_ident(name))
        {
            attrs.push(attr);
        } else {
            refuse(
                attr.span(),
                "a #[tool] parameter takes doc comments, `#[serde(...)]`, \
                 `#[schemars(...)]` and lint attributes only",
            );
        }
    }
    field
}

/// The `T` of a return type written `Result<T, E>` (or an alias such as
/// `io::Result<T>`).
fn result_value(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    arguments.args.iter().find_map(|argument| match argument {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

/// How a returned value of type `ty` (as written) becomes a result.
fn classify(ty: &Type, refuse: &mut impl FnMut(Span, &str)) -> Output {
    match ty {
        Type::Reference(reference) if is_path(&reference.elem, "str") => Output::Text,
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last().map(|s| s.ident.to_string());
            match last.as_deref() {
                Some("String") => Output::Text,
                Some("Cow") if cow_of_str(path) => Output::Text,
                Some("ToolOutput" | "Json") => Output::Builder,
                _ => Output::Structured(Box::new(ty.clone())),
            }
        }
        Type::Tuple(tuple) if tuple.elems.is_empty() => {
            refuse(
                tuple.span(),
                "a #[tool] function must return what the model reads: return a \
                 `String` saying what was done rather than `()`",
            );
            Output::Text
        }
        Type::ImplTrait(bound) => {
            refuse(
                bound.span(),
                "name the return type of a #[tool] function: its schema is the tool's \
                 output schema",
            );
            Output::Text
        }
        Type::Paren(inner) => classify(&inner.elem, refuse),
        Type::Group(inner) => classify(&inner.elem, refuse),
        other => Output::Structured(Box::new(other.clone())),
    }
}

/// Whether `path` is `Cow<str>` (with or without a lifetime).
fn cow_of_str(path: &syn::TypePath) -> bool {
    let Some(PathArguments::AngleBracketed(arguments)) =
        path.path.segments.last().map(|s| &s.arguments)
    else {
        return false;
    };
    arguments
        .args
        .iter()
        .any(|argument| matches!(argument, GenericArgument::Type(ty) if is_path(ty, "str")))
}

fn is_path(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(path) if path.qself.is_none() && path.path.is_ident(name))
}
