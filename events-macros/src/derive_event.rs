//! `#[derive(Event)]`: validation of the type and expansion into an `Event`
//! impl plus a link-time registration.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Fields};

use crate::attr::{self, Errors, EventOptions, Kind};
use crate::docs::doc_fragments;
use crate::krate::runtime_path;
use crate::type_text::type_text;

pub fn expand(input: DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let options = attr::event_options(&input.attrs, &mut errors);
    let shape = check_shape(&input, &mut errors);
    let name = event_name(&input, &options, &mut errors);

    let expansion = match shape {
        Some(fields) => expand_impl(&input, &options, &name, fields),
        // No impl can be written for an enum, a union or a generic type.
        None => TokenStream::new(),
    };
    match errors.finish() {
        Ok(()) => expansion,
        // The impl is still emitted after an option error, so that uses of the
        // type elsewhere do not add errors of their own.
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#error #expansion)
        }
    }
}

/// Rejects what cannot be an event, returning the fields otherwise.
fn check_shape<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<&'a Fields> {
    let fields = match &input.data {
        Data::Struct(data) => &data.fields,
        Data::Enum(data) => {
            errors.push_at(
                data.enum_token.span,
                format!(
                    "`#[derive(Event)]` supports structs only; wrap the enum in a struct, as in `struct {}Changed {{ value: {} }}`",
                    input.ident, input.ident
                ),
            );
            return None;
        }
        Data::Union(data) => {
            errors.push_at(
                data.union_token.span,
                "`#[derive(Event)]` supports structs only; unions have no serde representation to carry as an event payload",
            );
            return None;
        }
    };
    if !input.generics.params.is_empty() {
        errors.push_at(
            input.generics.span(),
            format!(
                "`#[derive(Event)]` does not support generic types: the registry needs one concrete type per event name and version; declare `{}` without type or lifetime parameters",
                input.ident
            ),
        );
        return None;
    }
    Some(fields)
}

fn event_name(input: &DeriveInput, options: &EventOptions, errors: &mut Errors) -> String {
    let (name, span) = match &options.name {
        Some(name) => (name.value.clone(), name.span),
        None => (input.ident.unraw().to_string(), input.ident.span()),
    };
    if let Err(message) = attr::check_event_name(&name) {
        errors.push_at(span, message);
    }
    name
}

fn expand_impl(
    input: &DeriveInput,
    options: &EventOptions,
    name: &str,
    fields: &Fields,
) -> TokenStream {
    let krate = runtime_path(options.krate.as_ref());
    let ident = &input.ident;
    let version = options.version.as_ref().map_or(1, |version| version.value);
    let kind = match options.kind.as_ref().map(|kind| kind.value) {
        Some(Kind::Integration) => quote!(#krate::EventKind::Integration),
        Some(Kind::Domain) | None => quote!(#krate::EventKind::Domain),
    };
    let doc = doc_fragments(&krate, &input.attrs);
    let field_cfgs: Vec<TokenStream> = fields
        .iter()
        .map(|field| {
            let cfgs = cfg_attrs(&field.attrs);
            quote!(#(#cfgs)*)
        })
        .collect();
    let fields = field_infos(&krate, fields);
    let line = line_of(ident.span());

    let mut settings = TokenStream::new();
    let mut deprecated_const = TokenStream::new();
    if let Some(reason) = &options.deprecated {
        let reason = &reason.value;
        settings.extend(quote!(.__deprecated(#reason)));
        deprecated_const = quote! {
            const DEPRECATED: ::core::option::Option<&'static str> = ::core::option::Option::Some(#reason);
        };
    }
    let mut upcast_checks = TokenStream::new();
    if let Some(previous) = &options.upcast_from {
        // The conversion bound is checked where the user wrote the type.
        let upcast = quote_spanned! {previous.span()=>
            .__upcast_from::<#previous, #ident>()
        };
        settings.extend(upcast);
        upcast_checks = quote_spanned! {previous.span()=>
            const _: () = #krate::__private::check_upcast(
                #name,
                #version,
                <#previous as #krate::Event>::NAME,
                <#previous as #krate::Event>::VERSION,
            );
        };
    }

    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, clippy::all)]
        const _: () = {
            // The field list is a static of its own because `FieldInfo` caches
            // its rendered doc in a `OnceLock`, which cannot live in a
            // promoted `&[...]` constant. A static array needs its length,
            // which depends on which `#[cfg]` fields are compiled in.
            #[allow(unused_mut)]
            const __EVENTS_FIELD_COUNT: usize = {
                let mut __count = 0usize;
                #(#field_cfgs { __count += 1; })*
                __count
            };
            static __EVENTS_FIELDS: [#krate::FieldInfo; __EVENTS_FIELD_COUNT] = [#(#fields),*];

            fn __events_schema() -> ::core::option::Option<#krate::__private::serde_json::Value> {
                #[allow(unused_imports)]
                use #krate::__private::{NoSchema as _, WithSchema as _};
                (&&#krate::__private::SchemaProbe::<#ident>::new()).schema()
            }

            static __EVENTS_INFO: #krate::EventInfo = #krate::EventInfo::__new::<#ident>(
                #name,
                #version,
                #kind,
                #doc,
                &__EVENTS_FIELDS,
                ::core::module_path!(),
                ::core::file!(),
                #line,
            )
            .__schema(__events_schema)
            #settings;

            #upcast_checks

            #[automatically_derived]
            impl #krate::Event for #ident {
                const NAME: &'static str = #name;
                const VERSION: u32 = #version;
                const KIND: #krate::EventKind = #kind;
                #deprecated_const

                fn info() -> &'static #krate::EventInfo {
                    &__EVENTS_INFO
                }
            }

            #krate::__private::inventory::submit! {
                #krate::__private::EventRegistration(&__EVENTS_INFO)
            }
        };
    }
}

fn field_infos(krate: &TokenStream, fields: &Fields) -> Vec<TokenStream> {
    fields
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let name = match &field.ident {
                Some(ident) => ident.unraw().to_string(),
                None => index.to_string(),
            };
            let field_ty = &field.ty;
            let ty = type_text(quote!(#field_ty));
            let doc = doc_fragments(krate, &field.attrs);
            let cfgs = cfg_attrs(&field.attrs);
            quote_spanned! {field.span()=>
                #(#cfgs)*
                #krate::FieldInfo::__new(#name, #ty, #doc)
            }
        })
        .collect()
}

pub fn cfg_attrs(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .collect()
}

/// Returns the 1-based source line of a span, or 0 where the compiler gives none.
pub fn line_of(span: Span) -> u32 {
    u32::try_from(span.start().line).unwrap_or(0)
}
