//! The Mermaid diagram each process manager carries as `<Type>::DIAGRAM`.

use proc_macro2::TokenStream;
use quote::quote;

use super::assert_text_snapshot;
use crate::attr;
use crate::ctxt::Ctxt;
use crate::expand::diagram::diagram;
use crate::model::Model;
use crate::validate;

/// The diagram of a valid `#[process_manager(args)] item`.
fn diagram_of(args: TokenStream, item: TokenStream) -> String {
    let item: syn::ItemImpl = syn::parse2(item).expect("impl block");
    let cx = Ctxt::new();
    let args = attr::pm_args(&cx, args);
    let text = Model::from_impl(&cx, &args, &item).map(|model| {
        validate::check(&cx, &model);
        diagram(&model)
    });
    if let Err(error) = cx.check() {
        panic!("unexpected error: {error}");
    }
    text.expect("a model")
}

#[test]
fn every_kind_of_node_and_edge() {
    let text = diagram_of(
        quote!(
            name = "order_fulfillment",
            correlate = order_id,
            commands(
                ChargePayment,
                RefundPayment,
                ReserveStock,
                events::ShipOrder
            )
        ),
        quote! {
            impl OrderFulfillment {
                #[start(new)]
                fn placed(&mut self, e: &OrderPlaced) -> ChargePayment { todo!() }
                #[handle]
                fn charged(&mut self, e: &PaymentCharged, ctx: &mut Context<Self>) -> Result<Option<ReserveStock>, Error> {
                    ctx.schedule(Duration::from_secs(60), ReservationDeadline { order_id: e.order_id.clone() });
                    ctx.schedule(Duration::from_secs(600), events::ShippingDeadline::new(&e.order_id));
                    todo!()
                }
                #[handle(correlate_with = Self::orders_of)]
                fn sku_withdrawn(&mut self, e: &SkuWithdrawn) -> Vec<OrderFulfillmentCommand> { todo!() }
                #[handle]
                fn reserved(&mut self, e: &StockReserved) -> Vec<events::ShipOrder> { todo!() }
                #[start]
                fn reservation_deadline(&mut self, e: &ReservationDeadline, ctx: &mut Context<Self>) {
                    ctx.stop();
                }
                #[stop]
                fn shipping_deadline(&mut self, e: &events::ShippingDeadline) {}
                #[stop]
                fn shipped(&mut self, e: &OrderShipped) {}
                #[compensate(ChargePayment)]
                fn refund(&mut self, cmd: &ChargePayment) -> RefundPayment { todo!() }
                #[compensate(ReserveStock)]
                fn release(&mut self, cmd: &ReserveStock) {}
                #[on_error]
                fn failed(&mut self, f: &CommandFailure) -> ErrorAction<OrderFulfillmentCommand> { todo!() }
                fn orders_of(e: &SkuWithdrawn, meta: &EventMeta<'_>) -> Vec<ProcessId> { todo!() }
            }
        },
    );
    assert_text_snapshot("diagram.mmd", &text);
}

#[test]
fn labels_are_escaped() {
    let text = diagram_of(
        quote!(correlate = id),
        quote! {
            impl Saga {
                #[start]
                fn seen(&mut self, e: &Wrapper<Seen>) {}
            }
        },
    );
    assert!(
        text.contains(r#"e0(["Wrapper#lt;Seen#gt; (start)"])"#),
        "{text}"
    );
}

#[test]
fn schedule_forms() {
    let text = diagram_of(
        quote!(correlate = id),
        quote! {
            impl Saga {
                #[start]
                fn a(&mut self, e: &A, ctx: &mut Context<Self>) {
                    ctx.schedule::<B>(d, b);
                    if x { ctx.schedule(d, C(1)) }
                    ctx.schedule(d, D);
                    ctx.schedule(d, A { id: 1 });
                    ctx.schedule(d, unknown_variable);
                    ctx.schedule(d, B::default());
                }
                #[handle] fn b(&mut self, e: &B) {}
                #[handle] fn c(&mut self, e: &C) {}
                #[handle] fn d(&mut self, e: &D) {}
            }
        },
    );
    let edges: Vec<&str> = text.lines().filter(|l| l.contains("schedules")).collect();
    assert_eq!(
        edges,
        [
            "    e0 -.->|schedules| e1",
            "    e0 -.->|schedules| e2",
            "    e0 -.->|schedules| e3",
            "    e0 -.->|schedules| e0",
        ]
    );
}
