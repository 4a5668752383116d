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
    pub deprecated: Option<Spanned<String>>,
    pub upcast_from: Option<syn::Type>,
}

#[derive(Clone, Copy)]
pub enum Kind {
    Domain,
    Integration,
}

pub const EVENT_KEYS: &str = "`name`, `version`, `kind`, `upcast_from`, `deprecated` or `crate`";

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
                // deprecated = "use CartCheckedOut"
                "deprecated" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    if lit.value().trim().is_empty() {
                        errors.push_at(
                            lit.span(),
                            "give the reason and the replacement, as in `deprecated = \"use CartCheckedOut\"`",
                        );
                    }
                    set_once(&mut options.deprecated, &meta.path, lit.span(), lit.value(), errors);
                }
                // upcast_from = OrderPlacedV1
                "upcast_from" => {
                    let ty: syn::Type = meta.value()?.parse()?;
                    if options.upcast_from.replace(ty).is_some() {
                        errors.push_at(syn::spanned::Spanned::span(&meta.path), "duplicate `upcast_from` option");
                    }
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

/// The options of `#[on(...)]`.
pub struct OnOptions {
    pub event: syn::Type,
    pub name: Option<LitStr>,
    pub priority: Option<Spanned<i32>>,
    pub krate: Option<Path>,
    pub after: Option<Spanned<Vec<String>>>,
    pub before: Option<Spanned<Vec<String>>>,
    pub attempts: Option<Spanned<u32>>,
    pub backoff: Option<Spanned<Backoff>>,
    pub jitter: Option<Span>,
    pub on_failure: Option<Spanned<OnFailure>>,
    pub timeout: Option<Spanned<u64>>,
    pub concurrent: Option<Spanned<bool>>,
    pub replay: Option<Spanned<bool>>,
}

/// A backoff written as `fixed("100ms")` or `exponential("10ms", "1s")`,
/// in nanoseconds.
pub enum Backoff {
    Fixed(u64),
    Exponential { initial: u64, max: u64 },
}

#[derive(Clone, Copy)]
pub enum OnFailure {
    DeadLetter,
    Log,
    Stop,
}

pub const ON_KEYS: &str = "`name`, `priority`, `after`, `before`, `attempts`, `backoff`, `jitter`, `on_failure`, `timeout`, `concurrent`, `replay` or `crate`";

const DURATION_HELP: &str = "write a whole number followed by a unit, `ns`, `us`, `ms`, `s`, `m` or `h`, such as \"250ms\" or \"5s\"";

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
            after: None,
            before: None,
            attempts: None,
            backoff: None,
            jitter: None,
            on_failure: None,
            timeout: None,
            concurrent: None,
            replay: None,
        };
        let mut errors = Errors::default();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
            let key_name = key.to_string();
            let duplicate = |errors: &mut Errors| {
                errors.push_at(key.span(), format!("duplicate `{key_name}` option"));
            };
            // Flags stand alone: `jitter`, `concurrent`.
            if !input.peek(Token![=]) {
                match key_name.as_str() {
                    "jitter" => {
                        if options.jitter.replace(key.span()).is_some() {
                            duplicate(&mut errors);
                        }
                    }
                    "concurrent" => {
                        let flag = Spanned {
                            value: true,
                            span: key.span(),
                        };
                        if options.concurrent.replace(flag).is_some() {
                            duplicate(&mut errors);
                        }
                    }
                    "name" | "priority" | "crate" | "after" | "before" | "attempts" | "backoff"
                    | "on_failure" | "timeout" => {
                        return Err(syn::Error::new(
                            key.span(),
                            format!("`{key_name}` needs a value, as in `{key_name} = ...`"),
                        ))
                    }
                    other => {
                        return Err(syn::Error::new(
                            key.span(),
                            format!("unknown `#[on]` option `{other}`; expected {ON_KEYS}"),
                        ))
                    }
                }
                continue;
            }
            input.parse::<Token![=]>()?;
            match key_name.as_str() {
                // name = "inventory.reserve"
                "name" => {
                    let lit: LitStr = input.parse()?;
                    if lit.value().trim().is_empty() {
                        errors.push_at(lit.span(), "handler name must not be empty");
                    }
                    if options.name.replace(lit).is_some() {
                        duplicate(&mut errors);
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
                        duplicate(&mut errors);
                    }
                }
                // after = "ledger" | after = ["ledger", "audit"]
                "after" | "before" => {
                    let names = parse_names(input, &key_name, &mut errors)?;
                    let slot = if key_name == "after" {
                        &mut options.after
                    } else {
                        &mut options.before
                    };
                    if slot.replace(names).is_some() {
                        duplicate(&mut errors);
                    }
                }
                // attempts = 3
                "attempts" => {
                    let lit: LitInt = input.parse()?;
                    match lit.base10_parse::<u32>() {
                        Ok(0) | Err(_) => errors.push_at(
                            lit.span(),
                            "`attempts` counts every try, the first included: a whole number from 1 to 4294967295",
                        ),
                        Ok(value) => {
                            let spanned = Spanned { value, span: lit.span() };
                            if options.attempts.replace(spanned).is_some() {
                                duplicate(&mut errors);
                            }
                        }
                    }
                }
                // backoff = fixed("100ms") | exponential("10ms", "1s")
                "backoff" => {
                    let backoff = parse_backoff(input, &mut errors)?;
                    if let Some(backoff) = backoff {
                        if options.backoff.replace(backoff).is_some() {
                            duplicate(&mut errors);
                        }
                    }
                }
                // jitter = true
                "jitter" => {
                    let lit: syn::LitBool = input.parse()?;
                    if lit.value && options.jitter.replace(lit.span()).is_some() {
                        duplicate(&mut errors);
                    }
                }
                // on_failure = "dead_letter" | "log" | "stop"
                "on_failure" => {
                    let lit: LitStr = input.parse()?;
                    let value = match lit.value().as_str() {
                        "dead_letter" => Some(OnFailure::DeadLetter),
                        "log" => Some(OnFailure::Log),
                        "stop" => Some(OnFailure::Stop),
                        other => {
                            errors.push_at(
                                lit.span(),
                                format!("unknown `on_failure` policy \"{other}\"; expected \"dead_letter\" (keep the event for a later retry), \"log\" (log and go on) or \"stop\" (log and skip the event's remaining handlers)"),
                            );
                            None
                        }
                    };
                    if let Some(value) = value {
                        let spanned = Spanned {
                            value,
                            span: lit.span(),
                        };
                        if options.on_failure.replace(spanned).is_some() {
                            duplicate(&mut errors);
                        }
                    }
                }
                // timeout = "5s"
                "timeout" => {
                    let lit: LitStr = input.parse()?;
                    match parse_duration(&lit.value()) {
                        Some(0) => errors.push_at(
                            lit.span(),
                            "a timeout of zero would fail every call; give a positive duration",
                        ),
                        Some(nanos) => {
                            let spanned = Spanned {
                                value: nanos,
                                span: lit.span(),
                            };
                            if options.timeout.replace(spanned).is_some() {
                                duplicate(&mut errors);
                            }
                        }
                        None => errors.push_at(
                            lit.span(),
                            format!("invalid duration \"{}\"; {DURATION_HELP}", lit.value()),
                        ),
                    }
                }
                // replay = false
                "replay" => {
                    let lit: syn::LitBool = input.parse()?;
                    let spanned = Spanned {
                        value: lit.value,
                        span: lit.span(),
                    };
                    if options.replay.replace(spanned).is_some() {
                        duplicate(&mut errors);
                    }
                }
                // concurrent = true
                "concurrent" => {
                    let lit: syn::LitBool = input.parse()?;
                    let spanned = Spanned {
                        value: lit.value,
                        span: lit.span(),
                    };
                    if options.concurrent.replace(spanned).is_some() {
                        duplicate(&mut errors);
                    }
                }
                // crate = "path::to::events"
                "crate" => {
                    let lit: LitStr = input.parse()?;
                    if options.krate.replace(parse_crate_path(&lit)?).is_some() {
                        duplicate(&mut errors);
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
        if let (Some(backoff), None) = (&options.backoff, &options.attempts) {
            errors.push_at(
                backoff.span,
                "a backoff needs retries: add `attempts = N` with N of 2 or more",
            );
        }
        if let (Some(jitter), None) = (options.jitter, &options.backoff) {
            errors.push_at(
                jitter,
                "`jitter` varies the backoff's waits: add `backoff = fixed(\"100ms\")` or `backoff = exponential(\"10ms\", \"1s\")`",
            );
        }
        errors.finish()?;
        Ok(options)
    }
}

/// Parses `"name"` or `["a", "b"]`.
fn parse_names(
    input: ParseStream<'_>,
    key: &str,
    errors: &mut Errors,
) -> syn::Result<Spanned<Vec<String>>> {
    let mut names = Vec::new();
    let span;
    if input.peek(syn::token::Bracket) {
        let content;
        let bracket = syn::bracketed!(content in input);
        span = bracket.span.join();
        let lits = content
            .parse_terminated(|input: ParseStream<'_>| input.parse::<LitStr>(), Token![,])?;
        for lit in lits {
            names.push(checked_name(&lit, key, errors));
        }
    } else {
        let lit: LitStr = input.parse().map_err(|error| {
            syn::Error::new(
                error.span(),
                format!("`{key}` takes a handler name or a list of them: `{key} = \"billing.charge\"` or `{key} = [\"a\", \"b\"]`"),
            )
        })?;
        span = lit.span();
        names.push(checked_name(&lit, key, errors));
    }
    Ok(Spanned { value: names, span })
}

fn checked_name(lit: &LitStr, key: &str, errors: &mut Errors) -> String {
    let name = lit.value();
    if name.trim().is_empty() {
        errors.push_at(
            lit.span(),
            format!("`{key}` names a handler; the name must not be empty"),
        );
    }
    name
}

/// Parses `fixed("100ms")` or `exponential("10ms", "1s")`.
fn parse_backoff(
    input: ParseStream<'_>,
    errors: &mut Errors,
) -> syn::Result<Option<Spanned<Backoff>>> {
    const SHAPES: &str = "write `backoff = fixed(\"100ms\")` or `backoff = exponential(\"10ms\", \"1s\")` (first wait, longest wait)";
    let kind: syn::Ident = input
        .parse()
        .map_err(|error| syn::Error::new(error.span(), SHAPES))?;
    let content;
    syn::parenthesized!(content in input);
    let lits =
        content.parse_terminated(|input: ParseStream<'_>| input.parse::<LitStr>(), Token![,])?;
    let lits: Vec<LitStr> = lits.into_iter().collect();
    let mut durations = Vec::new();
    for lit in &lits {
        match parse_duration(&lit.value()) {
            Some(nanos) => durations.push(nanos),
            None => {
                errors.push_at(
                    lit.span(),
                    format!("invalid duration \"{}\"; {DURATION_HELP}", lit.value()),
                );
                return Ok(None);
            }
        }
    }
    let backoff = match (kind.to_string().as_str(), durations.as_slice()) {
        ("fixed", [delay]) => Backoff::Fixed(*delay),
        ("exponential", [initial, max]) if initial <= max => Backoff::Exponential {
            initial: *initial,
            max: *max,
        },
        ("exponential", [_, _]) => {
            errors.push_at(
                lits[1].span(),
                "the longest wait of an exponential backoff must not be shorter than the first",
            );
            return Ok(None);
        }
        _ => {
            errors.push_at(kind.span(), SHAPES);
            return Ok(None);
        }
    };
    Ok(Some(Spanned {
        value: backoff,
        span: kind.span(),
    }))
}

/// Parses a duration such as `250ms` into nanoseconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let scale: u64 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    };
    number.checked_mul(scale)
}
