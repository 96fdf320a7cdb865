//! The test fixture itself: lifecycle, compensation, error decisions, virtual time, messages.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use pm_runtime::prelude::*;
use pm_runtime::testing::Fixture;
use pm_runtime::{ErrorAction, HandlerError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct OrderPlaced {
    order_id: String,
    amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct PaymentCharged {
    order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct StockReserved {
    order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct OrderShipped {
    order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct ShippingDeadline {
    order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Broken {
    order_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
struct ChargePayment {
    order_id: String,
    amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
struct RefundPayment {
    order_id: String,
    amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "stock", id = order_id)]
struct ReserveStock {
    order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "stock", id = order_id)]
struct ReleaseStock {
    order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "shipping", id = order_id)]
struct ShipOrder {
    order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "shipping", id = order_id)]
struct CancelOrder {
    order_id: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Order {
    amount: u64,
    charged: bool,
    reserved: bool,
    shipped: bool,
    late: bool,
    #[serde(skip)]
    scratch: u32,
}

#[process_manager(
    name = "order",
    correlate = order_id,
    commands(ChargePayment, RefundPayment, ReserveStock, ReleaseStock, ShipOrder, CancelOrder)
)]
impl Order {
    #[start]
    fn placed(&mut self, e: &OrderPlaced) -> ChargePayment {
        self.amount = e.amount;
        self.scratch = 7;
        ChargePayment {
            order_id: e.order_id.clone(),
            amount: e.amount,
        }
    }

    #[handle]
    fn charged(&mut self, e: &PaymentCharged, ctx: &mut Context<Self>) -> ReserveStock {
        self.charged = true;
        ctx.schedule(
            Duration::from_secs(3600),
            ShippingDeadline {
                order_id: e.order_id.clone(),
            },
        );
        ReserveStock {
            order_id: e.order_id.clone(),
        }
    }

    #[handle]
    fn reserved(&mut self, e: &StockReserved, ctx: &mut Context<Self>) -> ShipOrder {
        self.reserved = true;
        ctx.cancel::<ShippingDeadline>();
        ShipOrder {
            order_id: e.order_id.clone(),
        }
    }

    #[handle]
    fn deadline(&mut self, e: &ShippingDeadline, ctx: &mut Context<Self>) -> CancelOrder {
        self.late = true;
        ctx.stop();
        CancelOrder {
            order_id: e.order_id.clone(),
        }
    }

    #[handle]
    fn broken(&mut self, _e: &Broken) -> Result<(), std::io::Error> {
        self.amount = 0;
        Err(std::io::Error::other("the ledger is closed"))
    }

    #[stop]
    fn shipped(&mut self, _e: &OrderShipped) {
        self.shipped = true;
    }

    #[compensate(ChargePayment)]
    fn refund(&mut self, c: &ChargePayment) -> RefundPayment {
        self.charged = false;
        RefundPayment {
            order_id: c.order_id.clone(),
            amount: c.amount,
        }
    }

    #[compensate(ReserveStock)]
    fn release(&mut self, c: &ReserveStock) -> ReleaseStock {
        ReleaseStock {
            order_id: c.order_id.clone(),
        }
    }
}

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
fn reserved() -> StockReserved {
    StockReserved {
        order_id: "o-1".into(),
    }
}
fn o1() -> String {
    "o-1".into()
}

#[test]
fn the_happy_path_sends_each_command_and_completes() {
    Fixture::<Order>::new("o-1")
        .when(placed())
        .expect_commands([ChargePayment {
            order_id: o1(),
            amount: 40,
        }
        .into()])
        .expect_running()
        .when(charged())
        .expect_commands([ReserveStock { order_id: o1() }.into()])
        .expect_state(|s| assert!(s.charged && !s.reserved))
        .when(reserved())
        .expect_commands([ShipOrder { order_id: o1() }.into()])
        .when(OrderShipped { order_id: o1() })
        .expect_no_commands()
        .expect_completed()
        .expect_status(InstanceStatus::Completed)
        .expect_state(|s| assert!(s.shipped));
}

#[test]
fn given_takes_mixed_event_types_and_state_round_trips_through_json() {
    let fixture = Fixture::<Order>::new("o-1")
        .given((placed(), charged()))
        .expect_state(|s| assert_eq!(s.scratch, 0, "a `serde(skip)` field does not survive"));
    assert_eq!(fixture.completed().len(), 1, "the charge was accepted");
    assert_eq!(fixture.commands().len(), 1, "the reservation is waiting");
}

#[test]
fn a_rejected_command_compensates_completed_commands_newest_first() {
    Fixture::<Order>::new("o-1")
        .given((placed(), charged(), reserved()))
        .when_command_fails(ShipOrder::NAME, DispatchError::Rejected("no truck".into()))
        .expect_compensation([
            ReleaseStock { order_id: o1() }.into(),
            RefundPayment {
                order_id: o1(),
                amount: 40,
            }
            .into(),
        ])
        .expect_status(InstanceStatus::Compensating)
        .expect_state(|s| assert!(!s.charged, "the compensation handler ran"))
        .advance_time(Duration::from_secs(1))
        .expect_status(InstanceStatus::Compensated);
}

#[test]
fn commands_ahead_of_the_failed_one_count_as_accepted() {
    Fixture::<Order>::new("o-1")
        .given([placed()])
        .when_command_fails(ChargePayment::NAME, DispatchError::Rejected("card".into()))
        .expect_compensation([])
        .expect_status(InstanceStatus::Compensated);
}

#[test]
fn a_transient_failure_is_retried_then_compensated_when_it_keeps_failing() {
    let down = || DispatchError::Unavailable("stock service down".into());
    Fixture::<Order>::new("o-1")
        .given((placed(), charged()))
        .when_command_fails(ReserveStock::NAME, down())
        .expect_retry()
        .expect_running()
        .when_command_keeps_failing(ReserveStock::NAME, down())
        .expect_compensation([RefundPayment {
            order_id: o1(),
            amount: 40,
        }
        .into()]);
}

#[test]
fn timeouts_fire_on_the_virtual_clock_and_cancelled_ones_do_not() {
    Fixture::<Order>::new("o-1")
        .given((placed(), charged()))
        .expect_scheduled::<ShippingDeadline>()
        .advance_time(Duration::from_secs(3599))
        .expect_no_commands()
        .advance_time(Duration::from_secs(1))
        .expect_commands([CancelOrder { order_id: o1() }.into()])
        .expect_state(|s| assert!(s.late))
        .expect_completed()
        .expect_not_scheduled::<ShippingDeadline>();

    let fixture = Fixture::<Order>::new("o-1")
        .given((placed(), charged(), reserved()))
        .expect_not_scheduled::<ShippingDeadline>()
        .advance_time(Duration::from_secs(7200))
        .expect_no_commands()
        .expect_running();
    assert_eq!(fixture.now_ms(), 7_200_000);
}

#[test]
fn lifecycle_rules_ignore_what_the_runtime_ignores() {
    Fixture::<Order>::new("o-1")
        .when(charged())
        .expect_ignored()
        .expect_no_commands();
    let event = EventEnvelope::new(placed());
    Fixture::<Order>::new("o-1")
        .given([event.clone()])
        .when(event)
        .expect_ignored();
    Fixture::<Order>::new("o-1")
        .given((placed(), OrderShipped { order_id: o1() }))
        .when(charged())
        .expect_ignored();
}

#[test]
fn a_failing_handler_leaves_the_state_and_parks() {
    Fixture::<Order>::new("o-1")
        .given([placed()])
        .when(Broken { order_id: o1() })
        .expect_handler_error(|e| {
            assert!(matches!(e, HandlerError::Returned(_)));
            assert!(e.to_string().contains("the ledger is closed"), "{e}");
        })
        .expect_state(|s| assert_eq!(s.amount, 40))
        .expect_status(InstanceStatus::Parked)
        .when(charged())
        .expect_ignored();
}

#[test]
#[should_panic(expected = "the commands differ")]
fn a_wrong_expectation_panics() {
    Fixture::<Order>::new("o-1")
        .when(placed())
        .expect_commands([ReserveStock { order_id: o1() }.into()]);
}

#[test]
fn the_failure_message_shows_expected_against_actual_commands() {
    let panic = std::panic::catch_unwind(|| {
        Fixture::<Order>::new("o-1")
            .given([placed()])
            .when(charged())
            .expect_commands([
                ReserveStock {
                    order_id: "o-2".into(),
                }
                .into(),
                ShipOrder { order_id: o1() }.into(),
            ]);
    })
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    let expected = "`order` instance `o-1`, after when `PaymentCharged`: the commands differ
  expected (2):
  > 1. ReserveStock {\"order_id\":\"o-2\"}
  > 2. ShipOrder {\"order_id\":\"o-1\"}
  actual (1):
  > 1. ReserveStock {\"order_id\":\"o-1\"}
";
    assert_eq!(message, expected);
}

#[test]
#[should_panic(expected = "correlates to [\"o-2\"], not to this instance `o-1`")]
fn an_event_for_another_instance_is_a_mistake_in_the_test() {
    Fixture::<Order>::new("o-1").when(OrderPlaced {
        order_id: "o-2".into(),
        amount: 1,
    });
}

#[test]
#[should_panic(
    expected = "no command `ShipOrder` is waiting to be sent; the outbox holds [\"ChargePayment\"]"
)]
fn failing_a_command_that_was_not_sent_names_the_outbox() {
    Fixture::<Order>::new("o-1")
        .given([placed()])
        .when_command_fails(ShipOrder::NAME, DispatchError::Rejected("x".into()));
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Picky {
    failures: u32,
}

#[process_manager(name = "picky", correlate = order_id, commands(ChargePayment, ShipOrder))]
impl Picky {
    #[start]
    fn placed(&mut self, e: &OrderPlaced) -> ChargePayment {
        ChargePayment {
            order_id: e.order_id.clone(),
            amount: e.amount,
        }
    }

    #[on_error]
    fn failed(&mut self, f: &CommandFailure) -> ErrorAction<PickyCommand> {
        self.failures += 1;
        if f.attempt < 2 {
            ErrorAction::Retry {
                after: Duration::from_millis(5),
            }
        } else {
            ErrorAction::Continue(vec![
                ShipOrder {
                    order_id: f.command.aggregate_id.clone(),
                }
                .into(),
            ])
        }
    }
}

#[test]
fn on_error_decides_and_continue_replaces_the_failed_command() {
    Fixture::<Picky>::new("o-1")
        .given([placed()])
        .when_command_keeps_failing(ChargePayment::NAME, DispatchError::Rejected("no".into()))
        .expect_commands([ShipOrder { order_id: o1() }.into()])
        .expect_state(|s| assert_eq!(s.failures, 2))
        .expect_running();
}

#[test]
fn an_envelope_picks_one_command_among_several_of_a_type() {
    let fixture = Fixture::<Order>::new("o-1").given((placed(), charged(), reserved()));
    let ship = fixture.commands()[0].clone();
    fixture
        .when_command_fails(&ship, DispatchError::Rejected("no truck".into()))
        .expect_compensation([
            ReleaseStock { order_id: o1() }.into(),
            RefundPayment {
                order_id: o1(),
                amount: 40,
            }
            .into(),
        ]);
}
