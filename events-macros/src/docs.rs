//! Doc comments, rendered the way rustdoc shows them.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Expr, ExprLit, Lit, Meta};

/// One `#[doc = ...]` attribute: literal text, or an expression such as
/// `include_str!(...)` that only the compiler can evaluate.
enum Piece {
    Text(String),
    Expr(Box<Expr>),
}

/// Returns the doc comment as a `&'static str` expression: the lines joined by
/// `\n` with their common indentation and surrounding blank lines removed.
pub fn doc_expr(attrs: &[Attribute]) -> TokenStream {
    let pieces: Vec<Piece> = attrs.iter().filter_map(piece).collect();
    if pieces.iter().all(|piece| matches!(piece, Piece::Text(_))) {
        let lines = pieces.iter().filter_map(|piece| match piece {
            Piece::Text(text) => Some(text.as_str()),
            Piece::Expr(_) => None,
        });
        let text = unindent(lines);
        return quote!(#text);
    }

    // Text produced by macros is only known to the compiler, so it is joined
    // as written, without removing indentation.
    let parts = pieces.iter().enumerate().map(|(index, piece)| {
        let separator = if index == 0 { "" } else { "\n" };
        match piece {
            Piece::Text(text) => quote!(#separator, #text),
            Piece::Expr(expr) => quote!(#separator, #expr),
        }
    });
    quote!(::core::concat!(#(#parts),*))
}

fn piece(attr: &Attribute) -> Option<Piece> {
    if !attr.path().is_ident("doc") {
        return None;
    }
    let Meta::NameValue(name_value) = &attr.meta else {
        return None;
    };
    match &name_value.value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => Some(Piece::Text(text.value())),
        other => Some(Piece::Expr(Box::new(other.clone()))),
    }
}

fn unindent<'a>(pieces: impl Iterator<Item = &'a str>) -> String {
    let lines: Vec<&str> = pieces
        .flat_map(|piece| piece.split('\n'))
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);

    let stripped: Vec<&str> = lines
        .iter()
        .map(|line| {
            if line.trim().is_empty() {
                ""
            } else {
                line[indent..].trim_end()
            }
        })
        .collect();

    let first = stripped.iter().position(|line| !line.is_empty());
    let last = stripped.iter().rposition(|line| !line.is_empty());
    match (first, last) {
        (Some(first), Some(last)) => stripped[first..=last].join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::unindent;

    #[test]
    fn unindent_removes_common_indentation() {
        let text = unindent([" First line.", "", "     indented", " last"].into_iter());
        assert_eq!(text, "First line.\n\n    indented\nlast");
    }

    #[test]
    fn unindent_splits_multiline_attributes() {
        let text = unindent(["  a\n  b", "", ""].into_iter());
        assert_eq!(text, "a\nb");
    }

    #[test]
    fn unindent_of_nothing_is_empty() {
        assert_eq!(unindent(std::iter::empty()), "");
    }
}
