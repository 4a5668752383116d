//! Doc comments, passed to the runtime as fragments.
//!
//! The runtime joins and unindents them the way rustdoc does. That cannot
//! happen here because `#[doc = include_str!(...)]` and similar attributes
//! hold macros that only the compiler evaluates.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Expr, Meta};

/// Returns a `&'static [DocFragment]` expression with one fragment per doc attribute.
pub fn doc_fragments(krate: &TokenStream, attrs: &[Attribute]) -> TokenStream {
    let fragments = attrs.iter().filter_map(|attr| fragment(krate, attr));
    quote!(&[#(#fragments),*])
}

fn fragment(krate: &TokenStream, attr: &Attribute) -> Option<TokenStream> {
    if !attr.path().is_ident("doc") {
        return None;
    }
    let Meta::NameValue(name_value) = &attr.meta else {
        return None;
    };
    let text: &Expr = &name_value.value;
    let kind = match kind_of(attr) {
        Kind::Line => quote!(Line),
        Kind::Block => quote!(Block),
        Kind::Attribute => quote!(Attribute),
    };
    Some(quote! {
        #krate::__private::DocFragment::__new(#krate::__private::DocKind::#kind, #text)
    })
}

enum Kind {
    Line,
    Block,
    Attribute,
}

/// Tells `///` and `/** */` comments from `#[doc]` attributes by their source
/// text. Tokens without source text (built by other macros) count as attributes.
fn kind_of(attr: &Attribute) -> Kind {
    let Some(source) = attr.pound_token.span.source_text() else {
        return Kind::Attribute;
    };
    if source.starts_with("///") || source.starts_with("//!") {
        Kind::Line
    } else if source.starts_with("/**") || source.starts_with("/*!") {
        Kind::Block
    } else {
        Kind::Attribute
    }
}
