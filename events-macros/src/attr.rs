//! Parsing of the `#[event(...)]` and `#[on(...)]` options.

use proc_macro2::Span;
use syn::parse::ParseStream;
use syn::{Attribute, LitInt, LitStr, Path, Token};

/// Collects every error of one macro invocation so they are reported together.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn push_at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    pub fn finish(self) -> Result<(), syn::Error> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// An option value together with the span of the user's tokens.
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// The options of `#[event(...)]`.
#[derive(Default)]
pub struct EventOptions {
    pub name: Option<Spanned<String>>,
    pub version: Option<Spanned<u32>>,
    pub kind: Option<Spanned<Kind>>,
    pub krate: Option<Path>,
}

#[derive(Clone, Copy)]
pub enum Kind {
    Domain,
    Integration,
}

pub const EVENT_KEYS: &str = "`name`, `version`, `kind` or `crate`";

/// Parses every `#[event(...)]` attribute of a type.
pub fn event_options(attrs: &[Attribute], errors: &mut Errors) -> EventOptions {
    let mut options = EventOptions::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("event")) {
        let result = attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            match key.as_str() {
                // name = "OrderPlaced"
                "name" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    set_once(&mut options.name, &meta.path, lit.span(), lit.value(), errors);
                }
                // version = 2
                "version" => {
                    let (version, span) = parse_version(meta.value()?)?;
                    set_once(&mut options.version, &meta.path, span, version, errors);
                }
                // kind = "domain" | "integration"
                "kind" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let kind = match lit.value().as_str() {
                        "domain" => Kind::Domain,
                        "integration" => Kind::Integration,
                        other => {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!("unknown event kind `{other}`; expected `kind = \"domain\"` or `kind = \"integration\"`"),
                            ))
                        }
                    };
                    set_once(&mut options.kind, &meta.path, lit.span(), kind, errors);
                }
                // crate = "path::to::events"
                "crate" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let path = parse_crate_path(&lit)?;
                    if options.krate.replace(path).is_some() {
                        errors.push_at(lit.span(), "duplicate `crate` option");
                    }
                }
                _ => {
                    return Err(meta.error(format!(
                        "unknown `#[event]` option `{}`; expected {EVENT_KEYS}",
                        path_text(&meta.path)
                    )))
                }
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    options
}

/// Parses `version = N`, with messages for the usual mistakes: a string, a
/// negative number, zero.
fn parse_version(input: ParseStream<'_>) -> syn::Result<(u32, Span)> {
    if let Ok(lit) = input.fork().parse::<LitStr>() {
        input.parse::<LitStr>()?;
        let message = format!(
            "write the event version as an integer, without quotes: `version = {}`",
            lit.value()
        );
        return Err(syn::Error::new(lit.span(), message));
    }
    if input.peek(Token![-]) {
        let minus: Token![-] = input.parse()?;
        let lit: LitInt = input.parse()?;
        return Err(syn::Error::new_spanned(
            quote::quote!(#minus #lit),
            "event versions start at 1; write `version = 1`",
        ));
    }
    let lit: LitInt = input.parse()?;
    Ok((check_version(&lit)?, lit.span()))
}

fn check_version(lit: &LitInt) -> syn::Result<u32> {
    let version: u32 = lit.base10_parse().map_err(|_| {
        syn::Error::new(
            lit.span(),
            "event version must be a whole number from 1 to 4294967295",
        )
    })?;
    if version == 0 {
        return Err(syn::Error::new(
            lit.span(),
            "event versions start at 1; write `version = 1`",
        ));
    }
    Ok(version)
}

/// Parses `crate = "path"` into a path, naming the expected form on failure.
pub fn parse_crate_path(lit: &LitStr) -> syn::Result<Path> {
    lit.parse::<Path>().map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!(
                "`crate = {:?}` is not a path; write the path of the `events` crate, such as `crate = \"::events\"` or `crate = \"crate::events_runtime\"`",
                lit.value()
            ),
        )
    })
}

fn set_once<T>(
    slot: &mut Option<Spanned<T>>,
    key: &Path,
    span: Span,
    value: T,
    errors: &mut Errors,
) {
    if slot.is_some() {
        errors.push_at(span, format!("duplicate `{}` option", path_text(key)));
        return;
    }
    *slot = Some(Spanned { value, span });
}

pub fn path_text(path: &Path) -> String {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// Checks an event name: 1 to 256 characters, starting with an ASCII letter,
/// made of ASCII letters, digits and `.` `_` `-` `:` `/`.
pub fn check_event_name(name: &str) -> Result<(), String> {
    const ALLOWED: &str = "event names contain ASCII letters, digits and `.` `_` `-` `:` `/`, and start with a letter";
    let Some(first) = name.chars().next() else {
        return Err("event name must not be empty".to_owned());
    };
    if let Some(space) = name.chars().find(|c| c.is_whitespace()) {
        return Err(format!(
            "event name {name:?} contains whitespace ({space:?}); {ALLOWED}, for example \"shop.order_placed\""
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/')))
    {
        return Err(format!("event name {name:?} contains {bad:?}; {ALLOWED}"));
    }
    if !first.is_ascii_alphabetic() {
        return Err(format!(
            "event name {name:?} starts with {first:?}; {ALLOWED}"
        ));
    }
    if name.len() > 256 {
        return Err(format!(
            "event name is {} characters long; the limit is 256",
            name.len()
        ));
    }
    Ok(())
}

/// The options of `#[on(Event, ...)]`.
pub struct OnOptions {
    pub event: syn::Type,
    pub name: Option<LitStr>,
    pub priority: Option<Spanned<i32>>,
    pub krate: Option<Path>,
}

pub const ON_KEYS: &str = "`name`, `priority` or `crate`";

impl OnOptions {
    pub fn parse(input: ParseStream<'_>) -> syn::Result<OnOptions> {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "missing event type; write the event this function handles, as in `#[on(OrderPlaced)]`",
            ));
        }
        let event: syn::Type = input.parse()?;
        let mut options = OnOptions {
            event,
            name: None,
            priority: None,
            krate: None,
        };
        let mut errors = Errors::default();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                // name = "inventory.reserve"
                "name" => {
                    let lit: LitStr = input.parse()?;
                    if lit.value().trim().is_empty() {
                        errors.push_at(lit.span(), "handler name must not be empty");
                    }
                    if options.name.replace(lit).is_some() {
                        errors.push_at(key.span(), "duplicate `name` option");
                    }
                }
                // priority = 10 | priority = -5
                "priority" => {
                    let negative = input.parse::<Option<Token![-]>>()?.is_some();
                    let lit: LitInt = input.parse()?;
                    let text = if negative {
                        format!("-{}", lit.base10_digits())
                    } else {
                        lit.base10_digits().to_owned()
                    };
                    let value: i32 = text.parse().map_err(|_| {
                        syn::Error::new(
                            lit.span(),
                            "priority must be a whole number from -2147483648 to 2147483647",
                        )
                    })?;
                    let spanned = Spanned {
                        value,
                        span: lit.span(),
                    };
                    if options.priority.replace(spanned).is_some() {
                        errors.push_at(key.span(), "duplicate `priority` option");
                    }
                }
                // crate = "path::to::events"
                "crate" => {
                    let lit: LitStr = input.parse()?;
                    if options.krate.replace(parse_crate_path(&lit)?).is_some() {
                        errors.push_at(key.span(), "duplicate `crate` option");
                    }
                }
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown `#[on]` option `{other}`; expected {ON_KEYS}"),
                    ))
                }
            }
        }
        errors.finish()?;
        Ok(options)
    }
}
