//! `#[tool]`: a documented Rust function as an MCP tool of `mcp-plugin-sdk`.
//!
//! Use it through the SDK, as `mcp_plugin::tool`; the SDK's documentation
//! describes what the attribute accepts. This crate only generates code:
//! for a function `add`, the function itself (unchanged but for the
//! attributes its parameters lend to the argument struct), and `add::tool()`
//! returning the [`Tool`] built from its signature — an argument struct
//! deriving `Deserialize` and `JsonSchema` (so `schemars` writes the input
//! schema), the description from the doc comment, the hints from the
//! attribute, and a handler converting the return value. `add::tool()` is an
//! associated function of an uninhabited type named like the function (types
//! and functions have separate namespaces), so it works wherever the
//! function is declared and is imported together with it.
//!
//! [`Tool`]: https://docs.rs/mcp-plugin-sdk

mod options;
mod signature;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, ItemFn, Lit, LitStr, Meta};

use options::Options;
use signature::{Analysis, Output};

/// Turn a function into an MCP tool: the doc comment is the description,
/// the parameters after an optional leading `&Context` are the arguments,
/// the return type is the result, and `name::tool()` is the `Tool`. The
/// SDK's crate documentation (`mcp_plugin`, section "Tools as functions")
/// describes every rule and attribute argument.
#[proc_macro_attribute]
pub fn tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_tool(attr.into(), item.into()).into()
}

