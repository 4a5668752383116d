//! `#[on(Event)]`: validation of the handler signature and expansion into a
//! type-erased entry point plus a link-time registration.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, PathArguments, ReturnType, Type};

use crate::attr::{Errors, OnOptions};
use crate::derive_event::{cfg_attrs, line_of};
use crate::krate::runtime_path;

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "`#[on]` goes on a free function, such as `#[on(OrderPlaced)] fn reserve_stock(order: &OrderPlaced) { ... }`",
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };

    elide_context_lifetime(&mut function);
    let options = OnOptions::parse.parse2(args);
    let param = check_signature(&function, options.as_ref().ok());
    match (options, param) {
        (Ok(options), Ok((param, extras))) => {
            let registration = registration(&function, &options, param, &extras);
            quote!(#function #registration)
        }
        // The function is emitted unchanged, so that its callers and an IDE
        // see no errors beyond the one reported here.
        (options, param) => {
            let mut errors = Errors::default();
            if let Err(error) = options {
                errors.push(error);
            }
            if let Err(error) = param {
                errors.push(error);
            }
            let error = errors.finish().unwrap_err().to_compile_error();
            quote!(#error #function)
        }
    }
}

/// Writes a parameter type `Context` (any path ending in `Context` without
/// generic arguments) of an `async` handler as `Context<'_>`. An `async fn`
/// rejects a lifetime left out of a path with E0726, while a synchronous
/// function accepts it, so without this users would have to spell out `'_`
/// in `async` handlers only.
fn elide_context_lifetime(function: &mut ItemFn) {
    if function.sig.asyncness.is_none() {
        return;
    }
    for input in &mut function.sig.inputs {
        let FnArg::Typed(typed) = input else {
            continue;
        };
        let Type::Path(path) = &mut *typed.ty else {
            continue;
        };
        if path.qself.is_some() {
            continue;
        }
        let Some(last) = path.path.segments.last_mut() else {
            continue;
        };
        if last.ident == "Context" && last.arguments.is_none() {
            let span = last.ident.span();
            last.arguments = PathArguments::AngleBracketed(syn::parse_quote_spanned!(span=> <'_>));
        }
    }
}

/// Checks the parts of a handler signature that the macro can see, returning
/// the parameter type. Whether that type is `&E` or `&Envelope<E>` is left to
/// the compiler, which also resolves type aliases.
fn check_signature<'a>(
    function: &'a ItemFn,
    options: Option<&OnOptions>,
) -> syn::Result<(&'a Type, Vec<&'a Type>)> {
    let sig = &function.sig;
    let event = options.map_or_else(|| "E".to_owned(), |options| type_name(&options.event));
    let expected = format!("`event: &{event}` or `envelope: &Envelope<{event}>`");
    let mut errors = Errors::default();

    if let Some(receiver) = sig.receiver() {
        errors.push_at(
            receiver.span(),
            format!("`#[on]` handlers are free functions, not methods; move the body into a free function taking {expected}"),
        );
    }
    if !sig.generics.params.is_empty() {
        errors.push_at(
            sig.generics.span(),
            "`#[on]` handlers cannot be generic; write one handler per concrete event type",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push_at(
            unsafety.span,
            "`#[on]` handlers cannot be `unsafe fn`; call the unsafe code from a safe handler",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.push_at(
            abi.span(),
            "`#[on]` handlers use the Rust ABI; remove the `extern`",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.push_at(variadic.span(), "`#[on]` handlers cannot be variadic");
    }

    if let Some(options) = options {
        if sig.asyncness.is_none() {
            if let Some(timeout) = &options.timeout {
                errors.push_at(
                    timeout.span,
                    "`timeout` applies to `async` handlers, which the bus can cancel; a synchronous handler runs to the end",
                );
            }
            if let Some(concurrent) = &options.concurrent {
                errors.push_at(
                    concurrent.span,
                    "`concurrent` applies to `async` handlers; synchronous handlers run one at a time",
                );
            }
        }
    }

    let params: Vec<&FnArg> = sig.inputs.iter().collect();
    let mut extras = Vec::new();
    let param = match params.as_slice() {
        [] => {
            errors.push_at(
                sig.paren_token.span.join(),
                format!(
                    "handler `{}` takes no parameter; add the event it handles: {expected}",
                    sig.ident
                ),
            );
            None
        }
        [FnArg::Typed(typed), rest @ ..] => {
            for extra in rest {
                match extra {
                    FnArg::Typed(extra) => extras.push(&*extra.ty),
                    FnArg::Receiver(receiver) => errors.push_at(
                        receiver.span(),
                        "`self` cannot follow the event; `#[on]` handlers are free functions",
                    ),
                }
            }
            classify(&typed.ty, &expected, &mut errors)
        }
        // A receiver, already reported.
        [FnArg::Receiver(_), ..] => None,
    };

    errors.finish()?;
    Ok((
        param.expect("a handler without errors has a parameter"),
        extras,
    ))
}

/// Rejects parameter shapes that can never be `&E` or `&Envelope<E>`.
fn classify<'a>(ty: &'a Type, expected: &str, errors: &mut Errors) -> Option<&'a Type> {
    if let Type::Path(path) = ty {
        let last = path
            .path
            .segments
            .last()
            .map(|segment| segment.ident.to_string());
        if matches!(last.as_deref(), Some("State" | "Context")) {
            errors.push_at(
                ty.span(),
                format!("the event comes first, then `State<T>` and `Context`: start the parameters with {expected}"),
            );
            return None;
        }
    }
    let Type::Reference(reference) = ty else {
        errors.push_at(
            ty.span(),
            format!("handlers borrow the event they handle; take it by reference: {expected}"),
        );
        return None;
    };
    if let Some(mutability) = &reference.mutability {
        errors.push_at(
            mutability.span,
            format!("handlers share the event with other handlers, so they borrow it immutably: {expected}"),
        );
        return None;
    }
    Some(ty)
}

fn type_name(ty: &Type) -> String {
    crate::type_text::type_text(ty.to_token_stream())
}

fn registration(
    function: &ItemFn,
    options: &OnOptions,
    param: &Type,
    extras: &[&Type],
) -> TokenStream {
    let krate = runtime_path(options.krate.as_ref());
    let sig = &function.sig;
    let ident = &sig.ident;
    let event = &options.event;
    let function_name = ident.unraw().to_string();
    let name = match &options.name {
        Some(name) => quote!(#name),
        None => quote!(::core::concat!(::core::module_path!(), "::", #function_name)),
    };
    let priority = options
        .priority
        .as_ref()
        .map_or(0, |priority| priority.value);
    let line = line_of(ident.span());
    let cfgs = cfg_attrs(&function.attrs);
    // A named constant rather than `const _`, so that `#[on]` on an
    // associated function gives one error ("cannot find function ... consider
    // using `Self::...`") instead of two. Function names are unique within a
    // module, so the name is too.
    let registration_name = quote::format_ident!("__EVENTS_HANDLER_{}", function_name);

    // Errors about the parameter and the return type point at the user's
    // tokens because these expressions carry their spans.
    // Both uses of the parameter type are written alike, so a wrong type
    // produces two identical errors, which rustc reports once.
    let param_trait = quote_spanned! {param.span()=>
        <#param as #krate::__private::HandlerParam<'_, #event>>
    };
    let return_span = match &sig.output {
        ReturnType::Default => ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let into_result = quote_spanned! {return_span=>
        #krate::__private::into_result(__returned)
    };

    // Each extra parameter is resolved through `FromCall`, with the
    // parameter's span so that a type the bus cannot provide is reported on it.
    let extra_names: Vec<syn::Ident> = (0..extras.len())
        .map(|index| quote::format_ident!("__events_extra_{}", index))
        .collect();
    let extra_values: Vec<TokenStream> = extras
        .iter()
        .map(|ty| {
            quote_spanned! {ty.span()=>
                <#ty as #krate::__private::FromCall<'_>>::from_call(__call)
            }
        })
        .collect();
    let requirements: Vec<TokenStream> = extras
        .iter()
        .map(|ty| {
            quote_spanned! {ty.span()=>
                <#ty as #krate::__private::FromCall<'_>>::requirement
            }
        })
        .collect();

    let (entry, constructor) = if sig.asyncness.is_some() {
        let entry = quote! {
            fn __events_entry<'__events>(
                __input: #krate::__private::Input<'__events>,
                __call: &#krate::__private::Call<'__events>,
            ) -> #krate::__private::BoxFuture<'__events> {
                let __argument = #param_trait::extract(__input);
                #(let #extra_names = #extra_values;)*
                #krate::__private::boxed(async move {
                    let __returned = #ident(__argument #(, #extra_names)*).await;
                    #into_result
                })
            }
        };
        (entry, quote!(__async))
    } else {
        let entry = quote! {
            fn __events_entry(
                __input: #krate::__private::Input<'_>,
                __call: &#krate::__private::Call<'_>,
            ) -> #krate::__private::Outcome {
                let __returned = #ident(#param_trait::extract(__input) #(, #extra_values)*);
                #into_result
            }
        };
        (entry, quote!(__sync))
    };

    let mut settings = TokenStream::new();
    if let Some(names) = &options.after {
        let names = &names.value;
        settings.extend(quote!(.__after(&[#(#names),*])));
    }
    if let Some(names) = &options.before {
        let names = &names.value;
        settings.extend(quote!(.__before(&[#(#names),*])));
    }
    if let Some(attempts) = &options.attempts {
        let attempts = attempts.value;
        let duration = |nanos: u64| quote!(#krate::__private::Duration::from_nanos(#nanos));
        let mut retry = quote!(#krate::policy::Retry::attempts(#attempts));
        if let Some(backoff) = &options.backoff {
            let mut backoff = match backoff.value {
                crate::attr::Backoff::Fixed(delay) => {
                    let delay = duration(delay);
                    quote!(#krate::policy::Backoff::fixed(#delay))
                }
                crate::attr::Backoff::Exponential { initial, max } => {
                    let initial = duration(initial);
                    let max = duration(max);
                    quote!(#krate::policy::Backoff::exponential(#initial, #max))
                }
            };
            if options.jitter.is_some() {
                backoff.extend(quote!(.with_jitter()));
            }
            retry.extend(quote!(.backoff(#backoff)));
        }
        settings.extend(quote!(.__retry(#retry)));
    }
    if let Some(on_failure) = &options.on_failure {
        let variant = match on_failure.value {
            crate::attr::OnFailure::DeadLetter => quote!(DeadLetter),
            crate::attr::OnFailure::Log => quote!(Log),
            crate::attr::OnFailure::Stop => quote!(Stop),
        };
        settings.extend(quote!(.__on_failure(#krate::policy::OnFailure::#variant)));
    }
    if let Some(timeout) = &options.timeout {
        let nanos = timeout.value;
        settings.extend(quote!(.__timeout(#krate::__private::Duration::from_nanos(#nanos))));
    }
    if let Some(concurrent) = &options.concurrent {
        let variant = if concurrent.value {
            quote!(Concurrent)
        } else {
            quote!(Sequential)
        };
        settings.extend(quote!(.__concurrency(#krate::policy::Concurrency::#variant)));
    }
    if !requirements.is_empty() {
        settings.extend(quote!(.__requires(&[#(#requirements),*])));
    }
    if let Some(replay) = &options.replay {
        let replays = replay.value;
        settings.extend(quote!(.__replays(#replays)));
    }

    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_upper_case_globals, deprecated, clippy::all)]
        const #registration_name: () = {
            #entry

            const fn __events_takes_envelope() -> bool {
                #param_trait::TAKES_ENVELOPE
            }

            static __EVENTS_HANDLER: #krate::HandlerInfo = #krate::HandlerInfo::#constructor::<#event>(
                #name,
                ::core::concat!(::core::module_path!(), "::", #function_name),
                ::core::file!(),
                #line,
                __events_entry,
            )
            .__priority(#priority)
            .__takes_envelope(__events_takes_envelope())
            #settings;

            #krate::__private::inventory::submit! {
                #krate::__private::HandlerRegistration(&__EVENTS_HANDLER)
            }
        };
    }
}
