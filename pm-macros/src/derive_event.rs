//! `#[derive(Event)]`: implements `Event` with its stable `NAME`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::attr;
use crate::ctxt::Ctxt;
use crate::pipeline::debug_print;

/// The expansion of `#[derive(Event)]`.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let output = match syn::parse2::<DeriveInput>(input) {
        Ok(input) => expand(&input),
        Err(error) => error.to_compile_error(),
    };
    debug_print("derive(Event)", &output);
    output
}

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let args = attr::event_args(&cx, &input.attrs);
    check_not_generic(&cx, input, "Event");
    let errors = cx.check().err().map(|e| e.to_compile_error());
    if !input.generics.params.is_empty() {
        return quote!(#errors);
    }
    let (ident, krate) = (&input.ident, &args.krate);
    let name = args.name.map_or_else(|| ident.to_string(), |n| n.value());
    // `Event`'s supertraits report a missing `Serialize`/`Deserialize` on the type's name.
    quote! {
        #errors
        #[automatically_derived]
        impl #krate::__private::Event for #ident {
            const NAME: &'static str = #name;
        }
    }
}

/// A `NAME` names one type on the wire; a generic type would give many types one name.
pub(crate) fn check_not_generic(cx: &Ctxt, input: &DeriveInput, derive: &str) {
    let generics = &input.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        cx.error_spanned_by(
            generics,
            format!("`#[derive({derive})]` does not support generic types; `NAME` identifies one concrete type"),
        );
    }
}