/// The expansion of `#[tool(attr)] item`: the function and `name::tool()`,
/// or the function and the compile errors.
fn expand_tool(attr: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| options.parse(meta));
    if let Err(error) = syn::parse::Parser::parse2(parser, attr) {
        return error.to_compile_error();
    }
    let mut function = match syn::parse2::<ItemFn>(item) {
        Ok(function) => function,
        Err(error) => {
            return syn::Error::new(
                error.span(),
                "#[tool] applies to a function: `fn name(ctx: &Context, arg: Type, ...) -> Output`",
            )
            .to_compile_error();
        }
    };
    let mut errors = Vec::new();
    let analysis = signature::analyze(&mut function.sig, &mut errors);
    let generated = expand(&function, &options, &analysis, &mut errors);
    match errors.into_iter().reduce(|mut all, error| {
        all.combine(error);
        all
    }) {
        // The function stays (its parameters' attributes removed), so a
        // mistake in the attribute reports nothing but itself.
        Some(error) => {
            let error = error.to_compile_error();
            quote!(#error #function)
        }
        None => quote!(#function #generated),
    }
}

/// `add::tool()` for the function `add`, or nothing when a mistake was
/// found (then in `errors`).
fn expand(
    function: &ItemFn,
    options: &Options,
    analysis: &Analysis,
    errors: &mut Vec<syn::Error>,
) -> TokenStream2 {
    let ident = &function.sig.ident;
    let vis = &function.vis;
    let name = match &options.name {
        Some(name) => name.clone(),
        None => LitStr::new(&ident.unraw().to_string(), ident.span()),
    };
    if !valid_name(&name.value()) {
        errors.push(syn::Error::new(
            name.span(),
            format!(
                "tool name `{}` must be 1 to 128 ASCII letters, digits, `_`, `-` or `.`",
                name.value()
            ),
        ));
    }
    let doc = match &options.description {
        Some(_) => None,
        None => doc_text(&function.attrs, errors),
    };
    let description = match (&options.description, doc) {
        (Some(description), _) => description.to_token_stream(),
        (None, Some(doc)) => LitStr::new(&doc, ident.span()).to_token_stream(),
        (None, None) => {
            errors.push(syn::Error::new(
                ident.span(),
                "document the tool: its `///` comment is the description the model reads \
                 (or write `#[tool(description = \"...\")]`)",
            ));
            return TokenStream2::new();
        }
    };
    if let (Some(output), Output::Text | Output::Structured(_)) =
        (&options.output, &analysis.output)
    {
        errors.push(syn::Error::new(
            output.span(),
            "`output = Type` declares the structured output of a function returning \
             `ToolOutput` or `Json<_>`; any other return type declares its own",
        ));
    }

    let mut builder = Vec::new();
    if let Some(title) = &options.title {
        builder.push(quote!(.title(#title)));
    }
    for (set, hint) in [
        (options.read_only, quote!(read_only)),
        (options.destructive, quote!(destructive)),
        (options.idempotent, quote!(idempotent)),
    ] {
        if set {
            builder.push(quote!(.#hint()));
        }
    }
    if let Some(open_world) = &options.open_world {
        builder.push(quote!(.open_world(#open_world)));
    }
    if let Some(task) = options.task {
        let variant = syn::Ident::new(task.variant(), ident.span());
        builder.push(quote!(.task(::mcp_plugin::TaskSupport::#variant)));
    }

    let idents: Vec<_> = analysis.params.iter().map(|p| &p.ident).collect();
    let fields = analysis.params.iter().map(|param| {
        let (attrs, ident, ty) = (&param.field_attrs, &param.ident, &param.ty);
        quote!(#(#attrs)* #ident: #ty)
    });
    let context = analysis.takes_context.then(|| quote!(__mcp_ctx,));
    let call = quote!(__mcp_fn(#context #(#idents),*));
    let value = if analysis.fallible {
        quote! {
            match #call {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(error) => {
                    return ::core::result::Result::Err(::core::convert::Into::<
                        ::mcp_plugin::ToolError,
                    >::into(error));
                }
            }
        }
    } else {
        call
    };
    let (convert, declare_output) = match (&analysis.output, &options.output) {
        (Output::Structured(ty), _) => (
            quote!(::mcp_plugin::__private::structured_output(__mcp_value)),
            quote!(::mcp_plugin::__private::with_return_schema::<#ty>(__mcp_tool)),
        ),
        (_, Some(output)) => (
            quote!(::mcp_plugin::IntoToolOutput::into_tool_output(__mcp_value)),
            quote!(__mcp_tool.output::<#output>()),
        ),
        (Output::Text | Output::Builder, None) => (
            quote!(::mcp_plugin::IntoToolOutput::into_tool_output(__mcp_value)),
            quote!(__mcp_tool),
        ),
    };
    let doc = format!(
        "The `{}` tool: its description, schemas, hints and a handler calling \
         [`{ident}`], ready for `Registry::tool`.",
        name.value()
    );
    // No parameters: `()`, which the SDK advertises as an empty object
    // schema and which accepts `{}`.
    let (arguments, argument, unpack) = if idents.is_empty() {
        (quote!(), quote!((): ()), quote!())
    } else {
        (
            quote! {
                #[derive(::mcp_plugin::serde::Deserialize, ::mcp_plugin::schemars::JsonSchema)]
                #[serde(crate = "::mcp_plugin::serde")]
                #[schemars(crate = "::mcp_plugin::schemars")]
                struct __McpToolArguments {
                    #(#fields,)*
                }
            },
            quote!(__mcp_arguments: __McpToolArguments),
            quote!(let __McpToolArguments { #(#idents),* } = __mcp_arguments;),
        )
    };
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis enum #ident {}

        impl #ident {
            #[doc = #doc]
            pub fn tool() -> ::mcp_plugin::Tool {
                #arguments
                let __mcp_fn = #ident;
                let __mcp_tool = ::mcp_plugin::Tool::new(#name, #description)
                    #(#builder)*
                    .handler(
                        move |__mcp_ctx: &::mcp_plugin::Context, #argument| {
                            #unpack
                            let __mcp_value = #value;
                            #convert
                        },
                    );
                #declare_output
            }
        }
    }
}

/// The doc comment, as the description: every line with the indentation
/// common to all of them removed, the whole trimmed. `None` without one.
fn doc_text(attrs: &[syn::Attribute], errors: &mut Vec<syn::Error>) -> Option<String> {
    let mut lines = Vec::new();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("doc")) {
        let Meta::NameValue(pair) = &attr.meta else {
            continue;
        };
        match &pair.value {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(text),
                ..
            }) => lines.extend(text.value().split('\n').map(str::to_owned)),
            other => errors.push(syn::Error::new(
                other.span(),
                "#[tool] reads the description from string doc comments; for another \
                 `#[doc = ...]`, give it as `#[tool(description = ...)]`",
            )),
        }
    }
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let text = lines
        .iter()
        .map(|line| line.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// The SDK's rule for tool names, checked here for literal names.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compile errors `#[tool(attr)] item` produces, as text.
    fn errors(attr: TokenStream2, item: TokenStream2) -> String {
        let expanded = expand_tool(attr, item).to_string();
        expanded
            .split("compile_error !")
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_documented_function_expands_without_errors() {
        let expanded = expand_tool(
            quote!(read_only, open_world = false),
            quote! {
                /// Add two numbers.
                ///
                /// Both may be negative.
                fn add(_ctx: &Context, /// First.
                    a: f64, b: f64) -> f64 { a + b }
            },
        )
        .to_string();
        assert!(!expanded.contains("compile_error"), "{expanded}");
        assert!(
            expanded.contains(r#""Add two numbers.\n\nBoth may be negative.""#),
            "{expanded}"
        );
        assert!(expanded.contains("enum add { }"), "{expanded}");
        assert!(
            expanded.contains("with_return_schema :: < f64 >"),
            "{expanded}"
        );
        // The parameter's doc comment went to the argument struct.
        assert!(
            expanded.contains(r#"fn add (_ctx : & Context , a : f64"#),
            "{expanded}"
        );
        assert!(
            expanded.contains(r#"# [doc = r" First."] a : f64"#),
            "{expanded}"
        );
    }

    #[test]
    fn task_support_is_declared_by_its_name_and_forbidden_by_default() {
        let item = quote!(
            #[doc = "Doc."]
            fn f() -> String {
                todo!()
            }
        );
        for (value, variant) in [
            ("forbidden", "Forbidden"),
            ("optional", "Optional"),
            ("required", "Required"),
        ] {
            let expanded = expand_tool(quote!(task = #value), item.clone()).to_string();
            assert!(!expanded.contains("compile_error"), "{expanded}");
            let declared = format!(". task (:: mcp_plugin :: TaskSupport :: {variant})");
            assert!(expanded.contains(&declared), "{expanded}");
        }
        // Left out, the builder's default (forbidden) stands.
        let expanded = expand_tool(TokenStream2::new(), item).to_string();
        assert!(!expanded.contains(". task ("), "{expanded}");
    }

    #[test]
    fn signatures_a_tool_cannot_have_are_refused() {
        let cases = [
            ("fn f(&self) -> String", "cannot take `self`"),
            ("fn f<T>(x: T) -> String", "cannot be generic"),
            ("async fn f() -> String", "cannot be `async`"),
            ("fn f((a, b): (u8, u8)) -> String", "plain identifier"),
            ("fn f(_: u8) -> String", "plain identifier"),
            ("fn f(text: &str) -> String", "must own its value"),
            ("fn f(ctx: &mut Context) -> String", "not `&mut Context`"),
            ("fn f(a: u8, ctx: &Context) -> String", "must be the first"),
            ("fn f()", "must return what the model reads"),
            ("fn f() -> ()", "rather than `()`"),
            ("fn f() -> impl Serialize", "name the return type"),
            ("fn f(#[cfg(x)] a: u8) -> String", "takes doc comments"),
        ];
        for (signature, expected) in cases {
            let item: TokenStream2 = format!("#[doc = \"Doc.\"] {signature} {{ todo!() }}")
                .parse()
                .unwrap();
            let text = errors(TokenStream2::new(), item);
            assert!(text.contains(expected), "{signature}: {text}");
        }
    }

    #[test]
    fn attribute_mistakes_are_refused() {
        let item = quote!(
            #[doc = "Doc."]
            fn f() -> String {
                todo!()
            }
        );
        let cases = [
            (quote!(readonly), "unknown `#[tool]` argument `readonly`"),
            (quote!(read_only = true), "`read_only` is a flag"),
            (quote!(title = "A", title = "B"), "`title` is given twice"),
            (quote!(name = "a b"), "must be 1 to 128 ASCII letters"),
            (quote!(output = Out), "`output = Type` declares"),
            (
                quote!(task = "sometimes"),
                r#"`task` must be `\"forbidden\"`, `\"optional\"` or `\"required\"`, not `\"sometimes\"`"#,
            ),
            (
                quote!(task = optional),
                r#"`task` must be `\"forbidden\"`, `\"optional\"` or `\"required\"`, as a string"#,
            ),
            (
                quote!(task = "optional", task = "required"),
                "`task` is given twice",
            ),
        ];
        for (attr, expected) in cases {
            let text = errors(attr.clone(), item.clone());
            assert!(text.contains(expected), "{attr}: {text}");
        }
        let undocumented = errors(
            TokenStream2::new(),
            quote!(
                fn f() -> String {
                    todo!()
                }
            ),
        );
        assert!(undocumented.contains("document the tool"), "{undocumented}");
    }

    #[test]
    fn doc_comments_lose_their_common_indentation() {
        let attrs: Vec<syn::Attribute> = vec![
            syn::parse_quote!(#[doc = "   First line."]),
            syn::parse_quote!(#[doc = ""]),
            syn::parse_quote!(#[doc = "     indented more"]),
            syn::parse_quote!(#[doc = "   "]),
        ];
        let text = doc_text(&attrs, &mut Vec::new());
        assert_eq!(text.as_deref(), Some("First line.\n\n  indented more"));
    }
}
