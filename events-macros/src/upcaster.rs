//! `#[upcaster(name = "...", from = N)]`: registration of a JSON upcaster for
//! an event version whose Rust type was deleted.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitInt, LitStr, Path, ReturnType, Token};

use crate::attr::{check_event_name, parse_crate_path, Errors};
use crate::derive_event::line_of;
use crate::krate::runtime_path;

struct Options {
    name: LitStr,
    from: u32,
    to: u32,
    krate: Option<Path>,
}

const USAGE: &str = "write `#[upcaster(name = \"OrderPlaced\", from = 1)]`, optionally with `to = N` when the upcaster skips versions";

fn parse_options(input: ParseStream<'_>) -> syn::Result<Options> {
    let mut name = None;
    let mut from = None;
    let mut to = None;
    let mut krate = None;
    let mut errors = Errors::default();
    while !input.is_empty() {
        let key: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
        input.parse::<Token![=]>()?;
        match key.to_string().as_str() {
            "name" => {
                let lit: LitStr = input.parse()?;
                if let Err(message) = check_event_name(&lit.value()) {
                    errors.push_at(lit.span(), message);
                }
                name = Some(lit);
            }
            "from" | "to" => {
                let lit: LitInt = input.parse()?;
                let value = match lit.base10_parse::<u32>() {
                    Ok(value) if value >= 1 => value,
                    _ => {
                        errors.push_at(lit.span(), "versions are whole numbers from 1 to 4294967295");
                        1
                    }
                };
                if key == "from" {
                    from = Some((value, lit.span()));
                } else {
                    to = Some((value, lit.span()));
                }
            }
            "crate" => {
                let lit: LitStr = input.parse()?;
                krate = Some(parse_crate_path(&lit)?);
            }
            other => {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown `#[upcaster]` option `{other}`; expected `name`, `from`, `to` or `crate`"),
                ))
            }
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    let (Some(name), Some((from, from_span))) = (name, from) else {
        return Err(syn::Error::new(
            Span::call_site(),
            format!("missing `name` or `from`; {USAGE}"),
        ));
    };
    let to = match to {
        Some((to, span)) if to <= from => {
            errors.push_at(
                span,
                format!("`to` must be newer than `from = {from}`; an upcaster upgrades a payload"),
            );
            to
        }
        Some((to, _)) => to,
        None => from.checked_add(1).ok_or_else(|| {
            syn::Error::new(from_span, "`from` is the highest version; nothing is newer")
        })?,
    };
    errors.finish()?;
    Ok(Options {
        name,
        from,
        to,
        krate,
    })
}

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "`#[upcaster]` goes on a function `fn(serde_json::Value) -> Result<serde_json::Value, E>`",
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };
    let options = match parse_options.parse2(args) {
        Ok(options) => options,
        Err(error) => {
            let error = error.to_compile_error();
            return quote!(#error #function);
        }
    };
    let sig = &function.sig;
    let mut errors = Errors::default();
    if sig.inputs.len() != 1 || matches!(sig.inputs.first(), Some(FnArg::Receiver(_))) {
        errors.push_at(
            sig.inputs.span(),
            "an upcaster takes one parameter, the payload as `serde_json::Value`",
        );
    }
    if sig.asyncness.is_some() || !sig.generics.params.is_empty() {
        errors.push_at(
            sig.ident.span(),
            "an upcaster is a plain, non-generic, synchronous function",
        );
    }
    if let Err(error) = errors.finish() {
        let error = error.to_compile_error();
        return quote!(#error #function);
    }

    let krate = runtime_path(options.krate.as_ref());
    let ident = &sig.ident;
    let function_name = ident.to_string();
    let name = &options.name;
    let from = options.from;
    let to = options.to;
    let line = line_of(ident.span());
    let return_span = match &sig.output {
        ReturnType::Default => ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let call = quote_spanned! {return_span=>
        #krate::__private::into_upcast_result(#ident(__payload))
    };
    let registration_name = quote::format_ident!("__EVENTS_UPCASTER_{}", function_name);
    quote! {
        #function

        #[doc(hidden)]
        #[allow(non_upper_case_globals, clippy::all)]
        const #registration_name: () = {
            fn __events_convert(
                __payload: #krate::__private::serde_json::Value,
            ) -> ::core::result::Result<#krate::__private::serde_json::Value, ::std::string::String> {
                #call
            }

            static __EVENTS_UPCASTER: #krate::__private::UpcasterInfo = #krate::__private::UpcasterInfo::__new(
                #name,
                #from,
                #to,
                ::core::concat!(::core::module_path!(), "::", #function_name),
                ::core::file!(),
                #line,
                __events_convert,
            );

            #krate::__private::inventory::submit! {
                #krate::__private::UpcasterRegistration(&__EVENTS_UPCASTER)
            }
        };
    }
}
