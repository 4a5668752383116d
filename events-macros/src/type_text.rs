//! Source text of a type as a person writes it: `Vec<(String, u32)>`, not
//! the `Vec < (String , u32) >` that `TokenStream::to_string` produces.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

pub fn type_text(tokens: TokenStream) -> String {
    let mut out = String::new();
    write_tokens(tokens, &mut out);
    out
}

fn write_tokens(tokens: TokenStream, out: &mut String) {
    // Whether the previous token was a word (identifier, literal or the end of
    // a lifetime), so that two words in a row get a space between them.
    let mut after_word = false;
    for token in tokens {
        match token {
            TokenTree::Ident(ident) => {
                if after_word {
                    out.push(' ');
                }
                out.push_str(&ident.to_string());
                after_word = true;
            }
            TokenTree::Literal(literal) => {
                if after_word {
                    out.push(' ');
                }
                out.push_str(&literal.to_string());
                after_word = true;
            }
            TokenTree::Punct(punct) => {
                let c = punct.as_char();
                match c {
                    ',' | ';' => out.push_str(&format!("{c} ")),
                    '+' | '=' => {
                        out.truncate(out.trim_end().len());
                        out.push_str(&format!(" {c} "));
                    }
                    '>' if punct.spacing() == Spacing::Alone && out.ends_with('-') => {
                        out.pop();
                        out.push_str(" -> ");
                    }
                    _ => out.push(c),
                }
                // A lifetime is a `'` joined to an identifier; the identifier
                // that follows must not get a space.
                after_word = false;
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{ ", " }"),
                    Delimiter::None => ("", ""),
                };
                if after_word && group.delimiter() == Delimiter::Brace {
                    out.push(' ');
                }
                out.push_str(open);
                write_tokens(group.stream(), out);
                let trimmed = out.trim_end().len();
                out.truncate(trimmed);
                out.push_str(close);
                after_word = false;
            }
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
}

#[cfg(test)]
mod tests {
    use super::type_text;
    use quote::quote;

    #[test]
    fn type_text_of_common_types() {
        let cases = [
            (quote!(u64), "u64"),
            (quote!(Vec<(String, u32)>), "Vec<(String, u32)>"),
            (quote!(Option<&'static str>), "Option<&'static str>"),
            (
                quote!(std::collections::HashMap<String, Vec<u8>>),
                "std::collections::HashMap<String, Vec<u8>>",
            ),
            (quote!([u8; 32]), "[u8; 32]"),
            (
                quote!(Box<dyn Fn(u32) -> bool + Send>),
                "Box<dyn Fn(u32) -> bool + Send>",
            ),
            (quote!(&'a mut T), "&'a mut T"),
            (quote!(r#type::Kind), "r#type::Kind"),
        ];
        for (tokens, expected) in cases {
            assert_eq!(type_text(tokens), expected);
        }
    }
}
