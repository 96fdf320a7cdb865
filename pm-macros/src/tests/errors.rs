//! Every check fires, with its message, on the right input.

use proc_macro2::TokenStream;
use quote::quote;

use super::pm_errors;

/// A handler set that passes every check; tests replace one part of it.
fn valid_start() -> TokenStream {
    quote! {
        #[start]
        fn placed(&mut self, e: &Placed) -> Charge { todo!() }
    }
}

fn args() -> TokenStream {
    quote!(correlate = order_id, commands(Charge, Refund))
}

/// The errors of an impl of `Saga` with `valid_start()` and `methods`.
fn errors_with(methods: TokenStream) -> Vec<String> {
    let start = valid_start();
    pm_errors(args(), quote!(impl Saga { #start #methods }))
}

#[track_caller]
fn assert_one(errors: Vec<String>, expected: &str) {
    assert_eq!(errors, vec![expected.to_owned()]);
}

#[test]
fn valid_input_has_no_errors() {
    assert!(errors_with(quote!()).is_empty());
}

#[test]
fn unknown_process_manager_argument() {
    let errors = pm_errors(
        quote!(corelate = order_id, correlate = order_id),
        quote!(impl Saga { #[start] fn placed(&mut self, e: &Placed) {} }),
    );
    assert_one(
        errors,
        "unknown `process_manager` argument `corelate`; expected one of `name`, `correlate`, `commands`, `missing`, `version`, `crate`",
    );
}

#[test]
fn duplicate_process_manager_argument() {
    let errors = pm_errors(
        quote!(name = "a", correlate = id, name = "b"),
        quote!(impl Saga { #[start] fn placed(&mut self, e: &Placed) {} }),
    );
    assert_one(errors, "duplicate `process_manager` argument `name`");
}

#[test]
fn bad_argument_values() {
    let item = quote!(impl Saga { #[start] fn placed(&mut self, e: &Placed) {} });
    assert_one(
        pm_errors(quote!(correlate = id, missing = "create"), item.clone()),
        "unknown `missing` policy `create`; expected one of `ignore`, `start`, `error`",
    );
    assert_one(
        pm_errors(quote!(correlate = "order_id"), item.clone()),
        "`correlate` takes a field name, not a string: `correlate = order_id`",
    );
    assert_one(
        pm_errors(quote!(correlate = id, name = ""), item.clone()),
        "`name` cannot be empty",
    );
    assert_one(
        pm_errors(quote!(correlate = id, commands(A, m::A)), item),
        "`m::A` is already in `commands(...)`",
    );
}

#[test]
fn missing_start() {
    let errors = pm_errors(
        args(),
        quote!(impl Saga { #[handle] fn paid(&mut self, e: &Paid) {} }),
    );
    assert_one(
        errors,
        "process manager `Saga` has no `#[start]` handler; mark the handler of the event that begins the process with `#[start]` or `#[start(new)]`",
    );
}

#[test]
fn duplicate_event_handler() {
    let errors = errors_with(quote!(
        #[handle]
        fn again(&mut self, e: &Placed) {}
    ));
    assert_one(
        errors,
        "event type `Placed` is already handled by `placed`; an event type has one handler per process manager",
    );
}

#[test]
fn handler_without_correlation() {
    let errors = pm_errors(
        quote!(),
        quote!(impl Saga { #[start] fn placed(&mut self, e: &Placed) {} }),
    );
    assert_one(
        errors,
        "handler `placed` has no correlation; add `correlate = field` to `#[process_manager(...)]`, or `correlate = field` or `correlate_with = path` to this attribute",
    );
    let own = pm_errors(
        quote!(),
        quote!(impl Saga { #[start(correlate = id)] fn placed(&mut self, e: &Placed) {} }),
    );
    assert!(own.is_empty(), "{own:?}");
}

#[test]
fn handler_attribute_arguments() {
    assert_one(
        errors_with(quote!(
            #[stop(new)]
            fn paid(&mut self, e: &Paid) {}
        )),
        "unknown `stop` argument `new`; expected one of `correlate`, `correlate_with`",
    );
    assert_one(
        errors_with(quote!(
            #[handle(correlate = a, correlate_with = f)]
            fn paid(&mut self, e: &Paid) {}
        )),
        "`correlate` and `correlate_with` cannot both be given; keep one",
    );
    assert_one(
        errors_with(quote!(
            #[handle(correlate = a, correlate = b)]
            fn paid(&mut self, e: &Paid) {}
        )),
        "duplicate `handle` argument `correlate`",
    );
    assert_one(
        errors_with(quote!(
            #[handle = "x"]
            fn paid(&mut self, e: &Paid) {}
        )),
        "expected `#[handle]` or `#[handle(...)]`",
    );
    assert!(
        errors_with(quote!(
            #[start(new, correlate_with = Self::f)]
            fn paid(&mut self, e: &Paid) {}
        ))
        .is_empty()
    );
}

#[test]
fn one_lifecycle_attribute_per_method() {
    let errors = errors_with(quote!(
        #[handle]
        #[stop]
        fn paid(&mut self, e: &Paid) {}
    ));
    assert_one(
        errors,
        "`paid` already has a lifecycle attribute; a method takes only one of `start`, `handle`, `stop`, `compensate`, `init`, `on_error`, `upgrade`",
    );
}

#[test]
fn helper_on_a_non_method() {
    let errors = errors_with(quote!(
        #[handle]
        const X: u8 = 1;
    ));
    assert_one(errors, "`#[handle]` applies to methods only");
}

#[test]
fn receiver() {
    assert_one(
        errors_with(quote!(
            #[handle]
            fn paid(e: &Paid) {}
        )),
        "a `#[handle]` method takes `&mut self` as its first parameter",
    );
    assert_one(
        errors_with(quote!(
            #[handle]
            fn paid(&self, e: &Paid) {}
        )),
        "a `#[handle]` method takes `&mut self`; found `&self`",
    );
    assert_one(
        errors_with(quote!(
            #[compensate(Charge)]
            fn undo(self, c: &Charge) {}
        )),
        "a `#[compensate]` method takes `&mut self`; found `self`",
    );
}

#[test]
fn qualifiers() {
    assert_one(
        errors_with(quote!(
            #[handle]
            async fn paid(&mut self, e: &Paid) {}
        )),
        "a `#[handle]` method cannot be `async`; remove `async` and return commands for the effects",
    );
    assert_one(
        errors_with(quote!(
            #[handle]
            const fn paid(&mut self, e: &Paid) {}
        )),
        "a `#[handle]` method cannot be `const`; remove `const`",
    );
    assert_one(
        errors_with(quote!(
            #[handle]
            unsafe fn paid(&mut self, e: &Paid) {}
        )),
        "a `#[handle]` method cannot be `unsafe`; remove `unsafe`",
    );
    assert_one(
        errors_with(quote!(
            #[handle]
            extern "C" fn paid(&mut self, e: &Paid) {}
        )),
        "a `#[handle]` method cannot be `extern`; remove the ABI",
    );
    assert_one(
        errors_with(quote!(
            #[handle]
            fn paid<T>(&mut self, e: &Paid) {}
        )),
        "a `#[handle]` method cannot be generic; name the concrete type it takes",
    );
}

#[test]
fn arity_and_parameters() {
    assert_one(
        errors_with(quote!(
            #[handle]
            fn paid(&mut self) {}
        )),
        "a `#[handle]` method takes `&mut self`, the event and optionally the context; expected `fn paid(&mut self, event: &T)` or `fn paid(&mut self, event: &T, ctx: &mut Context<Self>)`",
    );
    assert_eq!(
        errors_with(quote!(
            #[handle]
            fn paid(&mut self, e: &Paid, c: &mut Ctx, x: u8) {}
        ))
        .len(),
        1
    );
    assert_one(
        errors_with(quote!(
            #[handle]
            fn paid(&mut self, e: Paid) {}
        )),
        "the event parameter must be a shared reference, e.g. `event: &Paid`",
    );
    assert_one(
        errors_with(quote!(
            #[handle]
            fn paid(&mut self, e: &Paid, ctx: &Context<Self>) {}
        )),
        "the context parameter must be `&mut Context<Self>`",
    );
}

#[test]
fn return_types() {
    let unsupported = "unsupported return type; expected nothing, a command, `Option<C>`, `Vec<C>`, or a `Result` of one of these, where `C` is a type in `commands(...)` or the generated command enum";
    for ty in [
        quote!(&Charge),
        quote!(Option<Vec<Charge>>),
        quote!(Result<Result<Charge, E>, E>),
        quote!((Charge, Refund)),
        quote!(Box<Charge>),
    ] {
        assert_one(
            errors_with(quote!(#[handle] fn paid(&mut self, e: &Paid) -> #ty { todo!() })),
            unsupported,
        );
    }
    for ty in [
        quote!(()),
        quote!(Refund),
        quote!(m::Refund),
        quote!(Option<SagaCommand>),
        quote!(Vec<Refund>),
        quote!(Result<(), E>),
        quote!(io::Result<Vec<Charge>>),
    ] {
        let errors = errors_with(quote!(#[handle] fn paid(&mut self, e: &Paid) -> #ty { todo!() }));
        assert!(errors.is_empty(), "{ty}: {errors:?}");
    }
}

#[test]
fn returned_command_not_declared() {
    assert_one(
        errors_with(quote!(
            #[handle]
            fn paid(&mut self, e: &Paid) -> Option<Ship> {
                todo!()
            }
        )),
        "`Ship` is not in `commands(...)` of `Saga`; add it there, or return `SagaCommand`",
    );
    let errors = pm_errors(
        quote!(correlate = id),
        quote!(impl Saga { #[start] fn placed(&mut self, e: &Placed) -> Vec<Charge> { todo!() } }),
    );
    assert_one(
        errors,
        "`placed` returns commands but `#[process_manager]` declares none; list them in `commands(...)`",
    );
}

#[test]
fn compensations() {
    assert_one(
        errors_with(quote!(
            #[compensate(Ship)]
            fn undo(&mut self, c: &Ship) {}
        )),
        "`Ship` is not in `commands(...)` of `Saga`; only commands this process manager sends can be compensated",
    );
    assert_one(
        errors_with(quote! {
            #[compensate(Charge)] fn undo(&mut self, c: &Charge) -> Refund { todo!() }
            #[compensate(Charge)] fn undo_again(&mut self, c: &Charge) {}
        }),
        "`Charge` is already compensated by `undo`; a command has one compensation",
    );
    assert_one(
        errors_with(quote!(
            #[compensate]
            fn undo(&mut self, c: &Charge) {}
        )),
        "`compensate` needs the command it undoes, e.g. `#[compensate(ChargePayment)]`",
    );
    assert_one(
        errors_with(quote!(
            #[compensate(Charge)]
            fn undo(&mut self) {}
        )),
        "a `#[compensate]` method takes `&mut self`, the command and optionally the context; expected `fn undo(&mut self, command: &T)` or `fn undo(&mut self, command: &T, ctx: &mut Context<Self>)`",
    );
}

#[test]
fn init_shape() {
    const SHAPE: &str = "expected `fn(id: &ProcessId) -> Self`";
    assert!(
        errors_with(quote!(
            #[init]
            fn new(id: &ProcessId) -> Saga {
                todo!()
            }
        ))
        .is_empty()
    );
    assert_one(
        errors_with(quote!(
            #[init]
            fn new(&self, id: &ProcessId) -> Self {
                todo!()
            }
        )),
        &format!("`#[init]` builds the state and takes no `self`; {SHAPE}"),
    );
    assert_one(
        errors_with(quote!(
            #[init]
            fn new(id: ProcessId) -> Self {
                todo!()
            }
        )),
        &format!("`#[init]` takes the process id by reference; {SHAPE}"),
    );
    assert_one(
        errors_with(quote!(
            #[init]
            fn new() -> Self {
                todo!()
            }
        )),
        &format!("`#[init]` takes the process id; {SHAPE}"),
    );
    assert_one(
        errors_with(quote!(
            #[init]
            fn new(id: &ProcessId) {}
        )),
        &format!("`#[init]` returns the initial state; {SHAPE}"),
    );
    assert_one(
        errors_with(quote!(
            #[init(x)]
            fn new(id: &ProcessId) -> Self {
                todo!()
            }
        )),
        "`init` takes no arguments; write `#[init]`",
    );
    assert_one(
        errors_with(quote! {
            #[init] fn new(id: &ProcessId) -> Self { todo!() }
            #[init] fn other(id: &ProcessId) -> Self { todo!() }
        }),
        "`#[init]` is already on `new`; a process manager has one `#[init]`",
    );
}

#[test]
fn impl_block_shape() {
    let start = valid_start();
    assert_one(
        pm_errors(args(), quote!(impl Trait for Saga { #start })),
        "`#[process_manager]` goes on an inherent impl block, e.g. `impl OrderFulfillment { ... }`, not on a trait impl",
    );
    assert_one(
        pm_errors(args(), quote!(impl<T> Saga<T> { #start })),
        "`#[process_manager]` needs a state type named by a plain path, e.g. `impl OrderFulfillment`",
    );
    assert_one(
        pm_errors(args(), quote!(impl Saga where u8: Copy { #start })),
        "`#[process_manager]` does not support generic impl blocks; implement it for one concrete state type",
    );
    assert_one(
        pm_errors(args(), quote!(unsafe impl Saga { #start })),
        "`#[process_manager]` impl blocks cannot be `unsafe`; remove `unsafe`",
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let errors = pm_errors(
        quote!(corelate = order_id, correlate = order_id, commands(Charge)),
        quote! {
            impl Saga {
                #[handle] async fn placed(self, e: &Placed) -> Strange { todo!() }
                #[handle(correlate = a, correlate = b)] fn paid(&mut self, e: &Paid) {}
                #[compensate(Refund)] fn undo(&mut self, c: &Refund) {}
            }
        },
    );
    assert_eq!(errors.len(), 7, "{errors:#?}");
}

#[test]
fn recovery_keeps_the_impl_without_helper_attributes() {
    let item: syn::ItemImpl = syn::parse2(quote! {
        impl Saga {
            #[handle] fn paid(&mut self, e: &Paid) {}
        }
    })
    .expect("impl block");
    let Err(tokens) = crate::pipeline::expand_item(quote!(correlate = id), &item) else {
        panic!("expected an error");
    };
    let text = tokens.to_string();
    assert!(text.contains("fn paid"), "{text}");
    assert!(!text.contains("# [handle]"), "{text}");
    assert!(text.contains("NoCommands"), "{text}");
}

#[test]
fn on_error_shape() {
    assert!(
        errors_with(quote!(
            #[on_error]
            fn failed(
                &mut self,
                f: &CommandFailure,
                ctx: &mut Context<Self>,
            ) -> ErrorAction<SagaCommand> {
                todo!()
            }
        ))
        .is_empty()
    );
    assert_one(
        errors_with(quote!(
            #[on_error]
            fn failed(&mut self, f: &CommandFailure) {}
        )),
        "`#[on_error]` returns what to do about the failure; expected `fn failed(&mut self, failure: &CommandFailure) -> ErrorAction<SagaCommand>`",
    );
    assert_one(
        errors_with(quote!(
            #[on_error(x)]
            fn failed(&mut self, f: &CommandFailure) -> ErrorAction<SagaCommand> {
                todo!()
            }
        )),
        "`on_error` takes no arguments; write `#[on_error]`",
    );
    assert_one(
        errors_with(quote! {
            #[on_error] fn failed(&mut self, f: &CommandFailure) -> ErrorAction<SagaCommand> { todo!() }
            #[on_error] fn again(&mut self, f: &CommandFailure) -> ErrorAction<SagaCommand> { todo!() }
        }),
        "`#[on_error]` is already on `failed`; a process manager has one `#[on_error]`",
    );
    assert_one(
        errors_with(quote!(
            #[on_error]
            fn failed(&self, f: &CommandFailure) -> ErrorAction<SagaCommand> {
                todo!()
            }
        )),
        "a `#[on_error]` method takes `&mut self`; found `&self`",
    );
}

#[test]
fn a_broken_start_handler_still_counts_as_a_start() {
    let errors = pm_errors(
        args(),
        quote!(impl Saga { #[start] fn placed(&mut self, e: &Placed) -> Option<Vec<Charge>> { todo!() } }),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("unsupported return type"),
        "{errors:?}"
    );
}

#[test]
fn context_of_another_type() {
    assert_one(
        errors_with(quote!(
            #[handle]
            fn paid(&mut self, e: &Paid, ctx: &mut Context<Other>) {}
        )),
        "the context of a `Saga` handler is `Context<Self>`, not `Context<Other>`",
    );
    for ctx in [
        quote!(Context<Self>),
        quote!(Context<Saga>),
        quote!(pm_runtime::Context<Self>),
        quote!(Ctx),
    ] {
        let errors = errors_with(quote!(#[handle] fn paid(&mut self, e: &Paid, ctx: &mut #ctx) {}));
        assert!(errors.is_empty(), "{ctx}: {errors:?}");
    }
}

#[test]
fn version_argument() {
    let item = quote!(impl Saga { #[start] fn placed(&mut self, e: &Placed) {} });
    assert!(pm_errors(quote!(correlate = id, version = 2), item.clone()).is_empty());
    assert_one(
        pm_errors(quote!(correlate = id, version = 0), item.clone()),
        "`version` is a `u32` starting at 1, e.g. `version = 2`",
    );
    assert_one(
        pm_errors(quote!(correlate = id, version = "2"), item),
        "`version` takes an integer, e.g. `version = 2`",
    );
}

#[test]
fn upgrade_shape() {
    const SHAPE: &str =
        "expected `fn(from_version: u32, state: serde_json::Value) -> Result<Self, E>`";
    assert!(
        errors_with(quote!(
            #[upgrade]
            fn upgrade(v: u32, state: serde_json::Value) -> Result<Saga, String> {
                todo!()
            }
        ))
        .is_empty()
    );
    assert_one(
        errors_with(quote!(
            #[upgrade]
            fn upgrade(&mut self, v: u32, state: Value) -> Result<Self, String> {
                todo!()
            }
        )),
        &format!("`#[upgrade]` builds the state and takes no `self`; {SHAPE}"),
    );
    assert_one(
        errors_with(quote!(
            #[upgrade]
            fn upgrade(state: Value) -> Result<Self, String> {
                todo!()
            }
        )),
        &format!("`#[upgrade]` takes the stored version and the stored state; {SHAPE}"),
    );
    assert_one(
        errors_with(quote!(
            #[upgrade]
            fn upgrade(v: u32, state: Value) -> Self {
                todo!()
            }
        )),
        &format!("`#[upgrade]` returns the upgraded state or why it cannot be read; {SHAPE}"),
    );
    assert_one(
        errors_with(quote!(
            #[upgrade]
            async fn upgrade(v: u32, state: Value) -> Result<Self, String> {
                todo!()
            }
        )),
        "a `#[upgrade]` method cannot be `async`; remove `async`",
    );
    assert_one(
        errors_with(quote! {
            #[upgrade] fn a(v: u32, s: Value) -> Result<Self, E> { todo!() }
            #[upgrade] fn b(v: u32, s: Value) -> Result<Self, E> { todo!() }
        }),
        "`#[upgrade]` is already on `a`; a process manager has one `#[upgrade]`",
    );
    assert_one(
        errors_with(quote!(
            #[upgrade(x)]
            fn upgrade(v: u32, s: Value) -> Result<Self, E> {
                todo!()
            }
        )),
        "`upgrade` takes no arguments; write `#[upgrade]`",
    );
}
