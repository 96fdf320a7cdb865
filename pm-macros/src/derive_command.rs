//! `#[derive(Command)]`: implements `Command` with its `NAME`, `AGGREGATE` and the field that
//! holds the aggregate id.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Member};

use crate::attr::{self, AGGREGATE, COMMAND, CommandArgs, ID};
use crate::ctxt::Ctxt;
use crate::derive_event::check_not_generic;
use crate::pipeline::debug_print;

/// The expansion of `#[derive(Command)]`.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let output = match syn::parse2::<DeriveInput>(input) {
        Ok(input) => expand(&input),
        Err(error) => error.to_compile_error(),
    };
    debug_print("derive(Command)", &output);
    output
}

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let args = attr::command_args(&cx, &input.attrs);
    check_not_generic(&cx, input, "Command");
    check_required(&cx, input, &args);
    if let Some(id) = &args.id {
        check_id_field(&cx, input, id);
    }
    let result = cx.check();
    if !input.generics.params.is_empty() {
        return result
            .err()
            .map(|e| e.to_compile_error())
            .unwrap_or_default();
    }
    let (ident, krate) = (&input.ident, &args.krate);
    let name = args
        .name
        .as_ref()
        .map_or_else(|| ident.to_string(), |n| n.value());
    let (aggregate, aggregate_id, errors) = match (result, &args.aggregate, &args.id) {
        (Ok(()), Some(aggregate), Some(id)) => {
            let id = quote_spanned!(id.span()=> ::std::string::ToString::to_string(&self.#id));
            (aggregate.value(), id, None)
        }
        // Keep `ident: Command` true so uses of the type do not cascade into more errors.
        (result, _, _) => (
            String::new(),
            quote!(::core::unreachable!()),
            result.err().map(|e| e.to_compile_error()),
        ),
    };
    quote! {
        #errors
        #[automatically_derived]
        impl #krate::__private::Command for #ident {
            const NAME: &'static str = #name;
            const AGGREGATE: &'static str = #aggregate;
            fn aggregate_id(&self) -> ::std::string::String {
                #aggregate_id
            }
        }
    }
}

/// A command without an aggregate type and id has nowhere to go.
fn check_required(cx: &Ctxt, input: &DeriveInput, args: &CommandArgs) {
    let missing: Vec<&str> = [
        (AGGREGATE, args.aggregate.is_none()),
        (ID, args.id.is_none()),
    ]
    .into_iter()
    .filter_map(|(arg, absent)| absent.then_some(arg))
    .collect();
    if !missing.is_empty() {
        cx.error_spanned_by(
            &input.ident,
            format!(
                "`#[derive(Command)]` needs {} in `#[{COMMAND}(...)]`, e.g. `#[command(aggregate = \"payment\", id = order_id)]`",
                attr::one_of(&missing).replace(", ", " and ")
            ),
        );
    }
    if let Some(aggregate) = &args.aggregate
        && aggregate.value().is_empty()
    {
        cx.error_spanned_by(aggregate, "`aggregate` cannot be empty");
    }
}

/// `id = field` must name a field of the struct.
fn check_id_field(cx: &Ctxt, input: &DeriveInput, id: &Member) {
    let Data::Struct(data) = &input.data else {
        cx.error_spanned_by(
            &input.ident,
            "`#[derive(Command)]` supports structs only; `id = field` names a field of the struct",
        );
        return;
    };
    let members: Vec<Member> = match &data.fields {
        Fields::Named(named) => named
            .named
            .iter()
            .filter_map(|f| f.ident.clone().map(Member::Named))
            .collect(),
        Fields::Unnamed(unnamed) => (0..unnamed.unnamed.len())
            .map(|i| Member::Unnamed(syn::Index::from(i)))
            .collect(),
        Fields::Unit => Vec::new(),
    };
    if !members.contains(id) {
        let names: Vec<String> = members.iter().map(|m| quote!(#m).to_string()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let expected = if names.is_empty() {
            "it has no fields".to_owned()
        } else {
            format!("expected one of {}", attr::one_of(&names))
        };
        cx.error_spanned_by(
            id,
            format!(
                "`{}` has no field `{}`; {expected}",
                input.ident,
                quote!(#id)
            ),
        );
    }
}
