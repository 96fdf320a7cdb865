//! The sagas of the examples, in the library so their fixture tests (`tests/`) can use them.

pub mod bank_transfer;
pub mod order_fulfillment;
pub mod travel_booking;
