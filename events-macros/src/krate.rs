//! The path by which generated code reaches the runtime crate.

use proc_macro2::{Span, TokenStream};
use proc_macro_crate::{crate_name, FoundCrate};
use quote::{quote, ToTokens};

/// Returns the runtime path: the `crate = "..."` override, else `::events` when
/// the user's manifest depends on the facade (under any name), else
/// `::events_core` when it depends on the runtime crate directly.
pub fn runtime_path(override_path: Option<&syn::Path>) -> TokenStream {
    if let Some(path) = override_path {
        return path.to_token_stream();
    }
    if let Some(path) = found("events") {
        return path;
    }
    if let Some(path) = found("events-core") {
        return path;
    }
    quote!(::events)
}

fn found(package: &str) -> Option<TokenStream> {
    match crate_name(package).ok()? {
        // The package's own tests, examples and benches link the library
        // under its crate name, and the libraries declare
        // `extern crate self as ...` for their own use.
        FoundCrate::Itself => {
            let ident = syn::Ident::new(&package.replace('-', "_"), Span::call_site());
            Some(quote!(::#ident))
        }
        FoundCrate::Name(name) => {
            let ident = syn::Ident::new(&name, Span::call_site());
            Some(quote!(::#ident))
        }
    }
}
