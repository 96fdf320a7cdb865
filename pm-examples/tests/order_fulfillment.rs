//! The order saga under the fixture: no runtime, no command side.
#![allow(clippy::unwrap_used)]

use pm_examples::sagas::order_fulfillment::*;
use pm_runtime::prelude::*;
use pm_runtime::testing::Fixture;

fn placed() -> OrderPlaced {
    OrderPlaced {
        order_id: "o-1".into(),
        amount: 40,
    }
}
fn charged() -> PaymentCharged {
    PaymentCharged {
        order_id: "o-1".into(),
    }
}
fn o1() -> String {
    "o-1".into()
}

#[test]
fn an_order_is_charged_reserved_shipped_and_completed() {
    Fixture::<OrderFulfillment>::new("o-1")
        .when(placed())
        .expect_commands([ChargePayment {
            order_id: o1(),
            amount: 40,
        }
        .into()])
        .when(charged())
        .expect_commands([ReserveStock { order_id: o1() }.into()])
        .expect_state(|s| assert!(s.charged && !s.reserved))
        .when(StockReserved { order_id: o1() })
        .expect_commands([ShipOrder { order_id: o1() }.into()])
        .when(OrderShipped { order_id: o1() })
        .expect_no_commands()
        .expect_completed()
        .expect_state(|s| assert!(s.charged && s.reserved && s.shipped));
}

#[test]
fn refused_stock_refunds_the_charge() {
    Fixture::<OrderFulfillment>::new("o-1")
        .given((placed(), charged()))
        .when_command_fails(
            ReserveStock::NAME,
            DispatchError::Rejected("out of stock".into()),
        )
        .expect_compensation([RefundPayment {
            order_id: o1(),
            amount: 40,
        }
        .into()])
        .expect_compensated()
        .expect_state(|s| assert!(!s.charged));
}

#[test]
fn a_refused_charge_has_nothing_to_undo() {
    Fixture::<OrderFulfillment>::new("o-1")
        .given([placed()])
        .when_command_fails(
            ChargePayment::NAME,
            DispatchError::Rejected("card declined".into()),
        )
        .expect_compensation([])
        .expect_status(InstanceStatus::Compensated);
}

#[test]
fn events_after_shipping_are_ignored() {
    Fixture::<OrderFulfillment>::new("o-1")
        .given((placed(), charged(), OrderShipped { order_id: o1() }))
        .when(StockReserved { order_id: o1() })
        .expect_ignored()
        .expect_no_commands();
}
