//! `#[process_manager]` end to end: `attr` → `model` → `validate` → `expand`, and the
//! recovery output when a layer reported errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemImpl;

use crate::attr;
use crate::ctxt::Ctxt;
use crate::expand;
use crate::model::Model;
use crate::validate;

/// The expansion of `#[process_manager(args)] item`.
pub(crate) fn process_manager(args: TokenStream, input: TokenStream) -> TokenStream {
    let output = match syn::parse2::<ItemImpl>(input.clone()) {
        Ok(item) => match expand_item(args, &item) {
            Ok(tokens) => tokens,
            Err(tokens) => tokens,
        },
        Err(error) => {
            let message = format!(
                "{error}; `#[process_manager]` goes on an impl block, e.g. `impl OrderFulfillment {{ ... }}`"
            );
            let error = syn::Error::new(error.span(), message).to_compile_error();
            quote!(#error #input)
        }
    };
    debug_print(attr::PROCESS_MANAGER, &output);
    output
}

/// `Ok` with the full expansion, or `Err` with the recovery output.
pub(crate) fn expand_item(args: TokenStream, item: &ItemImpl) -> Result<TokenStream, TokenStream> {
    // The user's impl always comes back, so one mistake does not also hide every method.
    let stripped = attr::strip_helpers(item);
    let cx = Ctxt::new();
    let args = attr::pm_args(&cx, args);
    let model = Model::from_impl(&cx, &args, item);
    if let Some(model) = &model {
        validate::check(&cx, model);
    }
    match (cx.check(), model) {
        (Ok(()), Some(model)) => {
            let generated = expand::process_manager(&model);
            Ok(quote!(#stripped #generated))
        }
        (result, model) => {
            let errors = result.err().map(|e| e.to_compile_error());
            let stub = model.as_ref().map(stub);
            Err(quote!(#stripped #errors #stub))
        }
    }
}

/// What the rest of the crate needs to keep compiling after an error: the command enum and a
/// `ProcessManager` impl that depends on nothing the user may have got wrong.
fn stub(model: &Model<'_>) -> TokenStream {
    let krate = &model.args.krate;
    let (self_ty, name) = (model.self_ty, &model.name);
    let command_enum = expand::command_enum(model);
    let command_impls = expand::command_impls(model);
    // What user code may name besides the trait: the diagram, and the `Handles` impls that
    // `ctx.schedule` in the (still emitted) handlers needs.
    let diagram = expand::diagram_impl(model);
    let handles = expand::handles_impls(model);
    let private = quote!(#krate::__private);
    let generic = !model.item.generics.params.is_empty();
    let impl_block = if !generic {
        quote! {
            #[automatically_derived]
            impl #private::ProcessManager for #self_ty {
                const NAME: &'static str = #name;
                const EVENTS: &'static [#private::EventRoute] = &[];
                type Command = #private::NoCommands;
                fn init(_: &#private::ProcessId) -> Self {
                    ::core::unreachable!()
                }
                fn correlate(
                    _: &#private::EventEnvelope,
                ) -> ::core::result::Result<#private::Correlation, #private::EventError> {
                    ::core::unreachable!()
                }
                fn handle(
                    &mut self,
                    _: &#private::EventEnvelope,
                    _: &mut #private::Context<Self>,
                ) -> ::core::result::Result<::std::vec::Vec<#private::NoCommands>, #private::HandlerError> {
                    ::core::unreachable!()
                }
                fn compensate(
                    &mut self,
                    _: &#private::CommandEnvelope,
                    _: &mut #private::Context<Self>,
                ) -> ::core::result::Result<#private::Compensation<#private::NoCommands>, #private::HandlerError> {
                    ::core::unreachable!()
                }
            }
        }
    } else {
        TokenStream::new()
    };
    let (diagram, handles) = if generic {
        (TokenStream::new(), TokenStream::new())
    } else {
        (diagram, handles)
    };
    quote! {
        #command_enum
        #diagram
        const _: () = {
            #command_impls
            #impl_block
            #handles
        };
    }
}

/// A helper attribute (`#[start]` ...) that rustc expanded on its own: it is not inside a
/// `#[process_manager]` impl block, which would have consumed it. The item comes back as it
/// was, so the error is the only one.
pub(crate) fn misplaced_helper(name: &str, item: TokenStream) -> TokenStream {
    let message = format!(
        "`#[{name}]` is only valid on a method of a `#[process_manager]` impl block; add `#[process_manager(...)]` to the impl block, or remove `#[{name}]`"
    );
    let error = syn::Error::new(proc_macro2::Span::call_site(), message).to_compile_error();
    quote!(#error #item)
}

/// `PM_MACROS_DEBUG=1` prints every expansion, pretty, to stderr at build time.
pub(crate) fn debug_print(macro_name: &str, output: &TokenStream) {
    if std::env::var_os("PM_MACROS_DEBUG").is_none_or(|v| v != "1") {
        return;
    }
    let text = match syn::parse2::<syn::File>(output.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => output.to_string(),
    };
    eprintln!("// ---- pm-macros: expansion of `{macro_name}` ----\n{text}");
}
