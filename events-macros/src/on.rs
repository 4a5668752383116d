//! `#[on(Event)]`: validation of the handler signature and expansion into a
//! type-erased entry point plus a link-time registration.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

use crate::attr::{Errors, OnOptions};
use crate::derive_event::{cfg_attrs, line_of};
use crate::krate::runtime_path;

/// The form in which a handler receives its event.
enum Param<'a> {
    /// `&E`
    Payload(&'a Type),
    /// `&Envelope<E>`
    Envelope(&'a Type),
}

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
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

    let options = OnOptions::parse.parse2(args);
    let param = check_signature(&function, options.as_ref().ok());
    match (options, param) {
        (Ok(options), Ok(param)) => {
            let registration = registration(&function, &options, &param);
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

fn check_signature<'a>(
    function: &'a ItemFn,
    options: Option<&OnOptions>,
) -> syn::Result<Param<'a>> {
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

    let params: Vec<&FnArg> = sig.inputs.iter().collect();
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
                errors.push_at(
                    extra.span(),
                    format!("unexpected parameter: `#[on]` handlers take exactly one parameter, {expected}"),
                );
            }
            classify(&typed.ty, &expected, &mut errors)
        }
        // A receiver, already reported.
        [FnArg::Receiver(_), ..] => None,
    };

    errors.finish()?;
    Ok(param.expect("a handler without errors has a parameter"))
}

/// Tells `&E` from `&Envelope<E>`; other shapes are errors.
fn classify<'a>(ty: &'a Type, expected: &str, errors: &mut Errors) -> Option<Param<'a>> {
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
    let is_envelope = match &*reference.elem {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Envelope"),
        _ => false,
    };
    if is_envelope {
        Some(Param::Envelope(ty))
    } else {
        Some(Param::Payload(ty))
    }
}

fn type_name(ty: &Type) -> String {
    crate::type_text::type_text(ty.to_token_stream())
}

fn registration(function: &ItemFn, options: &OnOptions, param: &Param<'_>) -> TokenStream {
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

    let (takes_envelope, argument) = match param {
        Param::Payload(ty) => (
            false,
            quote_spanned! {ty.span()=>
                <#ty as #krate::__private::PayloadParam<'_, #event>>::cast(__input.payload::<#event>())
            },
        ),
        Param::Envelope(ty) => (
            true,
            quote_spanned! {ty.span()=>
                <#ty as #krate::__private::EnvelopeParam<'_, #event>>::cast(__input.envelope::<#event>())
            },
        ),
    };
    let return_span = match &sig.output {
        ReturnType::Default => ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };

    let (entry, constructor) = if sig.asyncness.is_some() {
        let into_result = quote_spanned! {return_span=>
            #krate::__private::into_result(#ident(__argument).await)
        };
        let entry = quote! {
            fn __events_entry<'__a>(
                __input: #krate::__private::Input<'__a>,
            ) -> #krate::__private::BoxFuture<'__a> {
                let __argument = #argument;
                #krate::__private::boxed(async move { #into_result })
            }
        };
        (entry, quote!(__async))
    } else {
        let into_result = quote_spanned! {return_span=>
            #krate::__private::into_result(#ident(#argument))
        };
        let entry = quote! {
            fn __events_entry(
                __input: #krate::__private::Input<'_>,
            ) -> ::core::result::Result<(), #krate::HandlerError> {
                #into_result
            }
        };
        (entry, quote!(__sync))
    };

    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_upper_case_globals, clippy::all)]
        const _: () = {
            #entry

            static __EVENTS_HANDLER: #krate::HandlerInfo = #krate::HandlerInfo::#constructor::<#event>(
                #name,
                ::core::concat!(::core::module_path!(), "::", #function_name),
                #priority,
                #takes_envelope,
                ::core::file!(),
                #line,
                __events_entry,
            );

            #krate::__private::inventory::submit! {
                #krate::__private::HandlerRegistration(&__EVENTS_HANDLER)
            }
        };
    }
}
