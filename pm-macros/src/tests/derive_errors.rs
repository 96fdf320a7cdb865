//! `#[derive(Event)]` and `#[derive(Command)]` report their mistakes.

use proc_macro2::TokenStream;
use quote::quote;

use super::compile_errors;

#[track_caller]
fn assert_one(errors: Vec<String>, expected: &str) {
    assert_eq!(errors, vec![expected.to_owned()]);
}

fn derive_errors(expand: fn(&syn::DeriveInput) -> TokenStream, input: TokenStream) -> Vec<String> {
    let input: syn::DeriveInput = syn::parse2(input).expect("derive input");
    compile_errors(&expand(&input))
}

#[test]
fn derive_event_errors() {
    let event = crate::derive_event::expand;
    assert_one(
        derive_errors(
            event,
            quote!(
                #[event(nme = "x")]
                struct E;
            ),
        ),
        "unknown `event` argument `nme`; expected one of `name`, `crate`",
    );
    assert_one(
        derive_errors(
            event,
            quote!(
                #[event(name = "a")]
                #[event(name = "b")]
                struct E;
            ),
        ),
        "duplicate `event` argument `name`",
    );
    assert_one(
        derive_errors(
            event,
            quote!(
                struct E<T>(T);
            ),
        ),
        "`#[derive(Event)]` does not support generic types; `NAME` identifies one concrete type",
    );
}

#[test]
fn derive_command_errors() {
    let command = crate::derive_command::expand;
    assert_one(
        derive_errors(
            command,
            quote!(
                struct C {
                    id: String,
                }
            ),
        ),
        "`#[derive(Command)]` needs `aggregate` and `id` in `#[command(...)]`, e.g. `#[command(aggregate = \"payment\", id = order_id)]`",
    );
    assert_one(
        derive_errors(
            command,
            quote!(
                #[command(id = id)]
                struct C {
                    id: String,
                }
            ),
        ),
        "`#[derive(Command)]` needs `aggregate` in `#[command(...)]`, e.g. `#[command(aggregate = \"payment\", id = order_id)]`",
    );
    assert_one(
        derive_errors(
            command,
            quote!(
                #[command(aggregate = "a", id = order)]
                struct C {
                    id: String,
                    n: u8,
                }
            ),
        ),
        "`C` has no field `order`; expected one of `id`, `n`",
    );
    assert_one(
        derive_errors(
            command,
            quote!(
                #[command(aggregate = "a", id = 1)]
                struct C(String);
            ),
        ),
        "`C` has no field `1`; expected one of `0`",
    );
    assert_one(
        derive_errors(
            command,
            quote!(
                #[command(aggregate = "a", id = x)]
                enum C {
                    X,
                }
            ),
        ),
        "`#[derive(Command)]` supports structs only; `id = field` names a field of the struct",
    );
    assert_eq!(
        derive_errors(
            command,
            quote!(
                #[command(aggregate = "", id = id, agg = "x")]
                struct C {
                    id: String,
                }
            )
        ),
        [
            "unknown `command` argument `agg`; expected one of `aggregate`, `id`, `name`, `crate`",
            "`aggregate` cannot be empty",
        ]
    );
}
