//! Expansion snapshots under `tests/snapshots/`.

use quote::quote;

use super::{assert_snapshot, compile_errors};
use crate::pipeline::expand_item;

fn expand(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let item: syn::ItemImpl = syn::parse2(item).expect("impl block");
    match expand_item(args, &item) {
        Ok(tokens) => tokens,
        Err(tokens) => panic!("unexpected errors: {:?}", compile_errors(&tokens)),
    }
}

#[test]
fn order_fulfillment() {
    let tokens = expand(
        quote!(
            name = "order_fulfillment",
            correlate = order_id,
            commands(ChargePayment, RefundPayment, ReserveStock)
        ),
        quote! {
            impl OrderFulfillment {
                #[start]
                fn placed(&mut self, e: &OrderPlaced) -> ChargePayment { todo!() }
                #[handle]
                fn charged(&mut self, e: &PaymentCharged, ctx: &mut Context<Self>) -> ReserveStock { todo!() }
                #[handle(correlate_with = Self::orders_of)]
                fn sku_withdrawn(&mut self, e: &SkuWithdrawn) -> Vec<OrderFulfillmentCommand> { todo!() }
                #[handle]
                fn reserved(&mut self, e: &StockReserved) -> Option<ReserveStock> { None }
                #[handle]
                fn cheque(&mut self, e: &ChequeArrived) -> Result<Vec<ChargePayment>, String> { Ok(vec![]) }
                #[stop]
                fn shipped(&mut self, e: &OrderShipped) {}
                #[compensate(ChargePayment)]
                fn refund(&mut self, cmd: &ChargePayment) -> RefundPayment { todo!() }
                fn orders_of(e: &SkuWithdrawn, meta: &EventMeta<'_>) -> Vec<ProcessId> { todo!() }
            }
        },
    );
    assert_snapshot("order_fulfillment", &tokens);
}

#[test]
fn init_start_new_missing_and_crate_path() {
    let tokens = expand(
        quote!(
            crate = "crate::rt",
            commands(Lock),
            missing = "start",
            version = 3u8
        ),
        quote! {
            impl Door {
                #[init]
                fn new(id: &ProcessId) -> Self { todo!() }
                #[start(new, correlate = id)]
                fn opened(&mut self, e: &Opened) -> Result<Option<Lock>, Error> { todo!() }
                #[stop(correlate = 0)]
                fn closed(&mut self, e: &Closed, ctx: &mut Context<Self>) -> () {}
                #[compensate(Lock)]
                fn unlock(&mut self, c: &Lock, ctx: &mut Context<Self>) -> Result<(), Error> { Ok(()) }
                #[on_error]
                fn failed(&mut self, f: &CommandFailure) -> ErrorAction<DoorCommand> { todo!() }
                #[upgrade]
                fn from_older(from: u32, state: serde_json::Value) -> Result<Self, Error> { todo!() }
            }
        },
    );
    assert_snapshot("door", &tokens);
}

#[test]
fn no_commands() {
    let tokens = expand(
        quote!(correlate = id),
        quote! {
            impl Watcher {
                #[start]
                fn seen(&mut self, e: &Seen) {}
            }
        },
    );
    assert_snapshot("watcher", &tokens);
}

#[test]
fn recovery_after_an_error() {
    let item: syn::ItemImpl = syn::parse2(quote! {
        impl Saga {
            #[handle]
            fn paid(&mut self, e: &Paid) -> Charge { todo!() }
            fn helper(&self) {}
        }
    })
    .expect("impl block");
    let Err(tokens) = expand_item(quote!(correlate = order_id, commands(Charge)), &item) else {
        panic!("expected an error");
    };
    assert_snapshot("recovery", &tokens);
}

#[test]
fn derive_event() {
    let plain: syn::DeriveInput = syn::parse_quote!(
        pub struct OrderPlaced {
            pub order_id: String,
        }
    );
    let named: syn::DeriveInput = syn::parse_quote!(
        #[event(name = "order.shipped", crate = "rt")]
        pub enum Shipped {
            A,
            B,
        }
    );
    let mut out = crate::derive_event::expand(&plain);
    out.extend(crate::derive_event::expand(&named));
    assert_snapshot("derive_event", &out);
}

#[test]
fn derive_command() {
    let named: syn::DeriveInput = syn::parse_quote! {
        #[command(aggregate = "payment", id = order_id)]
        pub struct ChargePayment { pub order_id: String, pub amount: u64 }
    };
    let tuple: syn::DeriveInput = syn::parse_quote! {
        #[command(aggregate = "stock", id = 0, name = "stock.reserve")]
        pub struct ReserveStock(pub u64);
    };
    let mut out = crate::derive_command::expand(&named);
    out.extend(crate::derive_command::expand(&tuple));
    assert_snapshot("derive_command", &out);
}

#[test]
fn names_default_to_snake_case() {
    use crate::model::snake_case;
    assert_eq!(snake_case("OrderFulfillment"), "order_fulfillment");
    assert_eq!(snake_case("HTTPSaga"), "http_saga");
    assert_eq!(snake_case("Saga2Step"), "saga2_step");
    assert_eq!(snake_case("saga"), "saga");
}
